{#-
    The rows of a lookup seed, read when the model runs, for macros that turn a seed into SQL (a CASE per
    country or store) so that staging needs no join. At parse time it calls `ref`, so dbt builds the seed before
    any model that uses it, and returns no rows. When the model runs it reads the seed's table by name (seeds
    build in schema `staging`, see dbt_project.yml) rather than through `ref`, so that unit tests, where `ref`
    means a fixture, read the real lookup table too.
-#}
{% macro lookup_rows(seed_name, order_by) -%}
    {%- if not execute -%}
        {%- do ref(seed_name) -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set schema = generate_schema_name('staging', none) | trim -%}
    {%- set relation = api.Relation.create(database=target.database, schema=schema, identifier=seed_name) -%}
    {%- set result = run_query("select * from " ~ relation ~ " order by " ~ order_by) -%}
    {{ return(result.rows) }}
{%- endmacro %}
