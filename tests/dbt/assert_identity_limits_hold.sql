{#- No customer holds more values of an identifier type than seeds/identity_rules.csv allows. -#}

with identities as (

    select * from {{ ref('customer_identities') }}

),

identity_rules as (

    select * from {{ ref('identity_rules') }}

),

counted as (

    select customer_id, identifier_type, count(*) as values_held
    from identities
    group by 1, 2

)

select counted.*, identity_rules.max_per_profile
from counted
inner join identity_rules on identity_rules.identifier_type = counted.identifier_type
where counted.values_held > identity_rules.max_per_profile
