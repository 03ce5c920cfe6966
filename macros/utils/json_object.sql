{#- A JSON object from alternating keys and SQL expressions: json_object(['order_id', 'order_id', ...]). -#}
{% macro json_object(pairs) -%}
    {{ return(adapter.dispatch('json_object', 'tessera')(pairs)) }}
{%- endmacro %}

{% macro default__json_object(pairs) -%}
    json_object(
        {%- for key, expression in pairs | batch(2) -%}
        '{{ key }}', {{ expression }}{{ ", " if not loop.last }}
        {%- endfor -%}
    )
{%- endmacro %}

{% macro postgres__json_object(pairs) -%}
    json_build_object(
        {%- for key, expression in pairs | batch(2) -%}
        '{{ key }}', {{ expression }}{{ ", " if not loop.last }}
        {%- endfor -%}
    )
{%- endmacro %}

{% macro spark__json_object(pairs) -%}
    to_json(named_struct(
        {%- for key, expression in pairs | batch(2) -%}
        '{{ key }}', {{ expression }}{{ ", " if not loop.last }}
        {%- endfor -%}
    ))
{%- endmacro %}
