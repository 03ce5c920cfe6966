{#-
    Every erasure and suppression request and what became of it: `applied` to a customer, or `matched nobody`
    (its email, phone and user id are unknown, blocked or empty). No personal data: the request's own email
    and phone stay in the landing file and staging only, until the person's records are removed
    (`records_removed_at`), when they go too.
-#}

with requests as (

    select * from {{ ref('int_privacy_requests_matched') }}

),

final as (

    select
        erasure_request_id as request_id,
        request_type,
        requested_at,
        customer_id,
        status,
        matched_records_count,
        records_removed_at
    from requests

)

select * from final
