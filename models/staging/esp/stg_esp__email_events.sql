{{ config(materialized='incremental', incremental_strategy='append') }}

with source as (

    {{ tessera.accepted_rows(source('esp', 'email_events'), new_only=true) }}

),

renamed as (

    select
        trim(sg_event_id) as email_event_id,
        {{ clean_string('email') }} as email_as_typed,
        {{ tessera.normalize_email('email') }} as email,
        lower(trim(event)) as event_type,
        timestamp as occurred_at,
        {{ clean_string('campaign_id') }} as campaign_id,
        {{ clean_string(tessera.json_text('payload', '$.url')) }} as clicked_url,
        {{ clean_string(tessera.json_text('payload', '$.reason')) }} as failure_reason,
        payload,
        _file,
        _line,
        _loaded_at

    from source

),

first_deliveries as (

    {{ tessera.first_deliveries('renamed', 'email_event_id') }}

)

select *, {{ tessera.built_at() }} as _built_at from first_deliveries
