{#-
    Tests that scale with the change. A generic test on an incremental model reads the rows its latest build
    wrote (those with the newest `_built_at`, the start of the dbt invocation that wrote them): the rows it
    checks one by one (not_null, accepted_values, relationships) are exactly those; a uniqueness test (unique,
    unique_combination) reads every row that shares a key with one of them, so a new row that repeats an old key
    still fails it. A build that wrote nothing to a model tests its previous batch again. A test's own `where`
    still applies. Tests on tables (rebuilt whole every run) and singular tests read everything.

    The whole-table versions run with `--vars '{full_checks: true}'` (`tessera run --full-checks`, and the
    weekly `full_checks` schedule): what scoping cannot see is a row no build wrote lately that a change
    elsewhere broke (a relationship whose parent went away), and that they catch.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set written = tessera.rows_the_latest_build_wrote(relation) -%}
    {%- if not where and not written -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set conditions = [] -%}
    {%- if where %}{% do conditions.append('(' ~ where ~ ')') %}{% endif -%}
    {%- if written %}{% do conditions.append(written) %}{% endif -%}
    {%- set filtered -%}
        (select * from {{ relation }} as tested where {{ conditions | join(' and ') }}) dbt_subquery
    {%- endset -%}
    {{ return(filtered) }}
{%- endmacro %}

{#-
    The condition that keeps the rows of `relation` (an incremental model under a generic test) its latest build
    wrote, or the rows sharing a key with them for a uniqueness test; none when the test reads the whole table.
-#}
{% macro rows_the_latest_build_wrote(relation) -%}
    {%- if not execute or var('full_checks', false) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set tested = graph.nodes.get(model.get('attached_node') or '') -%}
    {%- if not tested or tested.config.materialized != 'incremental' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set latest = "(select max(_built_at) from " ~ relation ~ ")" -%}
    {%- set test = model.get('test_metadata') or {} -%}
    {%- set kwargs = test.get('kwargs', {}) -%}
    {%- set keys = {'unique': [kwargs.get('column_name')], 'unique_combination': kwargs.get('columns')}.get(test.get('name')) -%}
    {%- if not keys -%}
        {{ return("tested._built_at = " ~ latest) }}
    {%- endif -%}
    {%- set same_key -%}
        exists (
            select 1 from {{ relation }} as written
            where written._built_at = {{ latest }}
            {%- for key in keys %}
                and written.{{ key }} = tested.{{ key }}
            {%- endfor %}
        )
    {%- endset -%}
    {{ return(same_key) }}
{%- endmacro %}
