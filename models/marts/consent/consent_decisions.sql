{#-
    The consent audit: every decision of the consent manager, the customer it reached and the identifier it
    came through, and whether it is the one in effect. An erased customer's decisions stay (the proof that
    consent was asked) without the identifier's value.
-#}

with decisions as (

    select * from {{ ref('int_consent_decisions_attributed') }}

),

privacy as (

    select * from {{ ref('int_customer_privacy') }}

),

final as (

    select
        decisions.consent_decision_id,
        decisions.customer_id,
        decisions.purpose,
        decisions.status,
        decisions.is_granted,
        decisions.decision_source,
        decisions.occurred_at,
        decisions.identifier_type,
        case when privacy.is_erased then null else decisions.identifier_value end as identifier_value,
        decisions.is_in_effect
    from decisions
    left join privacy on privacy.customer_id = decisions.customer_id

)

select * from final
