{#-
    Each customer's consent per purpose (var `consent_purposes`): granted only when the decision in effect
    (int_consent_decisions_attributed) grants it. No decision is no consent: customers missing here, or
    missing a purpose, have not consented.
-#}

with decisions as (

    select * from {{ ref('int_consent_decisions_attributed') }}
    where is_in_effect

),

final as (

    select
        customer_id,
        {%- for purpose in var('consent_purposes') %}
        coalesce(max(case when purpose = '{{ purpose }}' then is_granted end), false) as consent_{{ purpose }},
        max(case when purpose = '{{ purpose }}' then occurred_at end) as consent_{{ purpose }}_at
        {{- "," if not loop.last }}
        {%- endfor %}
    from decisions
    group by 1

)

select * from final
