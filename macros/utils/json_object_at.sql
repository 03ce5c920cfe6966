{#- The JSON object or array at a path of a JSON column, as JSON (e.g. Segment `properties`), or null. -#}
{% macro json_object_at(column, path) -%}
    {{ return(adapter.dispatch('json_object_at', 'tessera')(column, path)) }}
{%- endmacro %}

{% macro default__json_object_at(column, path) -%}
    json_query({{ column }}, '{{ path }}')
{%- endmacro %}

{% macro duckdb__json_object_at(column, path) -%}
    json_extract({{ column }}, '{{ path }}')
{%- endmacro %}

{% macro spark__json_object_at(column, path) -%}
    get_json_object({{ column }}, '{{ path }}')
{%- endmacro %}
