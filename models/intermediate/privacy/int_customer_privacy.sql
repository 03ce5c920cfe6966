{#-
    The customers a privacy request applies to, recomputed on every build, so it holds for data that arrives
    after the request too (it joins the same customer through the same identifiers):
    - `is_erased`: an `erase` request names the customer, or the customer holds an identifier whose hash is the
      tombstone of a person already erased and removed (`raw._erasures`: data arriving later for the same
      person); every mart and activation model drops or blanks their personal data;
    - `is_suppressed`: an `erase` request names the customer, or their latest `suppress` or `unsuppress`
      request is a `suppress` (a tie suppresses): they are never activated. Only an explicit `unsuppress`
      request lifts a suppression; nothing lifts an erasure.
-#}

with requests as (

    select * from {{ ref('int_privacy_requests_matched') }}
    where customer_id is not null

),

nodes as (

    select * from {{ ref('int_customer_ids_assigned') }}

),

tombstones as (

    select * from {{ tessera.erasure_tombstones() }}

),

requested as (

    select
        customer_id,
        request_type = 'erase' as is_erased,
        request_type = 'erase' as is_suppressed,
        requested_at
    from requests
    where request_type = 'erase'

    union all

    select
        customer_id,
        false as is_erased,
        request_type = 'suppress' as is_suppressed,
        requested_at
    from (
        select
            *,
            row_number() over (
                partition by customer_id
                order by requested_at desc nulls last, case when request_type = 'suppress' then 0 else 1 end
            ) as newest
        from requests
        where request_type in ('suppress', 'unsuppress')
    ) as suppressions
    where newest = 1

),

recognised_after_removal as (

    select distinct nodes.customer_id, true as is_erased, true as is_suppressed, tombstones.erased_at as requested_at
    from nodes
    inner join tombstones
        on tombstones.identifier_type = nodes.identifier_type
        and tombstones.identifier_hash = {{ tessera.sha256('nodes.identifier_value') }}

),

final as (

    select
        customer_id,
        bool_or(is_erased) as is_erased,
        bool_or(is_suppressed) as is_suppressed,
        min(requested_at) as first_requested_at
    from (select * from requested union all select * from recognised_after_removal) as privacy
    group by 1

)

select * from final
