with source as (

    select * from {{ source('consent', 'consent_events') }}

),

renamed as (

    select
        trim(event_id) as consent_decision_id,
        {{ clean_string(tessera.json_text('payload', '$.subject.email')) }} as subject_email,
        {{ clean_string(tessera.json_text('payload', '$.subject.user_id')) }} as subject_user_id,
        {{ clean_string(tessera.json_text('payload', '$.subject.anonymous_id')) }} as subject_anonymous_id,
        {{ clean_string(tessera.json_text('payload', '$.subject.phone')) }} as subject_phone,
        lower(trim(purpose)) as purpose,
        lower(trim(status)) as status,
        lower({{ clean_string('source') }}) as decision_source,
        occurred_at,
        _file,
        _line,
        _loaded_at

    from source

),

first_deliveries as (

    {{ tessera.deduplicate('renamed', 'consent_decision_id', '_loaded_at, _file, _line') }}

)

select * from first_deliveries
