{#-
    One row per customer a CRM or email tool can hold: known by an email or a phone, not erased. Contact fields,
    the traits marketers filter on, consent flags and suppression (the sync engine keeps only rows with the
    sync's consent that are not suppressed).
-#}

with profiles as (

    select * from {{ ref('customer_profiles') }}

),

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        {%- for column in ['email', 'phone', 'first_name', 'last_name', 'city', 'postal_code', 'country',
                           'rfm_segment', 'preferred_channel', 'favourite_category'] %}
        cast({{ column }} as {{ dbt.type_string() }}) as {{ column }},
        {%- endfor %}
        cast(lifetime_value as decimal(14, 2)) as lifetime_value,
        cast(purchases_count as integer) as purchases_count,
        cast(churn_risk as decimal(4, 3)) as churn_risk,
        cast(last_active_at as {{ dbt.type_timestamp() }}) as last_active_at,
        {%- for purpose in var('consent_purposes') %}
        consent_{{ purpose }},
        {%- endfor %}
        is_suppressed
    from profiles
    where not is_erased and (email is not null or phone is not null)

)

select * from final
