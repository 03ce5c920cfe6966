{#-
    The post-hook of the customer marts kept incrementally (customer_source_records, customer_events): deletes the
    rows whose record no longer belongs to anyone (a value blocked since) and the rows of customers erased since.
    `record_id` is the model's column holding the source record id.
-#}
{% macro delete_unassigned_and_erased(record_id='source_record_id') -%}
    delete from {{ this }} as kept
    where not exists (
        select 1 from {{ ref('int_source_records_assigned') }} as assigned
        where assigned.source = kept.source and assigned.source_record_id = kept.{{ record_id }}
    )
    or customer_id in (select customer_id from {{ ref('int_customer_privacy') }} where is_erased)
{%- endmacro %}
