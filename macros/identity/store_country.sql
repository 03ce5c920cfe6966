{#- The country of a store (seeds/stores.csv), for records whose only location is the store they come from. -#}
{% macro store_country(store_id) -%}
    {%- set stores = tessera.lookup_rows('stores', 'store_id') -%}
    case {{ store_id }}
        {%- for store in stores %}
        when '{{ store.store_id }}' then '{{ store.country_code }}'
        {%- endfor %}
    end
{%- endmacro %}
