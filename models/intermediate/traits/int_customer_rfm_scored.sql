{#-
    RFM scores of every customer who bought at least once, online and in store together, as of
    int_traits_reference_time:
    - recency: days since the last purchase; frequency: number of purchases; monetary: total spend in the
      reporting currency;
    - each scored 1-5 by quintile among buyers (5 is best: most recent, most frequent, highest spend):
      1 + floor(5 x percent rank), so equal values always get the same score;
    - the frequency-monetary score is the mean of the two, rounded up; the named segment is the cell of
      seeds/rfm_segments.csv that (recency score, frequency-monetary score) falls in.
-#}

with purchases as (

    select * from {{ ref('int_customer_purchases') }}

),

reference_time as (

    select * from {{ ref('int_traits_reference_time') }}

),

rfm_segments as (

    select * from {{ ref('rfm_segments') }}

),

per_customer as (

    select
        purchases.customer_id,
        max(purchases.purchased_at) as last_purchase_at,
        count(*) as purchases_count,
        coalesce(sum(purchases.amount_in_reporting_currency), 0) as total_spend
    from purchases
    group by 1

),

measured as (

    select
        per_customer.*,
        {{ dbt.datediff('per_customer.last_purchase_at', 'reference_time.as_of', 'day') }} as recency_days
    from per_customer
    cross join reference_time

),

scored as (

    select
        *,
        {%- for score, order_by in [('recency', 'recency_days desc'), ('frequency', 'purchases_count'),
                                     ('monetary', 'total_spend')] %}
        least(5, 1 + cast(floor(5 * percent_rank() over (order by {{ order_by }})) as integer))
            as {{ score }}_score{{ "," if not loop.last }}
        {%- endfor %}
    from measured

),

combined as (

    select
        *,
        cast(floor((frequency_score + monetary_score) / 2.0 + 0.5) as integer) as frequency_monetary_score
    from scored

),

final as (

    select
        combined.customer_id,
        combined.last_purchase_at,
        combined.purchases_count,
        combined.total_spend,
        combined.recency_days,
        combined.recency_score,
        combined.frequency_score,
        combined.monetary_score,
        combined.frequency_monetary_score,
        rfm_segments.rfm_segment
    from combined
    left join rfm_segments
        on combined.recency_score between rfm_segments.recency_score_min and rfm_segments.recency_score_max
        and combined.frequency_monetary_score
            between rfm_segments.frequency_monetary_score_min and rfm_segments.frequency_monetary_score_max

)

select * from final
