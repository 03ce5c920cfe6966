{#-
    A fingerprint of the rules of seeds/blocked_identifiers.csv (`rules`, from lookup_rows; read here when not
    given): what int_identifier_rule_matches keeps beside each value it matched, so that a changed seed matches
    every value again.
-#}
{% macro blocklist_fingerprint(rules=none) -%}
    {%- set rules = tessera.lookup_rows('blocked_identifiers', 'identifier_type, match_type, pattern')
        if rules is none else rules -%}
    {%- set described = [] -%}
    {%- for rule in rules -%}
        {%- do described.append([rule.identifier_type, rule.match_type, rule.pattern, rule.reason] | join('\t')) -%}
    {%- endfor -%}
    {{ return(local_md5(described | join('\n'))) }}
{%- endmacro %}
