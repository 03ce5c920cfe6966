{#-
    When this dbt invocation started, as a timestamp literal: every incremental model writes it as `_built_at`
    on each row it writes, so that a test can tell the rows of this build from the rest.
-#}
{% macro built_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#-
    In an incremental model, the newest value of `column` it holds, or 1900 when it holds none: the mark of what
    a run already took in (`_loaded_at`, `keyed_at`, `_built_at`). Read when the model runs and written into its
    SQL as a literal: a literal lets the engine skip, by the row groups' minimum and maximum, the history older
    than the mark, where a subquery makes it read every row (and every column the model selects) first.
-#}
{% macro newest_in_this(column) -%}
    {%- set newest -%}
        select coalesce(max({{ column }}), cast('1900-01-01' as {{ dbt.type_timestamp() }})) from {{ this }}
    {%- endset -%}
    {%- if execute -%}
    cast('{{ run_query(newest).columns[0].values()[0] }}' as {{ dbt.type_timestamp() }})
    {%- else -%}
    ({{ newest }})
    {%- endif -%}
{%- endmacro %}

{#-
    In an incremental model, when it last wrote: the newest `_built_at` it holds, or 1900 when it holds none (a
    table built before the stamps existed, whose first incremental run then takes everything as new).
-#}
{% macro last_built_at() -%}
    {%- if tessera.this_has_column('_built_at') -%}
    {{ tessera.newest_in_this('_built_at') }}
    {%- else -%}
    cast('1900-01-01' as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}

{#-
    Whether this incremental model's table has `column`: false for a table built by an earlier version, before
    the column was added (the run adds it, `on_schema_change: append_new_columns`, after the SQL is compiled).
-#}
{% macro this_has_column(column) -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list if execute else [] -%}
    {{- return(column in columns) -}}
{%- endmacro %}
