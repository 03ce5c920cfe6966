{#-
    `raw._erasures`, the hashed identifiers of people whose records Tessera has removed (orchestration/privacy.py),
    or an empty relation of the same shape before the first removal: so the models can keep reporting a request
    whose records are gone, and recognise data that arrives later for the same person.
-#}
{% macro erasure_tombstones() -%}
    {%- set tombstones = adapter.get_relation(database=target.database, schema='raw', identifier='_erasures')
        if execute else none -%}
    {%- if tombstones is none -%}
    (
        select
            cast(null as {{ dbt.type_string() }}) as request_id,
            cast(null as {{ dbt.type_string() }}) as customer_id,
            cast(null as {{ dbt.type_string() }}) as identifier_type,
            cast(null as {{ dbt.type_string() }}) as identifier_hash,
            cast(null as {{ dbt.type_timestamp() }}) as erased_at
        where false
    )
    {%- else -%}
    {{ tombstones }}
    {%- endif -%}
{%- endmacro %}
