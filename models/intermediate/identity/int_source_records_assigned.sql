{#- Every identifiable source record with its customer: the customer its key identifier belongs to. -#}

with records as (

    select * from {{ ref('int_identity_records_keyed') }}

),

nodes as (

    select * from {{ ref('int_identity_nodes_numbered') }}

),

customer_ids as (

    select * from {{ ref('int_customer_ids_assigned') }}

),

record_keys as (

    select distinct source, source_record_id, occurred_at, key_node_id
    from records

),

assigned as (

    select
        record_keys.source,
        record_keys.source_record_id,
        record_keys.occurred_at,
        customer_ids.customer_id
    from record_keys
    inner join nodes on nodes.node_id = record_keys.key_node_id
    inner join customer_ids
        on customer_ids.identifier_type = nodes.identifier_type
        and customer_ids.identifier_value = nodes.identifier_value

)

select * from assigned
