{#- Every identifiable source record and its customer; an erased customer's records are left out. -#}

with assigned as (

    select * from {{ ref('int_source_records_assigned') }}

),

privacy as (

    select * from {{ ref('int_customer_privacy') }}

),

final as (

    select assigned.source, assigned.source_record_id, assigned.customer_id
    from assigned
    left join privacy on privacy.customer_id = assigned.customer_id
    where not coalesce(privacy.is_erased, false)

)

select * from final
