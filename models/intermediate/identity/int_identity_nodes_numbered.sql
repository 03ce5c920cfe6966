{#-
    The identity graph's nodes: one per linkable identifier value (not blocked), with its stable number
    (int_identity_node_ids), its rule (priority, limit) and when it was first and last seen.
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

node_ids as (

    select * from {{ ref('int_identity_node_ids') }}

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
        node_ids.node_id,
        summarised.*,
        identity_rules.priority,
        identity_rules.max_per_profile
    from summarised
    inner join identity_rules on identity_rules.identifier_type = summarised.identifier_type
    inner join node_ids
        on node_ids.identifier_type = summarised.identifier_type
        and node_ids.identifier_value = summarised.identifier_value

)

select * from numbered
