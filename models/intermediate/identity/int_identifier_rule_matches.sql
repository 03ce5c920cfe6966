{#-
    Every identifier value seen, with the rule of seeds/blocked_identifiers.csv it matches (exact values and
    regular expressions), or null: the rules' half of int_identifiers_blocked, kept so that each value's regular
    expressions run once, not on every run.

    Incremental: a run matches only the values first seen since the last one (int_identity_node_ids numbers each
    value once, when first seen). Each row keeps the fingerprint of the rules it was matched with (`_rules`); a
    changed seed matches every value again, and the post-hook drops what the old rules left.
-#}
{%- set rules = tessera.lookup_rows('blocked_identifiers', 'identifier_type, match_type, pattern') %}
{%- set fingerprint = tessera.blocklist_fingerprint(rules) %}
{{ config(
    materialized='incremental',
    unique_key=['identifier_type', 'identifier_value'],
    incremental_strategy='delete+insert',
    post_hook="delete from {{ this }} where _rules <> '{{ tessera.blocklist_fingerprint() }}'",
) }}

{#- Every value held was matched with these rules: only the new values need matching. -#}
{%- set others = "select count(*) from " ~ this ~ " where _rules <> '" ~ fingerprint ~ "'" %}
{%- set matched_before = is_incremental() and execute and run_query(others).columns[0].values()[0] == 0 %}

{#- int_identity_node_ids holds every value once, from the run that first saw it. -#}
with new_values as (

    select identifier_type, identifier_value, _loaded_at
    from {{ ref('int_identity_node_ids') }}
    {%- if matched_before %}
    where _built_at > {{ tessera.last_built_at() }}
    {%- endif %}

),

{#- The rules become constant expressions (each regex compiled once, not once per row). -#}
matched as (

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
        {%- endif %} as rule_reason,
        '{{ fingerprint }}' as _rules,
        _loaded_at
    from new_values

)

select *, {{ tessera.built_at() }} as _built_at from matched
