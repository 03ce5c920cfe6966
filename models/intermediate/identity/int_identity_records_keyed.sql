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

with identifiers as {{ tessera.inlined() }} (

    select * from {{ ref('int_identifiers_extracted') }}

),

nodes as {{ tessera.inlined() }} (

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
    from identifiers
    inner join nodes
        on nodes.identifier_type = identifiers.identifier_type
        and nodes.identifier_value = identifiers.identifier_value
    where not exists (select 1 from {{ this }} as keyed where keyed.node_id = nodes.node_id)

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
    {%- if is_incremental() %}
    {#- A filter of its own rather than a join, so that the records to key are picked before their identifiers
        meet the nodes: the planner cannot tell that they are few, and would join every identifier first. #}
    from (
        select * from identifiers
        where exists (
            select 1 from records_to_key
            where records_to_key.source = identifiers.source
                and records_to_key.source_record_id = identifiers.source_record_id
        )
    ) as identifiers
    {%- else %}
    from identifiers
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
