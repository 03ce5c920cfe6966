{#- The identity graph's edges: each record's key linked to each of its identifiers that link (itself included). -#}

with records as (

    select * from {{ ref('int_identity_records_keyed') }}

),

edges as (

    select distinct key_node_id as node_a, node_id as node_b
    from records
    where links or node_id = key_node_id

)

select * from edges
