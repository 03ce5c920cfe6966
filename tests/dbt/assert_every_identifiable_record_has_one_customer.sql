{#- Every source record with a linkable identifier is in customer_source_records, exactly once (see also the
    unique_combination test there), unless it belongs to an erased customer: those leave the marts.

    Like the generic tests on incremental models (macros/tests/scoped_tests.sql), it checks the records the latest
    build keyed or assigned, and every record with `full_checks`. -#}

with keyed as (

    select distinct source, source_record_id from {{ ref('int_identity_records_keyed') }}
    {%- if not var('full_checks', false) %}
    where _built_at = (select max(_built_at) from {{ ref('int_identity_records_keyed') }})

    union

    select source, source_record_id from {{ ref('int_source_records_assigned') }}
    where _built_at = (select max(_built_at) from {{ ref('int_source_records_assigned') }})
    {%- endif %}

),

assigned as (

    select * from {{ ref('int_source_records_assigned') }}

),

erased as (

    select customer_id from {{ ref('int_customer_privacy') }} where is_erased

),

published as (

    select * from {{ ref('customer_source_records') }}

)

select keyed.source, keyed.source_record_id
from keyed
left join assigned
    on assigned.source = keyed.source and assigned.source_record_id = keyed.source_record_id
left join published
    on published.source = keyed.source and published.source_record_id = keyed.source_record_id
where published.customer_id is null
    and (assigned.customer_id is null or assigned.customer_id not in (select customer_id from erased))
