{#- One row per element of an array column, as a select-list expression: `select id, {{ explode('items') }} as item`. -#}
{% macro explode(column) -%}
    {{ return(adapter.dispatch('explode', 'tessera')(column)) }}
{%- endmacro %}

{% macro default__explode(column) -%}
    unnest({{ column }})
{%- endmacro %}

{% macro spark__explode(column) -%}
    explode({{ column }})
{%- endmacro %}
