{#-
    Every consent decision with the customer it belongs to and the identifier it came through: the decision's
    highest-priority linkable identifier (the one that placed the record in the identity graph). A decision
    whose identifiers are all blocked or empty belongs to nobody (customer_id null) and grants nothing.

    The decision in effect for a customer and purpose is the most recent of all the decisions that reached the
    customer, through any of their identifiers (a banner's choice on a cookie, a withdrawal through the
    preference centre by email). Two decisions at the same moment: a refusal wins over a grant.
-#}

with decisions as (

    select * from {{ ref('stg_consent__decisions') }}

),

records as (

    select * from {{ ref('int_source_records_assigned') }}

),

record_keys as (

    select distinct source, source_record_id, key_node_id
    from {{ ref('int_identity_records_keyed') }}
    where source = 'consent_events'

),

nodes as (

    select * from {{ ref('int_identity_nodes_numbered') }}

),

attributed as (

    select
        decisions.consent_decision_id,
        records.customer_id,
        decisions.purpose,
        decisions.status,
        decisions.status = 'granted' as is_granted,
        decisions.decision_source,
        decisions.occurred_at,
        nodes.identifier_type,
        nodes.identifier_value,
        decisions._loaded_at
    from decisions
    left join records
        on records.source = 'consent_events' and records.source_record_id = decisions.consent_decision_id
    left join record_keys on record_keys.source_record_id = decisions.consent_decision_id
    left join nodes on nodes.node_id = record_keys.key_node_id

),

final as (

    select
        *,
        customer_id is not null and row_number() over (
            partition by customer_id, purpose
            order by occurred_at desc, case when is_granted then 1 else 0 end, consent_decision_id
        ) = 1 as is_in_effect
    from attributed

)

select * from final
