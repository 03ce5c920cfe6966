{#- One timeline per customer across web, app, orders, stores, email and support. -#}

with records as (

    select * from {{ ref('int_source_records_assigned') }}

),

segment_events as (

    select 'web_events' as source, * from {{ ref('stg_web__events') }}
    union all
    select 'app_events' as source, * from {{ ref('stg_app__events') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

pos_transactions as (

    select * from {{ ref('stg_pos__transactions') }}

),

email_events as (

    select * from {{ ref('stg_esp__email_events') }}

),

support_tickets as (

    select * from {{ ref('stg_helpdesk__tickets') }}

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
        cast(properties as {{ dbt.type_string() }}) as properties
    from segment_events

    union all

    select
        order_id,
        'orders',
        'Order Placed',
        created_at,
        cast({{ tessera.json_object(['order_id', 'order_id', 'status', 'status', 'currency', 'currency',
            'total', 'total', 'line_items', 'line_items']) }} as {{ dbt.type_string() }})
    from orders

    union all

    select
        transaction_id,
        'pos_transactions',
        'Store Purchase',
        occurred_at,
        cast({{ tessera.json_object(['store_id', 'store_id', 'total', 'total_amount', 'currency', 'currency',
            'item_count', 'item_count', 'payment_method', 'payment_method']) }} as {{ dbt.type_string() }})
    from pos_transactions

    union all

    select
        email_event_id,
        'email_events',
        'Email ' || upper(substr(event_type, 1, 1)) || substr(event_type, 2),
        occurred_at,
        cast({{ tessera.json_object(['campaign_id', 'campaign_id', 'url', 'clicked_url', 'reason', 'failure_reason']) }}
            as {{ dbt.type_string() }})
    from email_events

    union all

    select
        ticket_id,
        'support_tickets',
        'Support Ticket Opened',
        created_at,
        cast({{ tessera.json_object(['channel', 'channel', 'status', 'status', 'satisfaction', 'satisfaction',
            'subject', 'subject']) }} as {{ dbt.type_string() }})
    from support_tickets

),

final as (

    select
        events.event_id,
        records.customer_id,
        events.source,
        events.event_type,
        events.occurred_at,
        events.properties
    from events
    inner join records on records.source = events.source and records.source_record_id = events.event_id

)

select * from final
