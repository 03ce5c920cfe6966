{#-
    Each identity-graph node's cluster: one cluster per person, found by connected components with the
    per-type limits of seeds/identity_rules.csv enforced (macros/identity/cluster_identities.sql). The links
    that limit enforcement dropped, with their reason, are kept beside it in `int_identity_links_dropped`.
-#}
{{ config(post_hook="drop table if exists {{ this.schema }}.{{ this.identifier }}__result") }}

{%- set edges = ref('int_identity_edges_linked') -%}
{%- set nodes = ref('int_identity_nodes_numbered') -%}
{%- set result = this.schema ~ "." ~ this.identifier ~ "__result" -%}
{%- set dropped = this.schema ~ ".int_identity_links_dropped" -%}
{%- if execute -%}
    {%- do tessera.cluster_identities(edges, nodes, result, dropped, var('identity_max_iterations')) -%}
{%- endif %}

select node_id, cluster_id from {{ result }}
