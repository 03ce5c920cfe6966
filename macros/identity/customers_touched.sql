{#-
    In an incremental model kept per customer, the customers whose golden record, traits or state may have changed
    since the model last wrote (its newest `_built_at`): the customers of the records assigned since (new records,
    new versions of records, records that moved in a merge or a split, and the records of a value newly blocked,
    which are keyed again; consent decisions and erasure requests are records too), and the customers that lost
    identifiers since, merged into another or split (identity_merges, identity_splits). On a first or full build:
    none (the model builds every customer).
-#}
{% macro customers_touched() -%}
    {%- set since = tessera.last_built_at() -%}
    select customer_id from {{ ref('int_source_records_assigned') }} where _built_at > {{ since }}
    union
    select previous_customer_id from {{ ref('identity_merges') }} where _built_at > {{ since }}
    union
    select previous_customer_id from {{ ref('identity_splits') }} where _built_at > {{ since }}
{%- endmacro %}
