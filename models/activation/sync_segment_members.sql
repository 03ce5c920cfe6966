{#-
    One row per segment and current member, with what a destination needs to reach them: the contact fields of
    the golden record, the consent flags and suppression (the sync engine checks them again before sending).
    Erased customers are never members, and have no contact fields anyway.
-#}

with memberships as (

    select * from {{ ref('segment_memberships') }}

),

profiles as (

    select * from {{ ref('customer_profiles') }}

),

final as (

    select
        cast(memberships.segment_name || ':' || memberships.customer_id as {{ dbt.type_string() }}) as membership_id,
        cast(memberships.segment_name as {{ dbt.type_string() }}) as segment_name,
        cast(memberships.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(memberships.entered_at as {{ dbt.type_timestamp() }}) as entered_at,
        {%- for column in ['email', 'phone', 'first_name', 'last_name', 'city', 'postal_code', 'country'] %}
        cast(profiles.{{ column }} as {{ dbt.type_string() }}) as {{ column }},
        {%- endfor %}
        {%- for purpose in var('consent_purposes') %}
        profiles.consent_{{ purpose }},
        {%- endfor %}
        profiles.is_suppressed
    from memberships
    inner join profiles on profiles.customer_id = memberships.customer_id

)

select * from final
