{#-
    Every identifier that every source record carries: the raw material of the identity graph.

    Incremental: a run takes only the records whose staged version arrived after the last run's newest, and
    replaces all identifiers of each such record (a CRM contact's newer version may drop a phone). A change to
    the normalisation macros needs `dbt build --full-refresh -s int_identifiers_extracted`.
-#}
{{ config(
    materialized='incremental',
    unique_key=['source', 'source_record_id'],
    incremental_strategy='delete+insert',
) }}

with crm_contacts as (

    select * from {{ ref('stg_crm__contacts') }}
    {{ tessera.arrived_since_last_run() }}

),

web_events as (

    select * from {{ ref('stg_web__events') }}
    {{ tessera.arrived_since_last_run() }}

),

app_events as (

    select * from {{ ref('stg_app__events') }}
    {{ tessera.arrived_since_last_run() }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}
    {{ tessera.arrived_since_last_run() }}

),

loyalty_members as (

    select * from {{ ref('stg_loyalty__members') }}
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

consent_decisions as (

    select * from {{ ref('stg_consent__decisions') }}
    {{ tessera.arrived_since_last_run() }}

),

erasure_requests as (

    select * from {{ ref('stg_privacy__erasure_requests') }}
    {{ tessera.arrived_since_last_run() }}

),

unioned as (

    {{ tessera.record_identifiers('crm_contacts', 'crm_contacts', 'contact_id', 'updated_at',
        [('crm_contact_id', 'contact_id'), ('email', 'email'), ('phone', 'phone')]) }}
    union all
    {{ tessera.record_identifiers('web_events', 'web_events', 'message_id', 'occurred_at',
        [('anonymous_id', 'anonymous_id'), ('anonymous_id', 'previous_id'), ('user_id', 'user_id'),
         ('email', 'email'), ('phone', 'phone')]) }}
    union all
    {{ tessera.record_identifiers('app_events', 'app_events', 'message_id', 'occurred_at',
        [('anonymous_id', 'anonymous_id'), ('anonymous_id', 'previous_id'), ('user_id', 'user_id'),
         ('email', 'email'), ('phone', 'phone'), ('device_id', 'device_id'),
         ('advertising_id', 'advertising_id')]) }}
    union all
    {{ tessera.record_identifiers('orders', 'orders', 'order_id', 'created_at',
        [('user_id', 'customer_account_id'), ('email', 'email'), ('phone', 'phone')]) }}
    union all
    {{ tessera.record_identifiers('loyalty_members', 'loyalty_members', 'card_number', 'enrolled_at',
        [('loyalty_card', 'card_number'), ('email', 'email'), ('phone', 'phone')]) }}
    union all
    {{ tessera.record_identifiers('pos_transactions', 'pos_transactions', 'transaction_id', 'occurred_at',
        [('loyalty_card', 'card_number')]) }}
    union all
    {{ tessera.record_identifiers('email_events', 'email_events', 'email_event_id', 'occurred_at',
        [('email', 'email')]) }}
    union all
    {{ tessera.record_identifiers('support_tickets', 'support_tickets', 'ticket_id', 'created_at',
        [('email', 'requester_email'), ('phone', 'requester_phone')]) }}
    union all
    {{ tessera.record_identifiers('consent_decisions', 'consent_events', 'consent_decision_id', 'occurred_at',
        [('email', 'subject_email'), ('user_id', 'subject_user_id'), ('anonymous_id', 'subject_anonymous_id'),
         ('phone', 'subject_phone')]) }}
    union all
    {{ tessera.record_identifiers('erasure_requests', 'erasure_requests', 'erasure_request_id', 'requested_at',
        [('email', 'email'), ('phone', 'phone'), ('user_id', 'user_id')]) }}

),

deduplicated as (

    select distinct source, source_record_id, identifier_type, identifier_value, occurred_at, _loaded_at
    from unioned

)

select *, {{ tessera.built_at() }} as _built_at from deduplicated
