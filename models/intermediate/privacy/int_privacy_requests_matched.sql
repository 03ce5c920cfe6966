{#-
    Every erasure or suppression request with the customer it names, through its email, phone or user id (the
    request is a record of the identity graph like any other). A request matches nobody when its customer has
    no record from any other source: the identifiers it gave are unknown, blocked or empty. Those are reported
    (marts.privacy_requests, and a warning test), never silently dropped.

    Once an erased person's records have been removed from the warehouse (orchestration/privacy.py), the request
    keeps naming its customer through the tombstones of `raw._erasures`, and is `applied`, with
    `records_removed_at`.
-#}

with requests as (

    select * from {{ ref('stg_privacy__erasure_requests') }}

),

records as {{ tessera.inlined() }} (

    select * from {{ ref('int_source_records_assigned') }}

),

tombstones as (

    {#- The customer the request named when its records were first removed (a person who came back later and was
        removed again got a newer id under the same request). #}
    select request_id, customer_id, erased_at as records_removed_at
    from (
        select
            request_id,
            customer_id,
            erased_at,
            row_number() over (partition by request_id order by erased_at, customer_id) as removal
        from {{ tessera.erasure_tombstones() }}
    ) as removals
    where removal = 1

),

requests_with_customers as (

    select
        requests.erasure_request_id,
        requests.request_type,
        requests.requested_at,
        coalesce(records.customer_id, tombstones.customer_id) as customer_id,
        tombstones.records_removed_at
    from requests
    left join records
        on records.source = 'erasure_requests' and records.source_record_id = requests.erasure_request_id
    left join tombstones on tombstones.request_id = requests.erasure_request_id

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
        case
            when other_records.records_count > 0 or requests_with_customers.records_removed_at is not null
                then 'applied'
            else 'matched nobody'
        end as status
    from requests_with_customers
    left join other_records on other_records.customer_id = requests_with_customers.customer_id

)

select * from final
