{#-
    Identifier values that never link records: those matching seeds/blocked_identifiers.csv (exact values and
    regular expressions), and "hot" values seen with more distinct anchor identifiers (accounts, loyalty cards,
    CRM contacts) than one person has, such as a store kiosk's email typed on every enrolment.
-#}

with identifiers as (

    select * from {{ ref('int_identifiers_extracted') }}

),

blocking_rules as (

    select * from {{ ref('blocked_identifiers') }}

),

distinct_values as (

    select distinct identifier_type, identifier_value from identifiers

),

blocked_by_rule as (

    select
        distinct_values.identifier_type,
        distinct_values.identifier_value,
        1 as precedence,
        'rule: ' || min(blocking_rules.reason) as reason
    from distinct_values
    inner join blocking_rules
        on blocking_rules.identifier_type in (distinct_values.identifier_type, '*')
        and (
            (blocking_rules.match_type = 'exact' and distinct_values.identifier_value = lower(blocking_rules.pattern))
            or (blocking_rules.match_type = 'regex'
                and {{ tessera.regexp_contains('distinct_values.identifier_value', 'blocking_rules.pattern') }})
        )
    group by 1, 2

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

unioned as (

    select * from blocked_by_rule
    union all
    select * from blocked_as_hot

),

one_reason_each as (

    {{ tessera.deduplicate('unioned', 'identifier_type, identifier_value', 'precedence') }}

)

select identifier_type, identifier_value, reason from one_reason_each
