{#-
    This run's members of every segment, SQL or declared, as activation may use them: only customers who are
    not suppressed (nor erased) and who granted the segment's consent purpose. One row per segment and member.
-#}

{%- set segments = tessera.segment_catalog() %}

with profiles as (

    select * from {{ ref('customer_profiles') }}

),

members as (

    {%- for segment in segments %}

    select distinct '{{ segment.segment_name }}' as segment_name, segment.customer_id
    from {{ ref(segment.model_name) }} as segment
    inner join profiles on profiles.customer_id = segment.customer_id
    where not profiles.is_suppressed
        {%- if segment.consent_purpose != 'none' %}
        and profiles.consent_{{ segment.consent_purpose }}
        {%- endif %}
    {{ "union all" if not loop.last }}
    {%- else %}

    select
        cast(null as {{ dbt.type_string() }}) as segment_name,
        cast(null as {{ dbt.type_string() }}) as customer_id
    where 1 = 0
    {%- endfor %}

)

select * from members
