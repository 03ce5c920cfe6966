{#-
    One row per customer id of the previous run whose identifiers moved to another id this run, with how many
    moved and whether the previous id survives: if not, it was merged into the other (identity_merges); if it
    does, the other split off it (identity_splits).
-#}

with customer_ids as {{ tessera.inlined() }} (

    select * from {{ ref('int_customer_ids_assigned') }}

),

surviving_ids as (

    select distinct customer_id from customer_ids

),

moved as (

    select
        previous_customer_id,
        customer_id,
        count(*) as identifiers_moved
    from customer_ids
    where previous_customer_id is not null and previous_customer_id <> customer_id
    group by 1, 2

),

final as (

    select
        moved.*,
        surviving_ids.customer_id is not null as is_previous_id_surviving
    from moved
    left join surviving_ids on surviving_ids.customer_id = moved.previous_customer_id

)

select * from final
