{#-
    An email as a matching key, or null where it is not an address (`n/a`, `test`, `jane@`, two @, spaces
    inside). On DuckDB, email-validator reads it (`tessera_email_key`, identity/dbt_plugin.py): internationalised
    addresses are addresses (RFC 6531), the local part NFC-normalised and case-folded, the domain in its ASCII
    (punycode) form. Other engines use the SQL below, which agrees with the library but for internationalised
    domains, kept in Unicode (tests/test_identity_normalize.py measures how often they differ). Staging applies
    it once; `<column>_is_rejected` flags count what it refused.
-#}
{% macro normalize_email(column) -%}
    {{ return(adapter.dispatch('normalize_email', 'tessera')(column)) }}
{%- endmacro %}

{% macro duckdb__normalize_email(column) -%}
    tessera_email_key({{ column }})
{%- endmacro %}

{#- Dot-atoms of letters (any script), digits and RFC 5322's specials; a domain of letter-or-digit labels. -#}
{% macro default__normalize_email(column) -%}
    {%- set atom = "[\\p{L}\\p{N}!#$%&''*+/=?^_`{|}~-]+" -%}
    {%- set label = "[\\p{L}\\p{N}]([\\p{L}\\p{N}-]*[\\p{L}\\p{N}])?" -%}
    case
        when {{ tessera.regexp_full_match("lower(trim(" ~ column ~ "))", "'" ~ atom ~ "(\\." ~ atom ~ ")*@(" ~ label ~ "\\.)+(\\p{L}+|xn--[a-z0-9-]+)'") }}
            and length(trim({{ column }})) <= 254
            then lower(trim({{ column }}))
    end
{%- endmacro %}
