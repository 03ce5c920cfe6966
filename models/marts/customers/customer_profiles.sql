{#-
    One row per customer: the golden record, behavioural basics, computed traits, consent and privacy state.
    Erased customers keep their row (their ids appear in history and segments' exits) but no personal data, even
    once their records are removed from the warehouse (orchestration/privacy.py): then their first and last seen
    are when the erasure was requested.
-#}

{%- set personal_attributes = ['email', 'phone', 'first_name', 'last_name', 'city', 'postal_code', 'country'] %}

with records as {{ tessera.inlined() }} (

    select * from {{ ref('int_source_records_assigned') }}

),

attributes as (

    select * from {{ ref('int_profile_attributes_ranked') }}

),

customer_ids as (

    select * from {{ ref('int_customer_ids_assigned') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

purchases as (

    select * from {{ ref('int_customer_purchases') }}

),

rfm as (

    select * from {{ ref('int_customer_rfm_scored') }}

),

engagement as (

    select * from {{ ref('int_customer_engagement') }}

),

favourite_categories as (

    select * from {{ ref('int_customer_favourite_categories') }}

),

consents as (

    select * from {{ ref('int_customer_consents') }}

),

privacy as {{ tessera.inlined() }} (

    select * from {{ ref('int_customer_privacy') }}

),

reference_time as (

    select * from {{ ref('int_traits_reference_time') }}

),

customers_with_records as (

    select
        customer_id,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at
    from records
    group by 1

),

customers as (

    select * from customers_with_records

    union all

    select privacy.customer_id, privacy.first_requested_at, privacy.first_requested_at
    from privacy
    where privacy.is_erased
        and not exists (
            select 1 from customers_with_records where customers_with_records.customer_id = privacy.customer_id
        )

),

golden_values as (

    select
        customer_id,
        {%- for attribute in personal_attributes %}
        max(case when attribute = '{{ attribute }}' then attribute_value end) as {{ attribute }}{{ "," if not loop.last }}
        {%- endfor %}
    from attributes
    where survivorship_rank = 1
    group by 1

),

identifier_kinds as (

    select
        customer_id,
        max(case when identifier_type = 'loyalty_card' then 1 else 0 end) = 1 as is_loyalty_member,
        max(case when identifier_type in ('anonymous_id', 'device_id', 'advertising_id') then 0 else 1 end) = 0
            as is_anonymous
    from customer_ids
    group by 1

),

order_counts as (

    select records.customer_id, count(*) as orders_count, max(orders.created_at) as last_order_at
    from orders
    inner join records on records.source = 'orders' and records.source_record_id = orders.order_id
    group by 1

),

spend as (

    select
        customer_id,
        sum(case when channel = 'online' then amount_in_reporting_currency else 0 end) as lifetime_revenue,
        sum(amount_in_reporting_currency) as lifetime_value,
        count(*) as purchases_count,
        sum(case when channel = 'store' then 1 else 0 end) as pos_transactions_count,
        max(case when channel = 'store' then purchased_at end) as last_store_purchase_at
    from purchases
    group by 1

),

final as (

    select
        customers.customer_id,
        {%- for attribute in personal_attributes %}
        case when privacy.is_erased then null else golden_values.{{ attribute }} end as {{ attribute }},
        {%- endfor %}
        customers.first_seen_at,
        customers.last_seen_at,
        coalesce(order_counts.orders_count, 0) as orders_count,
        coalesce(spend.lifetime_revenue, 0) as lifetime_revenue,
        order_counts.last_order_at,
        coalesce(spend.pos_transactions_count, 0) as pos_transactions_count,
        spend.last_store_purchase_at,
        {{ dbt.datediff('spend.last_store_purchase_at', 'reference_time.as_of', 'day') }}
            as days_since_last_store_purchase,
        coalesce(spend.purchases_count, 0) as purchases_count,
        coalesce(spend.lifetime_value, 0) as lifetime_value,
        cast(spend.lifetime_value / nullif(spend.purchases_count, 0) as decimal(14, 2)) as average_order_value,
        rfm.recency_score as rfm_recency_score,
        rfm.frequency_score as rfm_frequency_score,
        rfm.monetary_score as rfm_monetary_score,
        coalesce(rfm.rfm_segment, 'Never purchased') as rfm_segment,
        coalesce(engagement.email_opens_30d, 0) as email_opens_30d,
        coalesce(engagement.email_clicks_30d, 0) as email_clicks_30d,
        coalesce(engagement.web_page_views_30d, 0) as web_page_views_30d,
        coalesce(engagement.app_screens_30d, 0) as app_screens_30d,
        engagement.preferred_channel,
        favourite_categories.favourite_category,
        engagement.last_active_at,
        {{ dbt.datediff('engagement.last_active_at', 'reference_time.as_of', 'day') }} as days_since_last_activity,
        cast(round(1 - exp(
            -1.0 * {{ dbt.datediff('engagement.last_active_at', 'reference_time.as_of', 'hour') }} / 24
            / greatest(engagement.typical_days_between_activity, 1)
        ), 3) as decimal(4, 3)) as churn_risk,
        coalesce(identifier_kinds.is_loyalty_member, false) as is_loyalty_member,
        coalesce(identifier_kinds.is_anonymous, false) as is_anonymous,
        {%- for purpose in var('consent_purposes') %}
        coalesce(consents.consent_{{ purpose }}, false) as consent_{{ purpose }},
        consents.consent_{{ purpose }}_at,
        {%- endfor %}
        coalesce(privacy.is_suppressed, false) as is_suppressed,
        coalesce(privacy.is_erased, false) as is_erased
    from customers
    cross join reference_time
    left join golden_values on golden_values.customer_id = customers.customer_id
    left join identifier_kinds on identifier_kinds.customer_id = customers.customer_id
    left join order_counts on order_counts.customer_id = customers.customer_id
    left join spend on spend.customer_id = customers.customer_id
    left join rfm on rfm.customer_id = customers.customer_id
    left join engagement on engagement.customer_id = customers.customer_id
    left join favourite_categories on favourite_categories.customer_id = customers.customer_id
    left join consents on consents.customer_id = customers.customer_id
    left join privacy on privacy.customer_id = customers.customer_id

)

select * from final
