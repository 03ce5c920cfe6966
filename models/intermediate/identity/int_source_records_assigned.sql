{#-
    Every identifiable source record with its customer: the customer its key identifier belongs to.

    Incremental: a run assigns again only the records keyed since the last one and those whose key's customer
    changed (a merge, a split); the post-hook removes the records whose key stopped being a node and that were
    not keyed again (no linkable identifier left).
-#}
{{ config(
    materialized='incremental',
    unique_key=['source', 'source_record_id'],
    incremental_strategy='delete+insert',
    post_hook="delete from {{ this }} where key_node_id not in (select node_id from {{ ref('int_identity_nodes_numbered') }})",
) }}

with records as (

    select * from {{ ref('int_identity_records_keyed') }}

),

nodes as (

    select * from {{ ref('int_identity_nodes_numbered') }}

),

customer_ids as (

    select * from {{ ref('int_customer_ids_assigned') }}

),

key_customers as (

    select nodes.node_id, customer_ids.customer_id
    from nodes
    inner join customer_ids
        on customer_ids.identifier_type = nodes.identifier_type
        and customer_ids.identifier_value = nodes.identifier_value

),

rekeyed as (

    select distinct source, source_record_id, occurred_at, key_node_id, keyed_at
    from records
    {{ tessera.arrived_since_last_run('keyed_at') }}

),

record_keys as (

    select * from rekeyed
    {%- if is_incremental() %}

    union all

    select assigned.source, assigned.source_record_id, assigned.occurred_at, assigned.key_node_id, assigned.keyed_at
    from {{ this }} as assigned
    inner join key_customers on key_customers.node_id = assigned.key_node_id
    where key_customers.customer_id <> assigned.customer_id
        and not exists (
            select 1 from rekeyed
            where rekeyed.source = assigned.source and rekeyed.source_record_id = assigned.source_record_id
        )
    {%- endif %}

),

assigned as (

    select
        record_keys.source,
        record_keys.source_record_id,
        record_keys.occurred_at,
        key_customers.customer_id,
        record_keys.key_node_id,
        record_keys.keyed_at,
        {{ dbt.current_timestamp() }} as assigned_at
    from record_keys
    inner join key_customers on key_customers.node_id = record_keys.key_node_id

)

select *, {{ tessera.built_at() }} as _built_at from assigned
