{#- Every segment's current members, since when: the members whose latest change is `entered`. -#}

with changes as (

    select * from {{ ref('segment_membership_changes') }}

),

latest_changes as (

    {{ tessera.deduplicate('changes', 'segment_name, customer_id', 'changed_at desc') }}

),

final as (

    select segment_name, customer_id, changed_at as entered_at
    from latest_changes
    where change = 'entered'

)

select * from final
