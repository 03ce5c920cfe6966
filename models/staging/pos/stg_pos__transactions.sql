{{ config(materialized='incremental', incremental_strategy='append') }}

with source as (

    {{ tessera.accepted_rows(source('pos', 'pos_transactions'), new_only=true) }}

),

renamed as (

    select
        trim(transaction_id) as transaction_id,
        {{ clean_string('store_id') }} as store_id,
        {{ clean_string('card_number') }} as card_number,
        occurred_at,
        total_amount,
        upper({{ clean_string('currency') }}) as currency,
        item_count,
        lower({{ clean_string('payment_method') }}) as payment_method,
        _file,
        _line,
        _loaded_at

    from source

),

first_deliveries as (

    {{ tessera.first_deliveries('renamed', 'transaction_id') }}

)

select *, {{ tessera.built_at() }} as _built_at from first_deliveries
