with source as (

    select * from {{ source('crm', 'crm_contacts') }}

),

renamed as (

    select
        trim(contact_id) as contact_id,
        {{ clean_string('first_name') }} as first_name,
        {{ clean_string('last_name') }} as last_name,
        {{ clean_string('email') }} as email,
        {{ clean_string('phone') }} as phone,
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

latest_versions as (

    {{ tessera.deduplicate('renamed', 'contact_id', 'updated_at desc nulls last, _loaded_at desc, _file desc, _line desc') }}

)

select * from latest_versions
