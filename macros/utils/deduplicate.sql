{#-
    The first row of each `partition_by` group in `order_by` order, from a relation or CTE. Staging uses it for
    re-delivered messages (first delivery wins) and re-exported records (latest version wins).
-#}
{% macro deduplicate(relation, partition_by, order_by) -%}
    {{ return(adapter.dispatch('deduplicate', 'tessera')(relation, partition_by, order_by)) }}
{%- endmacro %}

{% macro default__deduplicate(relation, partition_by, order_by) -%}
    select *
    from {{ relation }}
    qualify row_number() over (partition by {{ partition_by }} order by {{ order_by }}) = 1
{%- endmacro %}
