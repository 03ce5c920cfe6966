{#-
    Every identifiable source record with its key: the record's highest-priority linkable identifier, else (it
    holds only values that link nothing) its highest-priority node. A record links each of its other linkable
    identifiers to its key (a star), and the record belongs to the customer its key belongs to. Records whose
    identifiers are all blocked by a rule are not identifiable and do not appear.

    Incremental: a run keys again only the records that arrived since the last one, those holding a value that
    stopped being a node (newly blocked) or whose priority changed, and those holding a value that became a
    node again (unblocked); the post-hook removes the records left with no linkable identifier.
-#}
{{ config(
    materialized='incremental',
    unique_key=['source', 'source_record_id'],
    incremental_strategy='delete+insert',
    post_hook="delete from {{ this }} where node_id not in (select node_id from {{ ref('int_identity_nodes_numbered') }})",
) }}

with identifiers as (

    select * from {{ ref('int_identifiers_extracted') }}

),

nodes as (

    select * from {{ ref('int_identity_nodes_numbered') }}

),

{% if is_incremental() %}
records_to_key as (

    select source, source_record_id from identifiers
    {{ tessera.arrived_since_last_run() }}

    union

    select keyed.source, keyed.source_record_id
    from {{ this }} as keyed
    left join nodes on nodes.node_id = keyed.node_id
    where nodes.node_id is null or nodes.priority <> keyed.priority or nodes.links <> keyed.links

    union

    select identifiers.source, identifiers.source_record_id
    from nodes
    inner join identifiers
        on identifiers.identifier_type = nodes.identifier_type
        and identifiers.identifier_value = nodes.identifier_value
    where nodes.node_id not in (select node_id from {{ this }})

),
{% endif %}

record_nodes as (

    select
        identifiers.source,
        identifiers.source_record_id,
        identifiers.occurred_at,
        identifiers._loaded_at,
        nodes.node_id,
        nodes.priority,
        nodes.links
    from identifiers
    {%- if is_incremental() %}
    inner join records_to_key
        on records_to_key.source = identifiers.source
        and records_to_key.source_record_id = identifiers.source_record_id
    {%- endif %}
    inner join nodes
        on nodes.identifier_type = identifiers.identifier_type
        and nodes.identifier_value = identifiers.identifier_value

),

keyed as (

    select
        record_nodes.*,
        first_value(node_id) over (
            partition by source, source_record_id order by case when links then 0 else 1 end, priority, node_id
            rows between unbounded preceding and unbounded following
        ) as key_node_id,
        {{ dbt.current_timestamp() }} as keyed_at
    from record_nodes

)

select *, {{ tessera.built_at() }} as _built_at from keyed
