{#-
    A number for every identifier value ever seen, kept for good: the identity graph's node ids, stable from
    run to run so that the graph of one run can be compared with the last (incremental clustering) and a
    cluster keeps its name while nothing touches it.

    Incremental: a run numbers only the values first seen in the identifiers arrived since the last run, after
    the highest number so far. On the first run (or a full refresh, which renumbers everything) values are
    numbered by type, then value.
-#}
{{ config(materialized='incremental', incremental_strategy='append') }}

with identifiers as (

    select * from {{ ref('int_identifiers_extracted') }}
    {{ tessera.arrived_since_last_run() }}

),

new_values as (

    select identifier_type, identifier_value, min(_loaded_at) as _loaded_at
    from identifiers
    {%- if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as numbered
        where numbered.identifier_type = identifiers.identifier_type
            and numbered.identifier_value = identifiers.identifier_value
    )
    {%- endif %}
    group by 1, 2

),

numbered as (

    select
        {% if is_incremental() -%}
        (select coalesce(max(node_id), 0) from {{ this }}) +
        {% endif -%}
        row_number() over (order by identifier_type, identifier_value) as node_id,
        identifier_type,
        identifier_value,
        _loaded_at
    from new_values

)

select * from numbered
