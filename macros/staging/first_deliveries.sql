{#-
    The first delivery of each `key` in `relation`, for an append-only source (events, transactions,
    requests) staged incrementally: a re-delivered record never replaces the first. On an incremental run
    `relation` holds only the newly loaded rows (`arrived_since_last_run` on the source), and the keys already
    staged are left out, so a run parses and stages only the new files.
-#}
{% macro first_deliveries(relation, key) -%}
    select *
    from ({{ tessera.deduplicate(relation, key, '_loaded_at, _file, _line') }}) as first_deliveries
    {%- if is_incremental() %}
    where not exists (select 1 from {{ this }} as staged where staged.{{ key }} = first_deliveries.{{ key }})
    {%- endif %}
{%- endmacro %}
