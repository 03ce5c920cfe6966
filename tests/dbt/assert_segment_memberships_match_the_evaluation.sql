{#- segment_memberships, rebuilt from the change log, holds exactly this build's evaluated members. -#}

with evaluated as (

    select segment_name, customer_id from {{ ref('int_segment_members_evaluated') }}

),

memberships as (

    select segment_name, customer_id from {{ ref('segment_memberships') }}

),

missing as (

    select 'missing from segment_memberships' as problem, * from evaluated
    except
    select 'missing from segment_memberships', * from memberships

),

extra as (

    select 'not a member any more' as problem, * from memberships
    except
    select 'not a member any more', * from evaluated

)

select * from missing
union all
select * from extra
