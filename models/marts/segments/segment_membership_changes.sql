{#-
    Append-only: who entered and who left each segment, stamped with the run. A run compares this build's
    members (int_segment_members_evaluated) with the members as of the last change recorded here, so a run
    where nothing changed records nothing, and a segment that is deleted sees all its members exit.
    History is kept through `--full-refresh` (full_refresh=false); only dropping the table starts it again.
-#}
{{ config(materialized='incremental', full_refresh=false) }}

with evaluated as {{ tessera.inlined() }} (

    select * from {{ ref('int_segment_members_evaluated') }}

),

{% if is_incremental() %}
changes_so_far as (

    select * from {{ this }}

),

latest_changes as (

    {{ tessera.deduplicate('changes_so_far', 'segment_name, customer_id', 'changed_at desc') }}

),

previous_members as (

    select segment_name, customer_id from latest_changes where change = 'entered'

),
{% else %}
previous_members as (

    select segment_name, customer_id from evaluated where 1 = 0

),
{% endif %}

entered as (

    select evaluated.segment_name, evaluated.customer_id
    from evaluated
    left join previous_members
        on previous_members.segment_name = evaluated.segment_name
        and previous_members.customer_id = evaluated.customer_id
    where previous_members.customer_id is null

),

exited as (

    select previous_members.segment_name, previous_members.customer_id
    from previous_members
    left join evaluated
        on evaluated.segment_name = previous_members.segment_name
        and evaluated.customer_id = previous_members.customer_id
    where evaluated.customer_id is null

),

final as (

    select
        segment_name,
        customer_id,
        change,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }}) as changed_at,
        '{{ invocation_id }}' as run_id
    from (
        select segment_name, customer_id, 'entered' as change from entered
        union all
        select segment_name, customer_id, 'exited' as change from exited
    ) as changes

)

select *, {{ tessera.built_at() }} as _built_at from final
