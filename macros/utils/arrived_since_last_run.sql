{#-
    In an incremental model, a `where` clause keeping the rows loaded after the newest `_loaded_at` already in
    the model (nothing on a first or full-refresh build). Lineage columns make this exact: a file's rows share
    its `_loaded_at`, and a file is loaded once.
-#}
{% macro arrived_since_last_run(loaded_at='_loaded_at') -%}
    {%- if is_incremental() -%}
    where {{ loaded_at }} > {{ tessera.newest_in_this(loaded_at) }}
    {%- endif -%}
{%- endmacro %}
