{{ config(materialized='incremental', unique_key='card_number', incremental_strategy='delete+insert') }}

with source as (

    {{ tessera.accepted_rows(source('loyalty', 'loyalty_members'), new_only=true) }}

),

renamed as (

    select
        trim(card_number) as card_number,
        {{ clean_string('email') }} as email_as_typed,
        {{ clean_string('phone') }} as phone_as_typed,
        {{ tessera.phone_digits('phone') }} as phone_digits,
        {{ clean_string('first_name') }} as first_name,
        {{ clean_string('last_name') }} as last_name,
        birth_date,
        {{ clean_string('postal_code') }} as postal_code,
        {{ clean_string('store_id') }} as store_id,
        {{ tessera.store_country(clean_string('store_id')) }} as store_country_code,
        enrolled_at,
        _file,
        _line,
        _loaded_at

    from source

),

normalised as (

    select
        *,
        {{ tessera.normalize_email('email_as_typed') }} as email,
        {{ tessera.normalize_phone('phone_digits', 'store_country_code') }} as phone,
        {{ tessera.name_key('first_name') }} as first_name_key,
        {{ tessera.name_key('last_name') }} as last_name_key

    from renamed

),

latest_versions as (

    {{ tessera.latest_versions('normalised', 'card_number', '_loaded_at desc, _file desc, _line desc') }}

)

select *, {{ tessera.built_at() }} as _built_at from latest_versions
