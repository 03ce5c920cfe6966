{#-
    The text at a JSON path ('$.context.device.id') of a JSON column, or null. Engine-specific, so dispatched:
    staging models read event payloads only through this macro.
-#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text', 'tessera')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
    json_value({{ column }}, '{{ path }}')
{%- endmacro %}

{% macro duckdb__json_text(column, path) -%}
    json_extract_string({{ column }}, '{{ path }}')
{%- endmacro %}

{% macro spark__json_text(column, path) -%}
    get_json_object({{ column }}, '{{ path }}')
{%- endmacro %}
