{#-
    Marks a common table expression to be inlined where each reference reads it: `with rows as {{ tessera.inlined() }}
    (select * from ...)`. DuckDB (2.x) copies a CTE read more than once into a buffer first, which for an import
    CTE over a table of millions of rows costs more than the query (and hides the filters each reference brings);
    PostgreSQL does the same. Spark inlines every CTE and knows no such keyword.
-#}
{% macro inlined() -%}
    {{ return(adapter.dispatch('inlined', 'tessera')()) }}
{%- endmacro %}

{% macro default__inlined() -%}
    not materialized
{%- endmacro %}

{% macro spark__inlined() -%}
{%- endmacro %}
