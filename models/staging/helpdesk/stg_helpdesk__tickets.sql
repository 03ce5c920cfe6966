{{ config(materialized='incremental', unique_key='ticket_id', incremental_strategy='delete+insert') }}

with source as (

    {{ tessera.accepted_rows(source('helpdesk', 'support_tickets'), new_only=true) }}

),

renamed as (

    select
        trim(ticket_id) as ticket_id,
        {{ clean_string('requester_email') }} as requester_email_as_typed,
        {{ clean_string('requester_phone') }} as requester_phone_as_typed,
        {{ tessera.phone_digits('requester_phone') }} as requester_phone_digits,
        {{ clean_string('requester_name') }} as requester_name,
        {{ clean_string('subject') }} as subject,
        lower({{ clean_string('channel') }}) as channel,
        lower({{ clean_string('status') }}) as status,
        lower({{ clean_string('satisfaction') }}) as satisfaction,
        created_at,
        solved_at,
        _file,
        _line,
        _loaded_at

    from source

),

normalised as (

    select
        *,
        {{ tessera.normalize_email('requester_email_as_typed') }} as requester_email,
        {{ tessera.normalize_phone('requester_phone_digits') }} as requester_phone,
        {{ tessera.name_key('requester_name') }} as requester_name_key

    from renamed

),

latest_versions as (

    {{ tessera.latest_versions('normalised', 'ticket_id', '_loaded_at desc, _file desc, _line desc') }}

)

select *, {{ tessera.built_at() }} as _built_at from latest_versions
