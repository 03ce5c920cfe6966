{#-
    The identity graph's nodes: one per linkable identifier value (not blocked), numbered for the graph
    algorithms, with its rule (priority, limit) and when it was first and last seen.
-#}

with identifiers as (

    select * from {{ ref('int_identifiers_extracted') }}

),

blocked as (

    select * from {{ ref('int_identifiers_blocked') }}

),

identity_rules as (

    select * from {{ ref('identity_rules') }}

),

linkable as (

    select identifiers.*
    from identifiers
    left join blocked
        on blocked.identifier_type = identifiers.identifier_type
        and blocked.identifier_value = identifiers.identifier_value
    where blocked.identifier_value is null

),

summarised as (

    select
        identifier_type,
        identifier_value,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        count(*) as record_count
    from linkable
    group by 1, 2

),

numbered as (

    select
        row_number() over (order by identity_rules.priority, summarised.identifier_value) as node_id,
        summarised.*,
        identity_rules.priority,
        identity_rules.max_per_profile
    from summarised
    inner join identity_rules on identity_rules.identifier_type = summarised.identifier_type

)

select * from numbered
