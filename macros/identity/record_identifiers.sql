{#-
    One row per identifier of each record of `relation`: (source, source_record_id, identifier_type,
    identifier_value, occurred_at, _loaded_at), for the identity graph. `identifiers` is a list of
    (identifier_type, column) pairs; a type may come from several columns (an alias's previousId is an
    anonymous_id too). Missing values give no row. Ids are compared case-insensitively (UUIDs, card numbers).
-#}
{% macro record_identifiers(relation, source_name, record_id, occurred_at, identifiers) -%}
    {%- for identifier_type, column in identifiers %}
    select
        '{{ source_name }}' as source,
        {{ record_id }} as source_record_id,
        '{{ identifier_type }}' as identifier_type,
        {% if identifier_type in ('email', 'phone') -%}
            {{ column }}
        {%- elif identifier_type in ('anonymous_id', 'device_id', 'advertising_id') -%}
            lower(trim({{ column }}))
        {%- else -%}
            upper(trim({{ column }}))
        {%- endif %} as identifier_value,
        {{ occurred_at }} as occurred_at,
        _loaded_at
    from {{ relation }}
    where nullif(trim({{ column }}), '') is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}
