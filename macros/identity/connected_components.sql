{#-
    Connected components of an undirected graph, computed in the warehouse.

    `edges` is a relation with integer columns `node_a`, `node_b`; the result is the table `output` with
    `node` and `component`, one row per node that has an edge (a self-loop makes a node a component by itself).
    A component is named by its smallest node.

    1. Contraction. Every node is mapped to the node of least *order* in its closed neighbourhood, and the
       graph is replaced by the distinct images of its edges (self-loops dropped). A node and its image are in
       the same component, so the contracted graph has the same components. The order is a hash of the node seeded by
       the round (`node_order`), so no numbering of the nodes, whatever order their values first appeared in,
       makes contraction stall: ordered by id, a path whose ids run along it loses one node a round; ordered
       by a fresh hash, any path or star loses about half its edges a round. (Looking two steps away shrinks a
       path by two thirds a round, but costs more than it saves.) Contractions run two at a time while each
       pair at least halves the edges: in practice until no edge is left.
    2. Min-label propagation with hooking and pointer jumping on what is left: each round a node takes the
       smallest label among itself and its neighbours, the node its label names (the root of its tree) takes
       the smallest label any of its tree's members saw, and every node then jumps to its label's label. A chain
       of n nodes is resolved in about log n rounds (8 for 1,000 nodes, 17 for a million), where plain
       propagation needs n. The loop stops only at the fixpoint, when no edge joins two different labels, which
       is exactly when the labels are the components; if that has not happened within `max_iterations` rounds,
       it raises an error rather than return a partial answer. Contraction seldom leaves it anything.
    3. Each node's component: its image through every contraction, then that image's label, then the
       smallest node of those that share it (so that a component is named by its smallest node whatever the
       hash chose).

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
            select node, least({{ tessera.node_order('node', maps | length) }},
                min({{ tessera.node_order('neighbour', maps | length) }})) % {{ tessera.node_order_base() }} as image
            from (
                select node_a as node, node_b as neighbour from {{ graph }}
                union all
                select node_b as node, node_a as neighbour from {{ graph }} where node_a <> node_b
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

    {#- 3. A node's representative, composed from the last contraction back to the first: the nodes of the graph
        after contraction i are the images of map i, so each step joins a map with the (smaller) answer of the
        step after it, and the work shrinks with the graphs. A node past the last contraction that moved it keeps
        its image. -#}
    {%- set last = maps | length - 1 -%}
    {%- call statement('cc_output') -%}
        {{ tessera.create_table(output) }} as
        with represented{{ last }} as (
            select map.node, {{ "coalesce(labels.label, map.image)" if rounds.count > 0 else "map.image" }} as representative
            from {{ maps[last] }} as map
            {%- if rounds.count > 0 %}
            left join {{ labels }} as labels on labels.node = map.image
            {%- endif %}
        )
        {%- for step in range(last - 1, -1, -1) %},
        represented{{ step }} as (
            select map.node, coalesce(later.representative, map.image) as representative
            from {{ maps[step] }} as map
            left join represented{{ step + 1 }} as later on later.node = map.image
        )
        {%- endfor %}
        select node, min(node) over (partition by representative) as component
        from represented0;
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
    A node's place in contraction round `seed`'s order: a hash of the node (31 bits) above the node itself, so
    that orders are total (a collision falls back to the id) and `order % node_order_base()` gives the node
    back. Node ids must be below 2^32. Dispatched: each engine's own seeded 64-bit hash; the default is a
    multiplicative hash in plain arithmetic.
-#}
{% macro node_order(node, seed) -%}
    {{ return(adapter.dispatch('node_order', 'tessera')(node, seed)) }}
{%- endmacro %}

{% macro node_order_base() -%}
    {{ return(4294967296) }}
{%- endmacro %}

{% macro default__node_order(node, seed) -%}
    ((({{ node }} * 2654435761 + {{ seed }} * 1013904223 + 12345) % 2147483647) * {{ tessera.node_order_base() }} + {{ node }})
{%- endmacro %}

{% macro duckdb__node_order(node, seed) -%}
    (cast(hash({{ node }}, {{ seed }}) % 2147483648 as bigint) * {{ tessera.node_order_base() }} + {{ node }})
{%- endmacro %}

{% macro spark__node_order(node, seed) -%}
    (pmod(xxhash64({{ node }}, {{ seed }}), 2147483648) * {{ tessera.node_order_base() }} + {{ node }})
{%- endmacro %}

{% macro postgres__node_order(node, seed) -%}
    ((((hashint8extended({{ node }}, {{ seed }}) % 2147483648) + 2147483648) % 2147483648) * {{ tessera.node_order_base() }} + {{ node }})
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
