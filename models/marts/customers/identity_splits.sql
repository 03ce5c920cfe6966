{{ config(materialized='incremental') }}

{#- Append-only: every run adds the customers that split off an existing one this run. -#}

with moved as (

    select * from {{ ref('int_customer_ids_moved') }}

),

split as (

    select
        previous_customer_id,
        customer_id,
        {{ dbt.current_timestamp() }} as split_at,
        'a link no longer holds (blocked value, limit or erasure): '
        || cast(identifiers_moved as {{ dbt.type_string() }}) || ' identifiers left for a new customer' as reason
    from moved
    where is_previous_id_surviving

)

select *, {{ tessera.built_at() }} as _built_at from split
