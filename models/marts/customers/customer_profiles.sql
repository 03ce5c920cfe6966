with records as (

    select * from {{ ref('int_source_records_assigned') }}

),

attributes as (

    select * from {{ ref('int_profile_attributes_ranked') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

pos_transactions as (

    select * from {{ ref('stg_pos__transactions') }}

),

customers as (

    select
        customer_id,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at
    from records
    group by 1

),

golden_values as (

    select
        customer_id,
        {%- for attribute in ['email', 'phone', 'first_name', 'last_name', 'city', 'postal_code', 'country'] %}
        max(case when attribute = '{{ attribute }}' then attribute_value end) as {{ attribute }}{{ "," if not loop.last }}
        {%- endfor %}
    from attributes
    where survivorship_rank = 1
    group by 1

),

order_totals as (

    select
        records.customer_id,
        count(*) as orders_count,
        sum(case when orders.status = 'paid' then orders.total else 0 end) as lifetime_revenue,
        max(orders.created_at) as last_order_at
    from orders
    inner join records on records.source = 'orders' and records.source_record_id = orders.order_id
    group by 1

),

store_visits as (

    select records.customer_id, count(*) as pos_transactions_count
    from pos_transactions
    inner join records
        on records.source = 'pos_transactions' and records.source_record_id = pos_transactions.transaction_id
    group by 1

),

final as (

    select
        customers.customer_id,
        golden_values.email,
        golden_values.phone,
        golden_values.first_name,
        golden_values.last_name,
        golden_values.city,
        golden_values.postal_code,
        golden_values.country,
        customers.first_seen_at,
        customers.last_seen_at,
        coalesce(order_totals.orders_count, 0) as orders_count,
        coalesce(order_totals.lifetime_revenue, 0) as lifetime_revenue,
        order_totals.last_order_at,
        coalesce(store_visits.pos_transactions_count, 0) as pos_transactions_count
    from customers
    left join golden_values on golden_values.customer_id = customers.customer_id
    left join order_totals on order_totals.customer_id = customers.customer_id
    left join store_visits on store_visits.customer_id = customers.customer_id

)

select * from final
