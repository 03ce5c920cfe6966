{#-
    Connected components of an undirected graph, computed in the warehouse.

    `edges` is a relation with integer columns `node_a`, `node_b`; the result is the table `output` with
    `node` and `component`, one row per node that has an edge (a self-loop makes a node a component by itself).
    A component is named by its smallest node.

    1. Contraction. Every node is mapped to the smallest node of its closed neighbourhood, and the graph is
       replaced by the distinct images of its edges (self-loops dropped). A node and its image are in the same
       component, so the contracted graph has the same components, named the same (the smallest node of a
       component maps to itself). Identity graphs are stars of stars: each contraction shrinks them by an order
       of magnitude (half a million edges, then 60,000, then 2,000), so it is repeated while it at least halves
       the edges. On a long chain it barely shrinks anything, and step 2 takes over.
    2. Min-label propagation with hooking and pointer jumping on what is left: each round a node takes the
       smallest label among itself and its neighbours, the node its label names (the root of its tree) takes
       the smallest label any of its tree's members saw, and every node then jumps to its label's label. A chain
       of n nodes is resolved in about log n rounds (8 for 1,000 nodes, 17 for a million), where plain
       propagation needs n. The loop stops only at the fixpoint, when no edge joins two different labels, which
       is exactly when the labels are the components; if that has not happened within `max_iterations` rounds,
       it raises an error rather than return a partial answer.
    3. Each node's component: its image through every contraction, then that image's label.

    Plain SQL (create table as, joins, group by), so it ports to Spark and PostgreSQL; only the table DDL is
    dispatched. Models call it; `compute_connected_components` below runs it as a dbt operation.
-#}
{% macro connected_components(edges, output, max_iterations=100) -%}
    {%- set started = modules.datetime.datetime.now() -%}
    {%- set adjacency = tessera.work_table(output ~ "__adjacency") -%}
    {%- set labels = tessera.work_table(output ~ "__labels") -%}
    {%- set next_labels = tessera.work_table(output ~ "__next") -%}

    {#- 1. Contraction, two at a time (one round trip): graphs[i] is the graph after i contractions and maps[i]
        takes its nodes to graphs[i + 1]'s. Self-loops only make their node present, so they are read once. -#}
    {%- set graphs = [edges] -%}
    {%- set maps = [] -%}
    {%- set state = {'edges': none, 'contracting': true} -%}
    {%- for step in range(1, max_iterations + 1) if state.contracting -%}
        {%- call statement('cc_contract', fetch_result=True) -%}
            {%- for _ in range(2) -%}
            {%- set graph = graphs[-1] -%}
            {%- set map = tessera.work_table(output ~ "__map" ~ (maps | length + 1)) -%}
            {%- set contracted = tessera.work_table(output ~ "__graph" ~ (maps | length + 1)) -%}
            {%- do maps.append(map) -%}
            {%- do graphs.append(contracted) %}
            {{ tessera.create_table(map) }} as
            select node, min(image) as image
            from (
                select node_a as node, least(node_a, node_b) as image from {{ graph }}
                union all
                select node_b as node, least(node_a, node_b) as image from {{ graph }} where node_a <> node_b
            ) as ends
            group by node;
            {{ tessera.create_table(contracted) }} as
            select distinct
                least(image_a.image, image_b.image) as node_a,
                greatest(image_a.image, image_b.image) as node_b
            from {{ graph }} as graph
            inner join {{ map }} as image_a on image_a.node = graph.node_a
            inner join {{ map }} as image_b on image_b.node = graph.node_b
            where graph.node_a <> graph.node_b and image_a.image <> image_b.image;
            {%- endfor %}
            select count(*) from {{ graphs[-1] }}
        {%- endcall -%}
        {%- set remaining = load_result('cc_contract').table.columns[0].values()[0] -%}
        {%- do state.update({
            'contracting': remaining > 0 and (state.edges is none or remaining * 2 <= state.edges),
            'edges': remaining,
        }) -%}
    {%- endfor -%}

    {#- 2. Hooking and pointer jumping on the contracted graph, unless contraction left no edge. -#}
    {%- set rounds = {'converged': state.edges == 0, 'count': 0} -%}
    {%- if not rounds.converged -%}
        {%- call statement('cc_prepare') -%}
            {{ tessera.create_table(adjacency) }} as
            select node_a as node, node_b as neighbour from {{ graphs[-1] }}
            union all
            select node_b as node, node_a as neighbour from {{ graphs[-1] }};
            {{ tessera.create_table(labels) }} as
            select node, min(least(node, neighbour)) as label
            from {{ adjacency }}
            group by node
        {%- endcall -%}
    {%- endif -%}
    {%- for round in range(1, max_iterations + 1) if not rounds.converged -%}
        {%- call statement('cc_round', fetch_result=True) -%}
            {{ tessera.create_table(next_labels) }} as
            with neighbour_minimums as (
                select adjacency.node, min(labels.label) as label
                from {{ adjacency }} as adjacency
                inner join {{ labels }} as labels on labels.node = adjacency.neighbour
                group by adjacency.node
            ),
            root_hooks as (
                select labels.label as node, min(neighbour_minimums.label) as label
                from {{ labels }} as labels
                inner join neighbour_minimums on neighbour_minimums.node = labels.node
                group by labels.label
            ),
            hooked as (
                select node, min(label) as label
                from (
                    select node, label from {{ labels }}
                    union all
                    select node, label from neighbour_minimums
                    union all
                    select node, label from root_hooks
                ) as candidates
                group by node
            )
            select hooked.node, coalesce(parent.label, hooked.label) as label
            from hooked
            left join hooked as parent on parent.node = hooked.label;
            drop table {{ labels }};
            alter table {{ next_labels }} rename to {{ labels.split('.')[-1] }};
            {#- Edges still joining two labels: none means the labels are the components. -#}
            select count(*)
            from {{ adjacency }} as adjacency
            inner join {{ labels }} as mine on mine.node = adjacency.node
            inner join {{ labels }} as theirs on theirs.node = adjacency.neighbour
            where mine.label <> theirs.label
        {%- endcall -%}
        {%- set split_edges = load_result('cc_round').table.columns[0].values()[0] -%}
        {%- do rounds.update({'converged': split_edges == 0, 'count': round}) -%}
    {%- endfor -%}

    {%- if not rounds.converged -%}
        {{ exceptions.raise_compiler_error(
            "connected_components(" ~ edges ~ ") did not converge within " ~ max_iterations
            ~ " rounds: raise max_iterations (var identity_max_iterations) rather than use a partial result") }}
    {%- endif -%}

    {#- 3. A node's image through each contraction in turn (none past the last that moved it), then its label.
        Contractions come in pairs, so there are later maps: small, they are composed first, and the first map, as
        large as the graph, is joined once. -#}
    {%- set later = maps[1:] -%}
    {%- set image = ['step1.image'] -%}
    {%- for map in later[1:] -%}
        {%- do image.append("coalesce(step" ~ (loop.index + 1) ~ ".image, " ~ image[-1] ~ ")") -%}
    {%- endfor -%}
    {%- call statement('cc_output') -%}
        {{ tessera.create_table(output) }} as
        with later_images as (
            select step1.node, {{ "coalesce(labels.label, " ~ image[-1] ~ ")" if rounds.count > 0 else image[-1] }} as image
            from {{ later[0] }} as step1
            {%- for map in later[1:] %}
            left join {{ map }} as step{{ loop.index + 1 }} on step{{ loop.index + 1 }}.node = {{ image[loop.index - 1] }}
            {%- endfor %}
            {%- if rounds.count > 0 %}
            left join {{ labels }} as labels on labels.node = {{ image[-1] }}
            {%- endif %}
        )
        select first_map.node, coalesce(later_images.image, first_map.image) as component
        from {{ maps[0] }} as first_map
        left join later_images on later_images.node = first_map.image;
        {%- if rounds.count > 0 %}
        drop table {{ labels }};
        drop table {{ adjacency }};
        {%- endif %}
        {%- for map in maps %}
        drop table {{ map }};
        drop table {{ graphs[loop.index] }}{{ ";" if not loop.last }}
        {%- endfor %}
    {%- endcall -%}
    {%- set seconds = (modules.datetime.datetime.now() - started).total_seconds() -%}
    {{ log("connected_components(" ~ edges ~ "): " ~ maps | length ~ " contractions to " ~ state.edges
        ~ " edges, converged in " ~ rounds.count ~ " rounds, " ~ "%.3f" | format(seconds) ~ "s", info=true) }}
    {{ return(rounds.count) }}
{%- endmacro %}

{#-
    The name of a work table of the graph algorithms: on DuckDB a temporary (in-memory) table, which makes their
    rounds much faster than writing to the warehouse file; elsewhere a table beside the output.
-#}
{% macro work_table(name) -%}
    {{ return(adapter.dispatch('work_table', 'tessera')(name)) }}
{%- endmacro %}

{% macro default__work_table(name) -%}
    {{ return(name) }}
{%- endmacro %}

{% macro duckdb__work_table(name) -%}
    {{ return("temp.main." ~ name.split('.')[-1]) }}
{%- endmacro %}

{#- `create or replace [temp] table <name>`: temporary for a work_table name. Dispatched: Spark needs `using`. -#}
{% macro create_table(name) -%}
    {{ return(adapter.dispatch('create_table', 'tessera')(name)) }}
{%- endmacro %}

{% macro default__create_table(name) -%}
    {%- if name.startswith('temp.main.') -%}
    create or replace temp table {{ name.split('.')[-1] }}
    {%- else -%}
    create or replace table {{ name }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__create_table(name) -%}
    create or replace table {{ name }} using delta
{%- endmacro %}

{#- `dbt run-operation compute_connected_components --args '{edges: ..., output: ...}'`: the same, committed. -#}
{% macro compute_connected_components(edges, output, max_iterations=100) -%}
    {%- do tessera.connected_components(edges, output, max_iterations) -%}
    {%- do adapter.commit() -%}
{%- endmacro %}
