{#-
    Identifier values that never link records: those matching seeds/blocked_identifiers.csv (exact values and
    regular expressions, matched once per value by int_identifier_rule_matches), "hot" values seen with more
    distinct anchor identifiers (accounts, loyalty cards, CRM contacts) than one person has, such as a store kiosk's email typed on every enrolment, and "conflicting"
    values, whose records the data shows belong to different people (below). The last two need no list: they
    hold for placeholders no one has written down yet.
-#}

with identifiers as {{ tessera.inlined() }} (

    select * from {{ ref('int_identifiers_extracted') }}

),

{#- The values a rule of seeds/blocked_identifiers.csv matches (int_identifier_rule_matches), of those seen now. -#}
rule_matches as (

    select matched.identifier_type, matched.identifier_value, matched.rule_reason
    from {{ ref('int_identifier_rule_matches') }} as matched
    where matched.rule_reason is not null
        and exists (
            select 1 from identifiers
            where identifiers.identifier_type = matched.identifier_type
                and identifiers.identifier_value = matched.identifier_value
        )

),

blocked_by_rule as (

    select identifier_type, identifier_value, 1 as precedence, 'rule: ' || rule_reason as reason
    from rule_matches

),

anchors as (

    select source, source_record_id, identifier_type || ':' || identifier_value as anchor
    from identifiers
    where identifier_type in ({{ "'" ~ var('identity_anchor_types') | join("', '") ~ "'" }})

),

blocked_as_hot as (

    select
        identifiers.identifier_type,
        identifiers.identifier_value,
        2 as precedence,
        'hot: seen with ' || cast(count(distinct anchors.anchor) as {{ dbt.type_string() }}) || ' accounts, cards or contacts' as reason
    from identifiers
    inner join anchors
        on anchors.source = identifiers.source
        and anchors.source_record_id = identifiers.source_record_id
    where identifiers.identifier_type not in ({{ "'" ~ var('identity_anchor_types') | join("', '") ~ "'" }})
    group by 1, 2
    having count(distinct anchors.anchor) > {{ var('hot_identifier_max_anchors') }}

),

{#-
    Values the data shows are not one person's, whatever list they are on: an email or phone whose records
    disagree on everything else that marks a person. Two records holding the value conflict when both name
    someone and differ in first and in last name, and also differ in the other kind of contact (their phones,
    for an email; their emails, for a phone; placeholders blocked above do not count as agreeing) or, as
    loyalty cards, in birth date; unless each holds its own account or card (one person has one of each: the
    limits of seeds/identity_rules.csv keep those apart already). A value with at least
    `identity_conflict_min_pairs` such pairs (var, by type) never links: a placeholder typed by a handful of
    people, a family's address between people of different names.
-#}
{%- set conflict_types = var('identity_conflict_min_pairs') %}

known_blocked as (

    select identifier_type, identifier_value from blocked_by_rule
    union
    select identifier_type, identifier_value from blocked_as_hot

),

record_names as (

    select 'crm_contacts' as source, contact_id as source_record_id, first_name_key, last_name_key,
        cast(null as date) as birth_date
    from {{ ref('stg_crm__contacts') }}
    union all
    select 'loyalty_members', card_number, first_name_key, last_name_key, birth_date
    from {{ ref('stg_loyalty__members') }}
    union all
    select 'orders', order_id, billing_first_name_key, billing_last_name_key, cast(null as date)
    from {{ ref('stg_shop__orders') }}
    union all
    select 'web_events', message_id, first_name_key, last_name_key, cast(null as date)
    from {{ ref('stg_web__events') }}
    where first_name_key is not null and last_name_key is not null
    union all
    select 'app_events', message_id, first_name_key, last_name_key, cast(null as date)
    from {{ ref('stg_app__events') }}
    where first_name_key is not null and last_name_key is not null

),

contacts as (

    select identifiers.source, identifiers.source_record_id, identifiers.identifier_type, identifiers.identifier_value
    from identifiers
    left join known_blocked
        on known_blocked.identifier_type = identifiers.identifier_type
        and known_blocked.identifier_value = identifiers.identifier_value
    where identifiers.identifier_type in ('email', 'phone') and known_blocked.identifier_value is null

),

{#- The identifiers that one person has only one of (seeds/identity_rules.csv: max_per_profile 1). -#}
single_anchors as (

    select identifiers.source, identifiers.source_record_id,
        min(identifiers.identifier_type || ':' || identifiers.identifier_value) as anchor
    from identifiers
    inner join {{ ref('identity_rules') }} as rules
        on rules.identifier_type = identifiers.identifier_type and rules.max_per_profile = 1
    group by 1, 2

),

{#- Each record holding a candidate value: its name, birth date, contact of the other kind, single anchor. -#}
holders as (

    select
        contacts.identifier_type,
        contacts.identifier_value,
        contacts.source,
        contacts.source_record_id,
        record_names.first_name_key,
        record_names.last_name_key,
        record_names.birth_date,
        single_anchors.anchor,
        min(other.identifier_value) as other_contact
    from contacts
    inner join record_names
        on record_names.source = contacts.source
        and record_names.source_record_id = contacts.source_record_id
    left join contacts as other
        on other.source = contacts.source
        and other.source_record_id = contacts.source_record_id
        and other.identifier_type <> contacts.identifier_type
    left join single_anchors
        on single_anchors.source = contacts.source
        and single_anchors.source_record_id = contacts.source_record_id
    where contacts.identifier_type in ({{ "'" ~ conflict_types.keys() | list | join("', '") ~ "'" }})
        and record_names.first_name_key is not null
        and record_names.last_name_key is not null
    group by 1, 2, 3, 4, 5, 6, 7, 8

),

conflicting_pairs as (

    select a.identifier_type, a.identifier_value, count(*) as pairs
    from holders as a
    inner join holders as b
        on b.identifier_type = a.identifier_type
        and b.identifier_value = a.identifier_value
        and (b.source > a.source or (b.source = a.source and b.source_record_id > a.source_record_id))
    where a.first_name_key <> b.first_name_key
        and a.last_name_key <> b.last_name_key
        {# Two accounts or cards apart: the limits already keep them apart, and the value may still tell whose
           its other records are. #}
        and not (a.anchor is not null and b.anchor is not null and a.anchor <> b.anchor)
        and (
            (a.other_contact is not null and b.other_contact is not null and a.other_contact <> b.other_contact)
            or (a.birth_date is not null and b.birth_date is not null and a.birth_date <> b.birth_date)
        )
    group by 1, 2

),

blocked_as_conflicting as (

    select
        identifier_type,
        identifier_value,
        3 as precedence,
        'conflict: links ' || cast(pairs as {{ dbt.type_string() }})
            || ' pair(s) of records of different names and different contacts or birth dates' as reason
    from conflicting_pairs
    where
        {%- for identifier_type, minimum in conflict_types.items() %}
        (identifier_type = '{{ identifier_type }}' and pairs >= {{ minimum }}){% if not loop.last %} or{% endif %}
        {%- endfor %}

),

unioned as (

    select * from blocked_by_rule
    union all
    select * from blocked_as_hot
    union all
    select * from blocked_as_conflicting

),

one_reason_each as (

    {{ tessera.deduplicate('unioned', 'identifier_type, identifier_value', 'precedence') }}

)

select identifier_type, identifier_value, reason from one_reason_each
