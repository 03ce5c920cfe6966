{#- `segment_metadata` of every segment model, in `segment_models()` order: what the segment models iterate. -#}
{% macro segment_catalog() -%}
    {%- set segments = [] -%}
    {%- for model_name in tessera.segment_models() -%}
        {%- do segments.append(tessera.segment_metadata(model_name)) -%}
    {%- endfor -%}
    {{ return(segments) }}
{%- endmacro %}
