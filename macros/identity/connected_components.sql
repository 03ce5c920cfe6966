{#-
    Connected components of an undirected graph, computed in the warehouse.

    `edges` is a relation with integer columns `node_a`, `node_b`; the result is the table `output` with
    `node` and `component`, one row per node that has an edge. A component is named by one of its nodes: the
    smallest that is not a leaf, or the centre of a star.

    Min-label propagation with hooking and pointer jumping: each round a node takes the smallest label among
    itself and its neighbours, the node its label names (the root of its tree) takes the smallest label any of
    its tree's members saw, and every node then jumps to its label's label. A chain of n nodes is resolved in
    about log n rounds (8 for 1,000 nodes, 17 for a million), where plain propagation needs n. The loop stops
    only at the fixpoint, when no edge joins two different labels, which is exactly when the labels are the
    components; if that has not happened within `max_iterations` rounds, it raises an error rather than return
    a partial answer.

    Identity graphs are mostly stars, so leaves (a node whose one neighbour has others) sit the rounds out and
    take their neighbour's component at the end; so does the centre of a star of leaves, which is a component
    by itself. That leaves about a third of the nodes in the rounds.

    Plain SQL (create table as, joins, group by), so it ports to Spark and PostgreSQL; only the table DDL is
    dispatched. Models call it; `compute_connected_components` below runs it as a dbt operation.
-#}
{% macro connected_components(edges, output, max_iterations=100) -%}
    {%- set started = modules.datetime.datetime.now() -%}
    {%- set degrees = tessera.work_table(output ~ "__degrees") -%}
    {%- set adjacency = tessera.work_table(output ~ "__adjacency") -%}
    {%- set labels = tessera.work_table(output ~ "__labels") -%}
    {%- set next_labels = tessera.work_table(output ~ "__next") -%}

    {%- call statement('cc_prepare') -%}
        {#- A node's degree and, for a node of degree 1, its one neighbour. -#}
        {{ tessera.create_table(degrees) }} as
        select node, count(*) as degree, min(neighbour) as first_neighbour
        from (
            select node_a as node, node_b as neighbour from {{ edges }} where node_a <> node_b
            union all
            select node_b as node, node_a as neighbour from {{ edges }} where node_a <> node_b
        ) as ends
        group by node;
        {#- Both directions of every edge but leaf edges. -#}
        {{ tessera.create_table(adjacency) }} as
        with kept as (
            select edges.node_a, edges.node_b
            from {{ edges }} as edges
            inner join {{ degrees }} as degree_a on degree_a.node = edges.node_a
            inner join {{ degrees }} as degree_b on degree_b.node = edges.node_b
            where edges.node_a <> edges.node_b
                and not ((degree_a.degree = 1 and degree_b.degree > 1) or (degree_b.degree = 1 and degree_a.degree > 1))
        )
        select node_a as node, node_b as neighbour from kept
        union all
        select node_b as node, node_a as neighbour from kept;
        {{ tessera.create_table(labels) }} as
        select node, min(case when neighbour < node then neighbour else node end) as label
        from {{ adjacency }}
        group by node
    {%- endcall -%}

    {%- set state = {'converged': false, 'rounds': 0} -%}
    {%- for round in range(1, max_iterations + 1) if not state.converged -%}
        {%- call statement('cc_round') -%}
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
            alter table {{ next_labels }} rename to {{ labels.split('.')[-1] }}
        {%- endcall -%}
        {%- set split_edges = run_query(
            "select count(*) from " ~ adjacency ~ " as adjacency"
            ~ " inner join " ~ labels ~ " as mine on mine.node = adjacency.node"
            ~ " inner join " ~ labels ~ " as theirs on theirs.node = adjacency.neighbour"
            ~ " where mine.label <> theirs.label"
        ).columns[0].values()[0] -%}
        {%- do state.update({'converged': split_edges == 0, 'rounds': round}) -%}
    {%- endfor -%}

    {%- if not state.converged -%}
        {{ exceptions.raise_compiler_error(
            "connected_components(" ~ edges ~ ") did not converge within " ~ max_iterations
            ~ " rounds: raise max_iterations (var identity_max_iterations) rather than use a partial result") }}
    {%- endif -%}
    {%- call statement('cc_output') -%}
        {#- A node of the rounds has its label; a leaf takes its neighbour's (or the neighbour itself, the
            centre of a star of leaves); any other node is a component by itself: the centre of a star of
            leaves, or a node whose only edges are to itself. -#}
        {{ tessera.create_table(output) }} as
        select
            degrees.node,
            coalesce(
                labels.label,
                case
                    when degrees.degree = 1 and neighbours.degree > 1
                    then coalesce(neighbour_labels.label, degrees.first_neighbour)
                end,
                degrees.node
            ) as component
        from {{ degrees }} as degrees
        left join {{ labels }} as labels on labels.node = degrees.node
        left join {{ degrees }} as neighbours
            on degrees.degree = 1 and neighbours.node = degrees.first_neighbour
        left join {{ labels }} as neighbour_labels
            on degrees.degree = 1 and neighbour_labels.node = degrees.first_neighbour
        union all
        select distinct edges.node_a as node, edges.node_a as component
        from {{ edges }} as edges
        where edges.node_a = edges.node_b
            and not exists (select 1 from {{ degrees }} as degrees where degrees.node = edges.node_a);
        drop table {{ labels }};
        drop table {{ adjacency }};
        drop table {{ degrees }}
    {%- endcall -%}
    {%- set seconds = (modules.datetime.datetime.now() - started).total_seconds() -%}
    {{ log("connected_components(" ~ edges ~ "): converged in " ~ state.rounds ~ " rounds, "
        ~ "%.3f" | format(seconds) ~ "s", info=true) }}
    {{ return(state.rounds) }}
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
