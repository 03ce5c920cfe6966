with source as (

    select * from {{ source('loyalty', 'loyalty_members') }}

),

renamed as (

    select
        trim(card_number) as card_number,
        {{ clean_string('email') }} as email,
        {{ clean_string('phone') }} as phone,
        {{ clean_string('first_name') }} as first_name,
        {{ clean_string('last_name') }} as last_name,
        birth_date,
        {{ clean_string('postal_code') }} as postal_code,
        {{ clean_string('store_id') }} as store_id,
        enrolled_at,
        _file,
        _line,
        _loaded_at

    from source

),

latest_versions as (

    {{ tessera.deduplicate('renamed', 'card_number', '_loaded_at desc, _file desc, _line desc') }}

)

select * from latest_versions
