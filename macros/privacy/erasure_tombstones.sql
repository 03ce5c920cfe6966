{#-
    `raw._erasures`, the hashed identifiers of people whose records Tessera has removed (orchestration/privacy.py),
    or an empty relation of the same shape before the first removal: so the models can keep reporting a request
    whose records are gone, and recognise data that arrives later for the same person.
-#}
{% macro erasure_tombstones() -%}
    {{ tessera.optional_relation('raw', '_erasures', {
        'request_id': dbt.type_string(), 'customer_id': dbt.type_string(), 'identifier_type': dbt.type_string(),
        'identifier_hash': dbt.type_string(), 'erased_at': dbt.type_timestamp()}) }}
{%- endmacro %}
