{#-
    VIP loyalty members: loyalty card holders who are RFM Champions, or whose lifetime value is in the top 10%
    of card holders. For early access to sales and in-store events.
-#}

with profiles as (

    select * from {{ ref('customer_profiles') }}

),

card_holders as (

    select
        customer_id,
        rfm_segment,
        percent_rank() over (order by lifetime_value) as lifetime_value_rank
    from profiles
    where is_loyalty_member

),

members as (

    select customer_id
    from card_holders
    where rfm_segment = 'Champions' or lifetime_value_rank >= 0.9

)

select * from members
