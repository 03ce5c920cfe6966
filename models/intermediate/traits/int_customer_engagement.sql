{#-
    How each customer engages, from their timeline (customer_events), as of int_traits_reference_time:
    - email opens and clicks, web page views and app screens in the last 30 days;
    - the preferred channel: of web, app and store, the one the customer was active on on the most distinct
      days in the last 90 days (ties: the one used most recently); null without such activity;
    - the last activity and the typical gap between active days, which churn_risk is made of: the span from
      the first to the last active day plus one prior gap (var `churn_default_days_between_activity`), over the
      number of active days. The prior keeps a burst of visits on consecutive days from making a one-day
      rhythm, and gives a customer seen on one day the default gap. Activity is what the person did (sessions,
      orders, store purchases, opening or clicking an email, contacting support), not what was done to them
      (an email delivered).
-#}

with events as (

    select * from {{ ref('customer_events') }}

),

reference_time as (

    select * from {{ ref('int_traits_reference_time') }}

),

activities as (

    select
        events.customer_id,
        events.source,
        events.event_type,
        events.occurred_at,
        case events.source
            when 'web_events' then 'web'
            when 'app_events' then 'app'
            when 'pos_transactions' then 'store'
        end as channel,
        cast(events.occurred_at as date) as active_on,
        events.occurred_at > {{ dbt.dateadd('day', -30, 'reference_time.as_of') }} as in_last_30_days,
        events.occurred_at > {{ dbt.dateadd('day', -90, 'reference_time.as_of') }} as in_last_90_days
    from events
    cross join reference_time
    where events.occurred_at <= reference_time.as_of
        and (events.source <> 'email_events' or events.event_type in ('Email Open', 'Email Click'))

),

windowed_counts as (

    select
        customer_id,
        {%- for trait, condition in [
            ('email_opens_30d', "event_type = 'Email Open'"),
            ('email_clicks_30d', "event_type = 'Email Click'"),
            ('web_page_views_30d', "source = 'web_events' and event_type = 'Page Viewed'"),
            ('app_screens_30d', "source = 'app_events' and event_type = 'Screen Viewed'"),
        ] %}
        sum(case when in_last_30_days and {{ condition }} then 1 else 0 end) as {{ trait }},
        {%- endfor %}
        max(occurred_at) as last_active_at,
        min(active_on) as first_active_on,
        max(active_on) as last_active_on,
        count(distinct active_on) as active_days
    from activities
    group by 1

),

channel_days as (

    select
        customer_id,
        channel,
        count(distinct active_on) as active_days,
        max(occurred_at) as last_used_at
    from activities
    where channel is not null and in_last_90_days
    group by 1, 2

),

preferred_channels as (

    {{ tessera.deduplicate('channel_days', 'customer_id', 'active_days desc, last_used_at desc, channel') }}

),

final as (

    select
        windowed_counts.customer_id,
        windowed_counts.email_opens_30d,
        windowed_counts.email_clicks_30d,
        windowed_counts.web_page_views_30d,
        windowed_counts.app_screens_30d,
        preferred_channels.channel as preferred_channel,
        windowed_counts.last_active_at,
        windowed_counts.active_days,
        (
            {{ dbt.datediff('windowed_counts.first_active_on', 'windowed_counts.last_active_on', 'day') }}
            + {{ var('churn_default_days_between_activity') }}
        ) / cast(windowed_counts.active_days as double precision) as typical_days_between_activity
    from windowed_counts
    left join preferred_channels on preferred_channels.customer_id = windowed_counts.customer_id

)

select * from final
