{{ config(materialized='incremental') }}

{#- Append-only: every run adds the customer ids that new data merged into another this run. -#}

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

merged as (

    select
        moved.previous_customer_id,
        moved.customer_id,
        {{ dbt.current_timestamp() }} as merged_at,
        'new data linked it to an older customer (' || cast(moved.identifiers_moved as {{ dbt.type_string() }})
        || ' identifiers moved)' as reason
    from moved
    left join surviving_ids on surviving_ids.customer_id = moved.previous_customer_id
    where surviving_ids.customer_id is null

)

select * from merged
