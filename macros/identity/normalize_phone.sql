{#-
    A phone as E.164 (`+33612345678`), from `phone_digits` of the typed value and the record's country (an
    ISO code, or null for the `default_country` var). On DuckDB, libphonenumber reads it (`tessera_phone_key`,
    identity/dbt_plugin.py): a number that is not possible for its country is null. Other engines use the SQL
    below: `+` and `00` international prefixes, national numbers with or without their trunk prefix (`06…`,
    `1 415…`), per seeds/country_calling_codes.csv; a number whose length does not fit its country, or whose
    national part starts with 0, is null (tests/test_identity_normalize.py measures how often they differ).
-#}
{% macro normalize_phone(digits, country=none) -%}
    {{ return(adapter.dispatch('normalize_phone', 'tessera')(digits, country)) }}
{%- endmacro %}

{% macro duckdb__normalize_phone(digits, country=none) -%}
    {%- if country -%}
    tessera_phone_key({{ digits }}, coalesce(upper(trim({{ country }})), '{{ var("default_country") }}'))
    {%- else -%}
    tessera_phone_key({{ digits }}, '{{ var("default_country") }}')
    {%- endif -%}
{%- endmacro %}

{% macro default__normalize_phone(digits, country=none) -%}
    {%- set rules = tessera.lookup_rows('country_calling_codes', 'country_code') -%}
    {%- set country_expression -%}
        {%- if country -%} coalesce(upper(trim({{ country }})), '{{ var("default_country") }}')
        {%- else -%} '{{ var("default_country") }}' {%- endif -%}
    {%- endset -%}
    case
        when {{ digits }} like '+%' then {{ tessera.e164_from_international("substr(" ~ digits ~ ", 2)", rules) }}
        when {{ digits }} like '00%' then {{ tessera.e164_from_international("substr(" ~ digits ~ ", 3)", rules) }}
        when not {{ tessera.regexp_full_match(digits, "'[0-9]+'") }} then null
        {%- for rule in rules %}
        {%- set trunk = (rule.trunk_prefix or '') | string %}
        when {{ country_expression }} = '{{ rule.country_code }}' then
            case
                {%- if trunk %}
                when {{ digits }} like '{{ trunk }}%'
                    and length({{ digits }}) - {{ trunk | length }} between {{ rule.nsn_min_length }} and {{ rule.nsn_max_length }}
                    and substr({{ digits }}, {{ (trunk | length) + 1 }}, 1) <> '0'
                    then '+{{ rule.calling_code }}' || substr({{ digits }}, {{ (trunk | length) + 1 }})
                {%- endif %}
                when length({{ digits }}) between {{ rule.nsn_min_length }} and {{ rule.nsn_max_length }}
                    and {{ digits }} not like '0%'
                    then '+{{ rule.calling_code }}' || {{ digits }}
            end
        {%- endfor %}
    end
{%- endmacro %}

{#- The digits after an international prefix, validated against the calling code they start with. -#}
{% macro e164_from_international(number, rules) -%}
    case
        when not {{ tessera.regexp_full_match(number, "'[1-9][0-9]{7,14}'") }} then null
        {%- set seen = [] %}
        {%- for rule in rules if rule.calling_code | string not in seen %}
        {%- do seen.append(rule.calling_code | string) %}
        {%- set code = rule.calling_code | string %}
        when {{ number }} like '{{ code }}%' then
            case
                when length({{ number }}) - {{ code | length }} between {{ rule.nsn_min_length }} and {{ rule.nsn_max_length }}
                    and substr({{ number }}, {{ (code | length) + 1 }}, 1) <> '0'
                    then '+' || {{ number }}
            end
        {%- endfor %}
        else '+' || {{ number }}
    end
{%- endmacro %}
