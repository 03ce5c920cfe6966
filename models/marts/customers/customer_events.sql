{#-
    One timeline per customer across web, app, orders, stores, email and support.

    Incremental: events never change, but their customer can. A run adds the events loaded since the last one,
    moves to their new customer the events whose record changed customer (a merge or a split: the records
    int_source_records_assigned wrote since this model last did), and deletes the events whose record no longer
    belongs to anyone, and those of erased customers (post-hook).
-#}
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    post_hook="{{ tessera.delete_unassigned_and_erased('event_id') }}",
) }}

-- depends_on: {{ ref('int_customer_privacy') }}

with records as {{ tessera.inlined() }} (

    select * from {{ ref('int_source_records_assigned') }}

),

segment_events as (

    select 'web_events' as source, * from {{ ref('stg_web__events') }} {{ tessera.arrived_since_last_run() }}
    union all
    select 'app_events' as source, * from {{ ref('stg_app__events') }} {{ tessera.arrived_since_last_run() }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}
    {{ tessera.arrived_since_last_run() }}

),

pos_transactions as (

    select * from {{ ref('stg_pos__transactions') }}
    {{ tessera.arrived_since_last_run() }}

),

email_events as (

    select * from {{ ref('stg_esp__email_events') }}
    {{ tessera.arrived_since_last_run() }}

),

support_tickets as (

    select * from {{ ref('stg_helpdesk__tickets') }}
    {{ tessera.arrived_since_last_run() }}

),

events as (

    select
        message_id as event_id,
        source,
        case event_type
            when 'track' then event_name
            when 'page' then 'Page Viewed'
            when 'screen' then 'Screen Viewed'
            when 'identify' then 'Identified'
            when 'alias' then 'Aliased'
            else event_type
        end as event_type,
        occurred_at,
        cast(properties as {{ dbt.type_string() }}) as properties,
        _loaded_at
    from segment_events

    union all

    select
        order_id,
        'orders',
        'Order Placed',
        created_at,
        cast({{ tessera.json_object(['order_id', 'order_id', 'status', 'status', 'currency', 'currency',
            'total', 'total', 'line_items', 'line_items']) }} as {{ dbt.type_string() }}),
        _loaded_at
    from orders

    union all

    select
        transaction_id,
        'pos_transactions',
        'Store Purchase',
        occurred_at,
        cast({{ tessera.json_object(['store_id', 'store_id', 'total', 'total_amount', 'currency', 'currency',
            'item_count', 'item_count', 'payment_method', 'payment_method']) }} as {{ dbt.type_string() }}),
        _loaded_at
    from pos_transactions

    union all

    select
        email_event_id,
        'email_events',
        'Email ' || upper(substr(event_type, 1, 1)) || substr(event_type, 2),
        occurred_at,
        cast({{ tessera.json_object(['campaign_id', 'campaign_id', 'url', 'clicked_url', 'reason', 'failure_reason']) }}
            as {{ dbt.type_string() }}),
        _loaded_at
    from email_events

    union all

    select
        ticket_id,
        'support_tickets',
        'Support Ticket Opened',
        created_at,
        cast({{ tessera.json_object(['channel', 'channel', 'status', 'status', 'satisfaction', 'satisfaction',
            'subject', 'subject']) }} as {{ dbt.type_string() }}),
        _loaded_at
    from support_tickets

),

new_events as (

    select
        events.event_id,
        records.customer_id,
        events.source,
        events.event_type,
        events.occurred_at,
        events.properties,
        events._loaded_at
    from events
    inner join records on records.source = events.source and records.source_record_id = events.event_id

),

{% if is_incremental() %}
{#- A record that changed customer was assigned again since this model last wrote: only those are looked up. -#}
reassigned_records as (

    select * from records
    where records._built_at > {{ tessera.last_built_at() }}

),

events_of_moved_records as (

    select
        existing.event_id,
        reassigned_records.customer_id,
        existing.source,
        existing.event_type,
        existing.occurred_at,
        existing.properties,
        existing._loaded_at
    from {{ this }} as existing
    inner join reassigned_records
        on reassigned_records.source = existing.source and reassigned_records.source_record_id = existing.event_id
    where reassigned_records.customer_id <> existing.customer_id
        and existing.event_id not in (select event_id from new_events)

),
{% endif %}

final as (

    select * from new_events
    {% if is_incremental() %}
    union all
    select * from events_of_moved_records
    {% endif %}

)

select *, {{ tessera.built_at() }} as _built_at from final
