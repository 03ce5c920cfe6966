{#-
    Every purchase of every customer, online and in store, with its amount in the reporting currency
    (var `reporting_currency`, rates in seeds/currency_rates.csv). Online, only paid orders are purchases
    (refunded and cancelled ones are not); every store transaction is one.
-#}

with records as (

    select * from {{ ref('int_source_records_assigned') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

pos_transactions as (

    select * from {{ ref('stg_pos__transactions') }}

),

currency_rates as (

    select * from {{ ref('currency_rates') }}

),

purchases as (

    select
        'orders' as source,
        order_id as purchase_id,
        'online' as channel,
        created_at as purchased_at,
        total as amount,
        currency
    from orders
    where status = 'paid'

    union all

    select
        'pos_transactions' as source,
        transaction_id as purchase_id,
        'store' as channel,
        occurred_at as purchased_at,
        total_amount as amount,
        currency
    from pos_transactions

),

final as (

    select
        records.customer_id,
        purchases.source,
        purchases.purchase_id,
        purchases.channel,
        purchases.purchased_at,
        purchases.amount,
        purchases.currency,
        cast(purchases.amount * currency_rates.rate_to_reporting_currency as decimal(14, 2)) as amount_in_reporting_currency
    from purchases
    inner join records
        on records.source = purchases.source and records.source_record_id = purchases.purchase_id
    left join currency_rates on currency_rates.currency = purchases.currency

)

select * from final
