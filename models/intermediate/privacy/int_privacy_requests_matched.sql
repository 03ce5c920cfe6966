{#-
    Every erasure or suppression request with the customer it names, through its email, phone or user id (the
    request is a record of the identity graph like any other). A request matches nobody when its customer has
    no record from any other source: the identifiers it gave are unknown, blocked or empty. Those are reported
    (marts.privacy_requests, and a warning test), never silently dropped.
-#}

with requests as (

    select * from {{ ref('stg_privacy__erasure_requests') }}

),

records as (

    select * from {{ ref('int_source_records_assigned') }}

),

requests_with_customers as (

    select
        requests.erasure_request_id,
        requests.request_type,
        requests.requested_at,
        records.customer_id
    from requests
    left join records
        on records.source = 'erasure_requests' and records.source_record_id = requests.erasure_request_id

),

other_records as (

    select customer_id, count(*) as records_count
    from records
    where source <> 'erasure_requests'
    group by 1

),

final as (

    select
        requests_with_customers.*,
        coalesce(other_records.records_count, 0) as matched_records_count,
        case when other_records.records_count > 0 then 'applied' else 'matched nobody' end as status
    from requests_with_customers
    left join other_records on other_records.customer_id = requests_with_customers.customer_id

)

select * from final
