{#-
    The stable customer id of every identity-graph node (identifier value), carried over from the previous run.

    Clusters are recomputed every run; ids must not move. Each customer id of the previous run follows the new
    cluster holding most of its identifiers (its home); a cluster keeps the oldest customer id whose home it is,
    and the other ids that came home to it were merged into it (`identity_merges`). A cluster that no previous
    id calls home is new, or split off an older customer (`identity_splits`): it gets a new id, made from its
    oldest identifier and this dbt invocation, so that an id is never issued twice, not even after a split.
    On the first run every cluster is new. Ids survive `--full-refresh`; only dropping this table resets them.
-#}

with clustered as (

    select * from {{ ref('int_identity_nodes_clustered') }}

),

nodes as (

    select * from {{ ref('int_identity_nodes_numbered') }}

),

current_nodes as (

    select
        nodes.identifier_type,
        nodes.identifier_value,
        nodes.priority,
        nodes.first_seen_at,
        clustered.cluster_id
    from clustered
    inner join nodes on nodes.node_id = clustered.node_id

),

previous_assignments as (

    {% if execute and adapter.get_relation(this.database, this.schema, this.identifier) %}
    select identifier_type, identifier_value, customer_id, customer_created_at from {{ this }}
    {% else %}
    select
        cast(null as {{ dbt.type_string() }}) as identifier_type,
        cast(null as {{ dbt.type_string() }}) as identifier_value,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as {{ dbt.type_timestamp() }}) as customer_created_at
    where 1 = 0
    {% endif %}

),

previous_customers_by_cluster as (

    select
        current_nodes.cluster_id,
        previous_assignments.customer_id,
        min(previous_assignments.customer_created_at) as customer_created_at,
        count(*) as shared_identifiers
    from current_nodes
    inner join previous_assignments
        on previous_assignments.identifier_type = current_nodes.identifier_type
        and previous_assignments.identifier_value = current_nodes.identifier_value
    group by 1, 2

),

homes as (

    {{ tessera.deduplicate('previous_customers_by_cluster', 'customer_id', 'shared_identifiers desc, cluster_id') }}

),

survivors as (

    {{ tessera.deduplicate('homes', 'cluster_id', 'customer_created_at, customer_id') }}

),

cluster_keys as (

    {{ tessera.deduplicate('current_nodes', 'cluster_id', 'first_seen_at, priority, identifier_value') }}

),

assigned as (

    select
        cluster_keys.cluster_id,
        coalesce(
            survivors.customer_id,
            'cus_' || substr({{ dbt.hash("cluster_keys.identifier_type || ':' || cluster_keys.identifier_value || ':' || '" ~ invocation_id ~ "'") }}, 1, 20)
        ) as customer_id,
        coalesce(survivors.customer_created_at, {{ dbt.current_timestamp() }}) as customer_created_at
    from cluster_keys
    left join survivors on survivors.cluster_id = cluster_keys.cluster_id

),

final as (

    select
        current_nodes.identifier_type,
        current_nodes.identifier_value,
        current_nodes.cluster_id,
        assigned.customer_id,
        assigned.customer_created_at,
        previous_assignments.customer_id as previous_customer_id
    from current_nodes
    inner join assigned on assigned.cluster_id = current_nodes.cluster_id
    left join previous_assignments
        on previous_assignments.identifier_type = current_nodes.identifier_type
        and previous_assignments.identifier_value = current_nodes.identifier_value

)

select * from final
