{#-
    A name as a matching key: accents folded, case folded, everything but letters removed, so that
    `  Lefèvre`, `LEFEVRE` and `Le Fèvre` compare equal. Display values stay as typed beside it.
-#}
{% macro name_key(column) -%}
    nullif({{ tessera.regexp_replace_all("lower(" ~ tessera.strip_accents("trim(" ~ column ~ ")") ~ ")", "'[^a-z]'", "''") }}, '')
{%- endmacro %}
