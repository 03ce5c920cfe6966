{#-
    Every identifiable source record with its key: the record's highest-priority linkable identifier. A record
    links each of its other identifiers to its key (a star), and the record belongs to the customer its key
    belongs to. Records whose identifiers are all blocked are not identifiable and do not appear.
-#}

with identifiers as (

    select * from {{ ref('int_identifiers_extracted') }}

),

nodes as (

    select * from {{ ref('int_identity_nodes_numbered') }}

),

record_nodes as (

    select
        identifiers.source,
        identifiers.source_record_id,
        identifiers.occurred_at,
        nodes.node_id,
        nodes.priority
    from identifiers
    inner join nodes
        on nodes.identifier_type = identifiers.identifier_type
        and nodes.identifier_value = identifiers.identifier_value

),

keyed as (

    select
        record_nodes.*,
        first_value(node_id) over (
            partition by source, source_record_id order by priority, node_id
            rows between unbounded preceding and unbounded following
        ) as key_node_id
    from record_nodes

)

select * from keyed
