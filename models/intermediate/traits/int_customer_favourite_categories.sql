{#-
    Each customer's favourite product category: the one they bought the most units of in paid online orders
    (ties: the one bought most recently, then by name). Store tills do not record items, so store purchases do
    not count here.
-#}

with purchases as (

    select * from {{ ref('int_customer_purchases') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

order_lines as (

    select order_id, created_at, {{ tessera.explode('line_items') }} as line_item
    from orders
    where status = 'paid'

),

category_units as (

    select
        purchases.customer_id,
        order_lines.line_item.category as category,
        sum(order_lines.line_item.quantity) as units,
        max(order_lines.created_at) as last_bought_at
    from order_lines
    inner join purchases
        on purchases.source = 'orders' and purchases.purchase_id = order_lines.order_id
    where order_lines.line_item.category is not null
    group by 1, 2

),

favourites as (

    {{ tessera.deduplicate('category_units', 'customer_id', 'units desc, last_bought_at desc, category') }}

),

final as (

    select customer_id, category as favourite_category, units as favourite_category_units
    from favourites

)

select * from final
