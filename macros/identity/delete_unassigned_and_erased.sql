{#-
    The post-hook of the customer marts kept incrementally (customer_source_records, customer_events): deletes the
    rows whose record no longer belongs to anyone (a value blocked since) and the rows of customers erased since.
    `record_id` is the model's column holding the source record id.

    Looking for the records that left is an anti-join of the whole model with the whole of
    int_source_records_assigned, and on most days none did. So the post-hook first compares a checksum of the
    model's record keys with one of the assigned records of the same sources (`key_checksum`, a sum of 64-bit
    hashes: two different sets of keys give the same sum with a chance of about one in 2^64) and looks only when
    they differ. The erased customers' rows are always looked for (that costs little), and left out of both
    checksums.
-#}
{% macro delete_unassigned_and_erased(record_id='source_record_id') -%}
    {%- set assigned = ref('int_source_records_assigned') -%}
    {%- set erased -%}
        select customer_id from {{ ref('int_customer_privacy') }} where is_erased
    {%- endset -%}
    {#- The erased customers' rows go whatever the checksums say, and their late records are not written: both
        sides leave them out. -#}
    {%- set compared -%}
        select
            (select {{ tessera.key_checksum(['source', record_id]) }} from {{ this }}
             where customer_id not in ({{ erased }})),
            (select {{ tessera.key_checksum(['source', 'source_record_id']) }} from {{ assigned }}
             where source in (select distinct source from {{ this }}) and customer_id not in ({{ erased }}))
    {%- endset -%}
    {%- set sums = run_query(compared).rows[0] if execute else [none, none] -%}
    delete from {{ this }} as kept
    where customer_id in ({{ erased }})
    {%- if sums[0] != sums[1] or sums[0] is none %}
    or not exists (
        select 1 from {{ assigned }} as assigned
        where assigned.source = kept.source and assigned.source_record_id = kept.{{ record_id }}
    )
    {%- endif %}
{%- endmacro %}
