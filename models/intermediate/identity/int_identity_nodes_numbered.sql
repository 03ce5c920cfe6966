{#-
    The identity graph's nodes: one per identifier value that is not blocked by a rule, with its stable number
    (int_identity_node_ids), its rule (priority, limit) and when it was first and last seen. A value blocked
    because the data shows it is not one person's (hot, conflicting) is a node that `links` nothing, and only
    where some record holds nothing else (an email event to a family's shared address): it is their key, and
    they belong to a customer of their own rather than to nobody.
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

candidates as {{ tessera.inlined() }} (

    select identifiers.*, blocked.identifier_value is null as links
    from identifiers
    left join blocked
        on blocked.identifier_type = identifiers.identifier_type
        and blocked.identifier_value = identifiers.identifier_value
    where blocked.identifier_value is null or not blocked.reason like 'rule:%'

),

{#- A value that links nothing is no key of a record that holds a value that links. Few values link nothing, so
    only their records are looked for among those of the values that link. -#}
records_not_linked as (

    select distinct source, source_record_id from candidates where not links

),

records_also_linked as (

    select distinct candidates.source, candidates.source_record_id
    from candidates
    inner join records_not_linked
        on records_not_linked.source = candidates.source
        and records_not_linked.source_record_id = candidates.source_record_id
    where candidates.links

),

linkable as (

    select * from candidates where links

    union all

    select candidates.*
    from candidates
    left join records_also_linked
        on records_also_linked.source = candidates.source
        and records_also_linked.source_record_id = candidates.source_record_id
    where not candidates.links and records_also_linked.source_record_id is null

),

summarised as (

    select
        identifier_type,
        identifier_value,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        count(*) as record_count,
        bool_and(links) as links
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
