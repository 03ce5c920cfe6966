{#-
    High-value customers at risk: the best customers by spend (monetary score 5, or RFM At risk / Can't lose)
    whose churn risk says they are overdue. For the win-back offer by email.
-#}

with profiles as (

    select * from {{ ref('customer_profiles') }}

),

members as (

    select customer_id
    from profiles
    where rfm_segment in ('At risk', 'Can''t lose')
        or (rfm_monetary_score = 5 and churn_risk >= 0.6)

)

select * from members
