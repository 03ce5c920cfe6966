{{ config(materialized='incremental') }}

{#- Append-only: every run adds the customers that split off an existing one this run. -#}

with customer_ids as (

    select * from {{ ref('int_customer_ids_assigned') }}

),

surviving_ids as (

    select distinct customer_id from customer_ids

),

moved as (

    select
        previous_customer_id,
        customer_id,
        count(*) as identifiers_moved
    from customer_ids
    where previous_customer_id is not null and previous_customer_id <> customer_id
    group by 1, 2

),

split as (

    select
        moved.previous_customer_id,
        moved.customer_id,
        {{ dbt.current_timestamp() }} as split_at,
        'a link no longer holds (blocked value, limit or erasure): ' || cast(moved.identifiers_moved as {{ dbt.type_string() }})
        || ' identifiers left for a new customer' as reason
    from moved
    inner join surviving_ids on surviving_ids.customer_id = moved.previous_customer_id

)

select * from split
