{#-
    A number for every identifier value ever seen, kept for good: the identity graph's node ids, stable from
    run to run so that the graph of one run can be compared with the last (incremental clustering) and a
    cluster keeps its name while nothing touches it.

    Incremental: a run numbers only the values first seen in the identifiers arrived since the last run, after
    the highest number so far. Each batch is numbered by its type's priority (seeds/identity_rules.csv), then
    value, so high-priority identifiers get the low numbers. (Clustering does not depend on the numbering: its
    contraction orders the nodes by a hash, so no order of arrival can make it stall.)

    Never renumbered, not even by `--full-refresh` (the incremental models downstream key their rows by these
    numbers); dropping the table renumbers, and then everything downstream needs `--full-refresh`.
-#}
{{ config(materialized='incremental', incremental_strategy='append', full_refresh=false) }}

with identifiers as (

    select * from {{ ref('int_identifiers_extracted') }}
    {{ tessera.arrived_since_last_run() }}

),

identity_rules as (

    select * from {{ ref('identity_rules') }}

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
        row_number() over (
            order by identity_rules.priority nulls last, new_values.identifier_type, new_values.identifier_value
        ) as node_id,
        new_values.identifier_type,
        new_values.identifier_value,
        new_values._loaded_at
    from new_values
    left join identity_rules on identity_rules.identifier_type = new_values.identifier_type

)

select *, {{ tessera.built_at() }} as _built_at from numbered
