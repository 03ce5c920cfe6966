{#-
    Tessera's schemas are named exactly as the warehouse contract says (raw, staging, intermediate, marts,
    activation): a folder's `+schema` is used as is, without dbt's default `<target schema>_` prefix, so every
    tool that reads the marts finds them under the same name on every target.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
