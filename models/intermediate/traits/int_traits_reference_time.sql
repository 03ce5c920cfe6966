{#-
    The moment every windowed trait and segment is computed as of ("in the last 30 days" ends here): the var
    `traits_as_of` when it is set (a timestamp, to recompute the past or pin a test), else the time of the newest
    event in the customers' timeline. The newest event rather than the clock keeps a warehouse whose feeds
    stopped, or a demo data set from last month, meaningful; on a warehouse fed every day the two are the same.
    Events, not records: a CRM export's update stamps can run ahead of what customers did.
-#}

with events as (

    select * from {{ ref('customer_events') }}

),

final as (

    {% if var('traits_as_of', none) -%}
    select cast('{{ var("traits_as_of") }}' as {{ dbt.type_timestamp() }}) as as_of
    {%- else -%}
    select cast(coalesce(max(occurred_at), {{ dbt.current_timestamp() }}) as {{ dbt.type_timestamp() }}) as as_of
    from events
    {%- endif %}

)

select * from final
