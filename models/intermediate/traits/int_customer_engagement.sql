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

    Incremental per customer, like int_profile_attributes_ranked: a run computes again the customers it touched
    (`customers_touched`) and those whose windows the reference time's move carried across an event: an event
    that left the 30- or 90-day window, or that the new reference time reaches (it finds them by the events'
    times alone, and reads only those customers' timelines). Each row keeps the reference time and the prior gap
    it was computed with (`_as_of`, `_default_gap_days`); a reference time moved back, or a changed prior,
    computes everyone again. A touched customer left without activity gets an empty row that the post-hook drops.
-#}
{{ config(
    materialized='incremental',
    unique_key='customer_id',
    incremental_strategy='delete+insert',
    post_hook="delete from {{ this }} where active_days is null",
) }}

-- depends_on: {{ ref('int_source_records_assigned') }}
-- depends_on: {{ ref('identity_merges') }}
-- depends_on: {{ ref('identity_splits') }}
-- depends_on: {{ ref('int_customer_privacy') }}

{%- set default_gap = var('churn_default_days_between_activity') %}

with reference_time as (

    select * from {{ ref('int_traits_reference_time') }}

),

{% if is_incremental() %}
{#- A table built before these columns (or empty) holds no reference time: everyone is computed again. -#}
computed_before as (

    {% if tessera.this_has_column('_as_of') -%}
    select max(_as_of) as as_of, max(_default_gap_days) as default_gap_days from {{ this }}
    {%- else -%}
    select cast(null as {{ dbt.type_timestamp() }}) as as_of, cast(null as {{ dbt.type_int() }}) as default_gap_days
    {%- endif %}

),

{#- The reference time moved from `computed_before.as_of` to `reference_time.as_of`: the customers with an
    event in a stretch of time that a window's start or end swept over; everyone when there is no earlier
    reference time, it moved back, or the prior gap changed. -#}
{%- set swept -%}
    {%- for days in [0, 30, 90] %}
    (events.occurred_at > {{ dbt.dateadd('day', -days, 'computed_before.as_of') }}
        and events.occurred_at <= {{ dbt.dateadd('day', -days, 'reference_time.as_of') }})
    {{- " or" if not loop.last }}
    {%- endfor %}
{%- endset %}

touched as (

    {{ tessera.customers_touched() }}

    union

    {#- An erased customer's records leave without touching anyone: their row goes (their events are gone). #}
    select customer_id from {{ ref('int_customer_privacy') }} where is_erased

    union

    select events.customer_id
    from {{ ref('customer_events') }} as events
    cross join computed_before
    cross join reference_time
    where computed_before.as_of is null
        or reference_time.as_of < computed_before.as_of
        or computed_before.default_gap_days <> {{ default_gap }}
        or {{ swept }}

),

events as (

    select * from {{ ref('customer_events') }}
    where customer_id in (select customer_id from touched)

),
{% else %}
events as (

    select * from {{ ref('customer_events') }}

),
{% endif %}

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
            + {{ default_gap }}
        ) / cast(windowed_counts.active_days as double precision) as typical_days_between_activity
    from windowed_counts
    left join preferred_channels on preferred_channels.customer_id = windowed_counts.customer_id
    {%- if is_incremental() %}

    union all

    {#- An empty row for each touched customer: the one of a customer left without activity stays empty. #}
    select
        customer_id,
        {%- for _ in range(4) %}
        cast(null as {{ dbt.type_bigint() }}),
        {%- endfor %}
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_timestamp() }}),
        cast(null as {{ dbt.type_bigint() }}),
        cast(null as double precision)
    from touched
    {%- endif %}

)

select
    final.*,
    reference_time.as_of as _as_of,
    {{ default_gap }} as _default_gap_days,
    {{ tessera.built_at() }} as _built_at
from final
cross join reference_time
