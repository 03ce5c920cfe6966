{#- One row per segment: what it is, who owns it, what consent its members need, where it is defined. -#}

{%- set segments = tessera.segment_catalog() %}

with definitions as (

    {%- for segment in segments %}

    select
        '{{ segment.segment_name }}' as segment_name,
        '{{ segment.model_name }}' as model_name,
        '{{ segment.description | replace("'", "''") }}' as description,
        '{{ segment.owner | replace("'", "''") }}' as owner,
        '{{ segment.consent_purpose }}' as consent_purpose,
        '{{ segment.kind }}' as kind,
        '{{ segment.defined_in }}' as defined_in
    {{ "union all" if not loop.last }}
    {%- else %}

    select
        {%- for column in ['segment_name', 'model_name', 'description', 'owner', 'consent_purpose', 'kind', 'defined_in'] %}
        cast(null as {{ dbt.type_string() }}) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    where 1 = 0
    {%- endfor %}

)

select * from definitions
