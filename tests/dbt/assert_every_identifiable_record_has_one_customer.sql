{#- Every source record with a linkable identifier is in customer_source_records, exactly once (see also the
    unique_combination test there). -#}

with keyed as (

    select distinct source, source_record_id from {{ ref('int_identity_records_keyed') }}

),

published as (

    select * from {{ ref('customer_source_records') }}

)

select keyed.source, keyed.source_record_id
from keyed
left join published
    on published.source = keyed.source and published.source_record_id = keyed.source_record_id
where published.customer_id is null
