{#-
    A relation another part of Tessera writes (the sync engine's tables, the erasure tombstones), or an empty
    relation with its columns (`columns`: name -> type) when it does not exist yet, so a model can read it from the
    first build on.
-#}
{% macro optional_relation(schema, identifier, columns) -%}
    {%- set relation = adapter.get_relation(database=target.database, schema=schema, identifier=identifier)
        if execute else none -%}
    {%- if relation is none -%}
    (
        select
        {%- for name, type in columns.items() %}
            cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
        where false
    )
    {%- else -%}
    {{ relation }}
    {%- endif -%}
{%- endmacro %}
