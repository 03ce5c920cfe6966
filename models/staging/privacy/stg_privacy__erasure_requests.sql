with source as (

    select * from {{ source('privacy', 'erasure_requests') }}

),

renamed as (

    select
        trim(request_id) as erasure_request_id,
        {{ clean_string('email') }} as email,
        {{ clean_string('phone') }} as phone,
        {{ clean_string('user_id') }} as user_id,
        requested_at,
        lower(trim(type)) as request_type,
        _file,
        _line,
        _loaded_at

    from source

),

first_deliveries as (

    {{ tessera.deduplicate('renamed', 'erasure_request_id', '_loaded_at, _file, _line') }}

)

select * from first_deliveries
