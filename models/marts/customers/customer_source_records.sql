{#-
    Every identifiable source record and its customer; an erased customer's records are left out.

    Incremental: a run writes only the records (re)assigned since the last one (new, or moved by a merge or a
    split); the post-hook removes the records that are no longer identifiable and those of customers erased
    since.
-#}
{{ config(
    materialized='incremental',
    unique_key=['source', 'source_record_id'],
    incremental_strategy='delete+insert',
    post_hook="{{ tessera.delete_unassigned_and_erased() }}",
) }}

with assigned as (

    select * from {{ ref('int_source_records_assigned') }}
    {{ tessera.arrived_since_last_run('assigned_at') }}

),

privacy as (

    select * from {{ ref('int_customer_privacy') }}

),

final as (

    select assigned.source, assigned.source_record_id, assigned.customer_id, assigned.assigned_at
    from assigned
    left join privacy on privacy.customer_id = assigned.customer_id
    where not coalesce(privacy.is_erased, false)

)

select *, {{ tessera.built_at() }} as _built_at from final
