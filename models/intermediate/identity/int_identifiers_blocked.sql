{#-
    Identifier values that never link records: those matching seeds/blocked_identifiers.csv (exact values and
    regular expressions), and "hot" values seen with more distinct anchor identifiers (accounts, loyalty cards,
    CRM contacts) than one person has, such as a store kiosk's email typed on every enrolment.
-#}

with identifiers as (

    select * from {{ ref('int_identifiers_extracted') }}

),

distinct_values as (

    select distinct identifier_type, identifier_value from identifiers

),

{#- The rules become constant expressions (each regex compiled once, not once per row). -#}
{%- set rules = tessera.lookup_rows('blocked_identifiers', 'identifier_type, match_type, pattern') %}

rule_matches as (

    select
        identifier_type,
        identifier_value,
        {% if rules -%}
        case
            {%- for rule in rules %}
            when {% if rule.identifier_type != '*' %}identifier_type = '{{ rule.identifier_type }}' and {% endif -%}
                {%- if rule.match_type == 'exact' -%}
                identifier_value = '{{ rule.pattern | lower | replace("'", "''") }}'
                {%- else -%}
                {{ tessera.regexp_contains('identifier_value', "'" ~ rule.pattern | replace("'", "''") ~ "'") }}
                {%- endif %}
                then '{{ rule.reason | replace("'", "''") }}'
            {%- endfor %}
        end
        {%- else -%}
        cast(null as {{ dbt.type_string() }})
        {%- endif %} as rule_reason
    from distinct_values

),

blocked_by_rule as (

    select identifier_type, identifier_value, 1 as precedence, 'rule: ' || rule_reason as reason
    from rule_matches
    where rule_reason is not null

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
