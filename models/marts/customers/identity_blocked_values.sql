{#-
    The identifier values identity resolution refuses to link on, with why and how much they hold, for a data
    steward to review: `kind` is `rule` (seeds/blocked_identifiers.csv), `hot` (seen with more accounts, cards
    or contacts than one person has) or `conflict` (its records are of people with different names and
    contacts). A value that should not have linked is blocked for good by adding it to the seed; one blocked
    wrongly is let through by changing the rule or the var that caught it.
-#}

with blocked as (

    select * from {{ ref('int_identifiers_blocked') }}

),

identifiers as (

    select * from {{ ref('int_identifiers_extracted') }}

),

final as (

    select
        blocked.identifier_type,
        blocked.identifier_value,
        case
            when blocked.reason like 'rule:%' then 'rule'
            when blocked.reason like 'hot:%' then 'hot'
            else 'conflict'
        end as kind,
        blocked.reason,
        count(*) as records,
        count(distinct identifiers.source) as sources,
        min(identifiers.occurred_at) as first_seen_at,
        max(identifiers.occurred_at) as last_seen_at
    from blocked
    inner join identifiers
        on identifiers.identifier_type = blocked.identifier_type
        and identifiers.identifier_value = blocked.identifier_value
    group by 1, 2, 3, 4

)

select * from final
