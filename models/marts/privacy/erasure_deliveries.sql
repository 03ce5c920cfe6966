{#-
    One row per erasure request and sync that held the person: whether the destination confirmed the erasure
    (`pending` until it did, then `delivered`), the attempts, the last error. A view of what the sync engine
    records (reverse_etl.erasure_deliveries), so it is current between builds; empty before the first sync ran.
    No personal data: the record key is kept as its hash.
-#}
{{ config(materialized='view') }}

with deliveries as (

    select * from {{ tessera.optional_relation('reverse_etl', 'erasure_deliveries', {
        'request_id': dbt.type_string(), 'requested_at': dbt.type_timestamp(), 'customer_id': dbt.type_string(),
        'sync_name': dbt.type_string(), 'destination_type': dbt.type_string(),
        'record_key_hash': dbt.type_string(), 'status': dbt.type_string(), 'attempts': dbt.type_int(),
        'first_planned_at': dbt.type_timestamp(), 'last_attempt_at': dbt.type_timestamp(),
        'delivered_at': dbt.type_timestamp(), 'error': dbt.type_string()}) }}

),

final as (

    select
        request_id,
        customer_id,
        destination_type as destination,
        sync_name,
        status,
        attempts,
        requested_at,
        first_planned_at,
        last_attempt_at,
        delivered_at,
        error,
        record_key_hash
    from deliveries

)

select * from final
