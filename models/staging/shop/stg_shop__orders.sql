{{ config(materialized='incremental', unique_key='order_id', incremental_strategy='delete+insert') }}

with source as (

    {{ tessera.accepted_rows(source('shop', 'orders'), new_only=true) }}

),

renamed as (

    select
        trim(order_id) as order_id,
        {{ clean_string('customer_account_id') }} as customer_account_id,
        {{ clean_string('email') }} as email_as_typed,
        {{ clean_string('phone') }} as phone_as_typed,
        {{ tessera.phone_digits('phone') }} as phone_digits,
        {{ clean_string('billing_first_name') }} as billing_first_name,
        {{ clean_string('billing_last_name') }} as billing_last_name,
        {{ clean_string('billing_street') }} as billing_street,
        {{ clean_string('billing_city') }} as billing_city,
        {{ clean_string('billing_postal_code') }} as billing_postal_code,
        upper({{ clean_string('billing_country') }}) as billing_country_code,
        upper({{ clean_string('currency') }}) as currency,
        subtotal,
        discount,
        shipping,
        total,
        lower({{ clean_string('status') }}) as status,
        created_at,
        line_items,
        _file,
        _row,
        _loaded_at

    from source

),

normalised as (

    select
        *,
        {{ tessera.normalize_email('email_as_typed') }} as email,
        {{ tessera.normalize_phone('phone_digits', 'billing_country_code') }} as phone,
        {{ tessera.name_key('billing_first_name') }} as billing_first_name_key,
        {{ tessera.name_key('billing_last_name') }} as billing_last_name_key

    from renamed

),

latest_versions as (

    {{ tessera.latest_versions('normalised', 'order_id', '_loaded_at desc, _file desc, _row desc') }}

)

select *, {{ tessera.built_at() }} as _built_at from latest_versions
