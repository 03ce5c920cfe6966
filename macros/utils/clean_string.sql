{#- A raw text value as staging keeps it: surrounding whitespace removed, empty strings as null. -#}
{% macro clean_string(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}
