{#-
    Connected components of an undirected graph, computed in the warehouse.

    `edges` is a relation with integer columns `node_a`, `node_b`; the result is the table `output` with
    `node` and `component` (the smallest node of its component), one row per node that has an edge.

    Min-label propagation with hooking and pointer jumping: each round a node takes the smallest label among
    itself and its neighbours, the node its label names (the root of its tree) takes the smallest label any of
    its tree's members saw, and every node then jumps to its label's label. Leaves (a node whose only
    neighbour has others) sit the rounds out and take their neighbour's component at the end. A chain of n nodes is resolved in
    about log n rounds (8 for 1,000 nodes, 17 for a million), where plain propagation needs n. The loop stops only at the fixpoint, when no edge joins two different labels, which is
    exactly when the labels are the components; if that has not happened within `max_iterations` rounds, it
    raises an error rather than return a partial answer.

    Plain SQL (create table as, joins, group by), so it ports to Spark and PostgreSQL; only the table DDL is
    dispatched. Models call it; `compute_connected_components` below runs it as a dbt operation.
-#}
{% macro connected_components(edges, output, max_iterations=100) -%}
    {%- set started = modules.datetime.datetime.now() -%}
    {%- set classified = tessera.work_table(output ~ "__classified") -%}
    {%- set adjacency = tessera.work_table(output ~ "__adjacency") -%}
    {%- set labels = tessera.work_table(output ~ "__labels") -%}
    {%- set next_labels = tessera.work_table(output ~ "__next") -%}
    {#- A leaf (one neighbour, itself with more) takes its neighbour's component at the end: identity graphs are
        mostly stars, so leaving leaves out of the rounds halves the work. -#}
    {%- set is_leaf_edge = "(degree_a = 1 and degree_b > 1) or (degree_b = 1 and degree_a > 1)" -%}

    {%- call statement('cc_prepare') -%}
        {{ tessera.create_table(classified) }} as
        with degrees as (
            select node, count(*) as degree
            from (
                select node_a as node from {{ edges }} where node_a <> node_b
                union all
                select node_b as node from {{ edges }} where node_a <> node_b
            ) as ends
            group by node
        )
        select
            edges.node_a,
            edges.node_b,
            coalesce(degree_a.degree, 0) as degree_a,
            coalesce(degree_b.degree, 0) as degree_b
        from {{ edges }} as edges
        left join degrees as degree_a on degree_a.node = edges.node_a
        left join degrees as degree_b on degree_b.node = edges.node_b;
        {{ tessera.create_table(adjacency) }} as
        select node_a as node, node_b as neighbour from {{ classified }}
        where node_a <> node_b and not ({{ is_leaf_edge }})
        union all
        select node_b as node, node_a as neighbour from {{ classified }}
        where node_a <> node_b and not ({{ is_leaf_edge }});
        {{ tessera.create_table(labels) }} as
        select node, min(label) as label
        from (
            select node, case when neighbour < node then neighbour else node end as label from {{ adjacency }}
            union all
            select node_a, node_a from {{ classified }} where degree_a > 1 or (node_a = node_b and degree_a = 0)
            union all
            select node_b, node_b from {{ classified }} where degree_b > 1
        ) as seeds
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
        {{ tessera.create_table(output) }} as
        with assigned as (
            select node, label from {{ labels }}
            union all
            select classified.node_a, labels.label
            from {{ classified }} as classified inner join {{ labels }} as labels on labels.node = classified.node_b
            where classified.node_a <> classified.node_b and classified.degree_a = 1 and classified.degree_b > 1
            union all
            select classified.node_b, labels.label
            from {{ classified }} as classified inner join {{ labels }} as labels on labels.node = classified.node_a
            where classified.node_a <> classified.node_b and classified.degree_b = 1 and classified.degree_a > 1
        )
        select node, min(node) over (partition by label) as component from assigned;
        drop table {{ labels }};
        drop table {{ adjacency }};
        drop table {{ classified }}
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
