{#-
    Each identity-graph node's cluster: one cluster per person, found by connected components with the
    per-type limits of seeds/identity_rules.csv enforced (macros/identity/cluster_identities.sql). The links
    that limit enforcement dropped, with their reason, are kept beside it in `int_identity_links_dropped`.

    Incremental in effect: the graph this run clustered is kept beside it (`int_identity_nodes_clustered__edges`),
    and the next run clusters again only the components its changes touch (recluster_identities); the others
    keep their clusters. `--full-refresh` clusters everything.
-#}
{{ config(post_hook=[
    "drop table if exists {{ this.schema }}.{{ this.identifier }}__result",
    "{{ tessera.create_table(this.schema ~ '.' ~ this.identifier ~ '__edges') }} as
        select node_a, node_b from {{ ref('int_identity_edges_linked') }}",
]) }}

{%- set result = this.schema ~ "." ~ this.identifier ~ "__result" -%}
{%- set edges = ref('int_identity_edges_linked') -%}
{%- set nodes = ref('int_identity_nodes_numbered') -%}
{%- set dropped = this.schema ~ ".int_identity_links_dropped" -%}
{%- if execute -%}
    {%- set previous = adapter.get_relation(this.database, this.schema, this.identifier) -%}
    {%- set previous_edges = adapter.get_relation(this.database, this.schema, this.identifier ~ "__edges") -%}
    {%- if previous and previous_edges and not flags.FULL_REFRESH -%}
        {%- do tessera.recluster_identities(edges, nodes, previous, previous_edges, result, dropped, var('identity_max_iterations')) -%}
    {%- else -%}
        {%- do tessera.cluster_identities(edges, nodes, result, dropped, var('identity_max_iterations')) -%}
    {%- endif -%}
{%- endif %}

select result.node_id, result.cluster_id, result.component_id, nodes.priority, nodes.max_per_profile
from {{ result }} as result
inner join {{ nodes }} as nodes on nodes.node_id = result.node_id
