{#-
    An email as a matching key: trimmed and lower-cased, or null where it is not an address (`n/a`, `test`,
    `jane@`, two @, spaces inside). Staging applies it once; `<column>_is_rejected` flags count what it refused.
-#}
{% macro normalize_email(column) -%}
    case
        when {{ tessera.regexp_full_match("lower(trim(" ~ column ~ "))", "'[a-z0-9!#$%&''*+/=?^_`{|}~.-]+@[a-z0-9-]+(\\.[a-z0-9-]+)*\\.[a-z]{2,}'") }}
            then lower(trim({{ column }}))
    end
{%- endmacro %}
