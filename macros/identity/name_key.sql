{#-
    A name as a matching key: accents folded, case folded, everything but letters (of any script) removed, so
    that `  Lefèvre`, `LEFEVRE` and `Le Fèvre` compare equal, and `Łukasik` or `王芳` keep their letters.
    Display values stay as typed beside it.
-#}
{% macro name_key(column) -%}
    nullif({{ tessera.regexp_replace_all("lower(" ~ tessera.strip_accents("trim(" ~ column ~ ")") ~ ")", "'[^\\p{L}]'", "''") }}, '')
{%- endmacro %}
