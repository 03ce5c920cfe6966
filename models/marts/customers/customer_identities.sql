{#- Every identifier of every customer, but those of erased customers. -#}

with customer_ids as (

    select * from {{ ref('int_customer_ids_assigned') }}

),

privacy as (

    select * from {{ ref('int_customer_privacy') }}

),

nodes as (

    select * from {{ ref('int_identity_nodes_numbered') }}

),

final as (

    select
        customer_ids.customer_id,
        customer_ids.identifier_type,
        customer_ids.identifier_value,
        nodes.first_seen_at,
        nodes.last_seen_at,
        nodes.record_count
    from customer_ids
    inner join nodes
        on nodes.identifier_type = customer_ids.identifier_type
        and nodes.identifier_value = customer_ids.identifier_value
    left join privacy on privacy.customer_id = customer_ids.customer_id
    where not coalesce(privacy.is_erased, false)

)

select * from final
