{{ config(materialized='incremental') }}

{#- Append-only: every run adds the customer ids that new data merged into another this run. -#}

with moved as (

    select * from {{ ref('int_customer_ids_moved') }}

),

merged as (

    select
        previous_customer_id,
        customer_id,
        {{ dbt.current_timestamp() }} as merged_at,
        'new data linked it to an older customer (' || cast(identifiers_moved as {{ dbt.type_string() }})
        || ' identifiers moved)' as reason
    from moved
    where not is_previous_id_surviving

)

select *, {{ tessera.built_at() }} as _built_at from merged
