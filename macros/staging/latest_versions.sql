{#-
    The latest version of each `key` in `relation`, for a source whose records are exported again as they change
    (contacts, orders, members, tickets), staged incrementally. On an incremental run `relation` holds only the
    newly loaded rows (`accepted_rows(..., new_only=true)`) and the versions already staged of the same keys
    compete with them, so a run parses and normalises only the new files, and rewrites only the records they
    hold (delete+insert on `key`). The versions compete on the staged table's columns: a column added to the
    model reaches the table with `--full-refresh` of it.
-#}
{% macro latest_versions(relation, key, order_by) -%}
    {%- if is_incremental() -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name')
        | reject('equalto', '_built_at') | join(', ') -%}
    {%- set versions -%}
    (
        select {{ columns }} from {{ relation }}
        union all
        select {{ columns }} from {{ this }} as staged
        where staged.{{ key }} in (select {{ key }} from {{ relation }})
    ) as versions
    {%- endset -%}
    {{ tessera.deduplicate(versions, key, order_by) }}
    {%- else -%}
    {{ tessera.deduplicate(relation, key, order_by) }}
    {%- endif -%}
{%- endmacro %}
