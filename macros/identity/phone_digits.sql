{#-
    A typed phone number reduced to its digits and a leading `+`: spaces, dots, dashes and brackets go, and so
    does the `(0)` some write after the country code (`+44 (0)7700 900123`). The first step of
    `normalize_phone`, kept apart so that models compute it once.
-#}
{% macro phone_digits(column) -%}
    nullif({{ tessera.regexp_replace_all("replace(trim(" ~ column ~ "), '(0)', '')", "'[^0-9+]'", "''") }}, '')
{%- endmacro %}
