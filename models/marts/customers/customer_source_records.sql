with assigned as (

    select * from {{ ref('int_source_records_assigned') }}

),

final as (

    select source, source_record_id, customer_id
    from assigned

)

select * from final
