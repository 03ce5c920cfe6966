{#-
    The customers a privacy request applies to, recomputed on every build, so it holds for data that arrives
    after the request too (it joins the same customer through the same identifiers):
    - `is_erased`: an `erase` request names the customer; every mart and activation model drops or blanks
      their personal data;
    - `is_suppressed`: an `erase` or `suppress` request names the customer; they are never activated.
-#}

with requests as (

    select * from {{ ref('int_privacy_requests_matched') }}
    where customer_id is not null

),

final as (

    select
        customer_id,
        max(case when request_type = 'erase' then 1 else 0 end) = 1 as is_erased,
        true as is_suppressed,
        min(requested_at) as first_requested_at
    from requests
    where request_type in ('erase', 'suppress')
    group by 1

)

select * from final
