{{ config(materialized='incremental', incremental_strategy='append') }}

with source as (

    select * from {{ source('privacy', 'erasure_requests') }}
    {{ tessera.arrived_since_last_run() }}

),

renamed as (

    select
        trim(request_id) as erasure_request_id,
        {{ clean_string('email') }} as email_as_typed,
        {{ clean_string('phone') }} as phone_as_typed,
        {{ tessera.phone_digits('phone') }} as phone_digits,
        {{ clean_string('user_id') }} as user_id,
        requested_at,
        lower(trim(type)) as request_type,
        _file,
        _line,
        _loaded_at

    from source

),

normalised as (

    select
        *,
        {{ tessera.normalize_email('email_as_typed') }} as email,
        {{ tessera.normalize_phone('phone_digits') }} as phone

    from renamed

),

first_deliveries as (

    {{ tessera.first_deliveries('normalised', 'erasure_request_id') }}

)

select *, {{ tessera.built_at() }} as _built_at from first_deliveries
