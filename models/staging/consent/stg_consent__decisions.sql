{{ config(materialized='incremental', incremental_strategy='append') }}

with source as (

    select * from {{ source('consent', 'consent_events') }}
    {{ tessera.arrived_since_last_run() }}

),

renamed as (

    select
        trim(event_id) as consent_decision_id,
        {{ clean_string(tessera.json_text('payload', '$.subject.email')) }} as subject_email_as_typed,
        {{ clean_string(tessera.json_text('payload', '$.subject.user_id')) }} as subject_user_id,
        {{ clean_string(tessera.json_text('payload', '$.subject.anonymous_id')) }} as subject_anonymous_id,
        {{ clean_string(tessera.json_text('payload', '$.subject.phone')) }} as subject_phone_as_typed,
        {{ tessera.phone_digits(tessera.json_text('payload', '$.subject.phone')) }} as subject_phone_digits,
        lower(trim(purpose)) as purpose,
        lower(trim(status)) as status,
        lower({{ clean_string('source') }}) as decision_source,
        occurred_at,
        _file,
        _line,
        _loaded_at

    from source

),

normalised as (

    select
        *,
        {{ tessera.normalize_email('subject_email_as_typed') }} as subject_email,
        {{ tessera.normalize_phone('subject_phone_digits') }} as subject_phone

    from renamed

),

first_deliveries as (

    {{ tessera.first_deliveries('normalised', 'consent_decision_id') }}

)

select *, {{ tessera.built_at() }} as _built_at from first_deliveries
