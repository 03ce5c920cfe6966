{#- A checksum of a set of rows' keys: the sum of a 64-bit hash of the `columns` (a list) over the rows, null for no
    row. Dispatched: each engine's own hash. -#}
{% macro key_checksum(columns) -%}
    {{ return(adapter.dispatch('key_checksum', 'tessera')(columns)) }}
{%- endmacro %}

{% macro default__key_checksum(columns) -%}
    sum(cast(hashtextextended({{ columns | join(" || '|' || ") }}, 0) as numeric))
{%- endmacro %}

{% macro duckdb__key_checksum(columns) -%}
    sum(cast(hash({{ columns | join(', ') }}) as hugeint))
{%- endmacro %}

{% macro spark__key_checksum(columns) -%}
    sum(cast(xxhash64({{ columns | join(', ') }}) as decimal(38, 0)))
{%- endmacro %}
