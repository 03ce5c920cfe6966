{{ config(materialized='incremental', unique_key='contact_id', incremental_strategy='delete+insert') }}

with source as (

    {{ tessera.accepted_rows(source('crm', 'crm_contacts'), new_only=true) }}

),

renamed as (

    select
        trim(contact_id) as contact_id,
        {{ clean_string('first_name') }} as first_name,
        {{ clean_string('last_name') }} as last_name,
        {{ clean_string('email') }} as email_as_typed,
        {{ clean_string('phone') }} as phone_as_typed,
        {{ tessera.phone_digits('phone') }} as phone_digits,
        {{ clean_string('company') }} as company,
        {{ clean_string('street') }} as street,
        {{ clean_string('city') }} as city,
        {{ clean_string('postal_code') }} as postal_code,
        upper({{ clean_string('country') }}) as country_code,
        lower({{ clean_string('lifecycle_stage') }}) as lifecycle_stage,
        created_at,
        coalesce(updated_at, created_at) as updated_at,
        _file,
        _line,
        _loaded_at

    from source

),

normalised as (

    select
        *,
        {{ tessera.normalize_email('email_as_typed') }} as email,
        {{ tessera.normalize_phone('phone_digits', 'country_code') }} as phone,
        {{ tessera.name_key('first_name') }} as first_name_key,
        {{ tessera.name_key('last_name') }} as last_name_key

    from renamed

),

latest_versions as (

    {{ tessera.latest_versions('normalised', 'contact_id', 'updated_at desc nulls last, _loaded_at desc, _file desc, _line desc') }}

)

select *, {{ tessera.built_at() }} as _built_at from latest_versions
