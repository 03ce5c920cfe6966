{#-
    Clusters identity-graph nodes into people, honouring each identifier type's limit per profile
    (seeds/identity_rules.csv), and writes `output` (node_id, cluster_id, component_id: its component before
    the limits) and `dropped` (the links dropped).

    1. Connected components of `edges` (node_a, node_b).
    2. A component with more values of a type than the type's `max_per_profile` (two user_ids linked through a
       family's shared email or tablet) is not one person. Taking the highest-priority type it breaks, every
       node of the component is labelled with its nearest value of that type (breadth-first from all of them
       at once; ties go to the lower node id, the value numbered first), and the links between differently
       labelled nodes are dropped: the link through the lower-priority identifier in between gives way, rather
       than the two profiles merging. Dropped links are kept in `dropped` with their reason.
    3. Repeat until no component breaks a limit, or fail after `max_iterations` rounds.

    `nodes` has node_id, identifier_type, priority, max_per_profile.
-#}
{% macro cluster_identities(edges, nodes, output, dropped, max_iterations=100) -%}
    {%- set current_edges = tessera.work_table(output ~ "__edges") -%}
    {#- The first round's components (before any limit) are kept for the output; later rounds write beside them. -#}
    {%- set first_components = tessera.work_table(output ~ "__first_components") -%}
    {%- set later_components = tessera.work_table(output ~ "__components") -%}
    {%- set labels = tessera.work_table(output ~ "__bfs") -%}

    {%- call statement('identity_copy_edges') -%}
        {{ tessera.create_table(current_edges) }} as select node_a, node_b from {{ edges }};
        {{ tessera.create_table(dropped) }} as
        select node_a, node_b, cast(null as {{ dbt.type_string() }}) as reason from {{ edges }} where 1 = 0
    {%- endcall -%}

    {%- set state = {'done': false, 'rounds': 0, 'components': first_components} -%}
    {%- for round in range(1, max_iterations + 1) if not state.done -%}
        {%- set components = first_components if round == 1 else later_components -%}
        {%- do state.update({'components': components}) -%}
        {%- do tessera.connected_components(current_edges, components, max_iterations) -%}
        {%- set violations = tessera.work_table(output ~ "__violations") -%}
        {%- call statement('identity_violations') -%}
            {{ tessera.create_table(violations) }} as
            with counted as (
                select components.component, nodes.identifier_type, nodes.priority, nodes.max_per_profile,
                    count(*) as values_of_type
                from {{ components }} as components
                inner join {{ nodes }} as nodes on nodes.node_id = components.node
                where nodes.max_per_profile is not null
                group by 1, 2, 3, 4
                having count(*) > nodes.max_per_profile
            ),
            ranked as (
                select counted.*, row_number() over (partition by component order by priority) as rank_in_component
                from counted
            )
            select component, identifier_type, values_of_type, max_per_profile from ranked where rank_in_component = 1
        {%- endcall -%}
        {%- set violating = run_query("select count(*) from " ~ violations).columns[0].values()[0] -%}
        {%- if violating == 0 -%}
            {%- do state.update({'done': true, 'rounds': round}) -%}
        {%- else -%}
            {%- do tessera.split_by_nearest_anchor(current_edges, components, nodes, violations, labels, dropped, max_iterations) -%}
            {%- do state.update({'rounds': round}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not state.done -%}
        {{ exceptions.raise_compiler_error(
            "cluster_identities did not settle within " ~ max_iterations ~ " rounds of limit enforcement") }}
    {%- endif -%}

    {%- call statement('identity_output') -%}
        {{ tessera.create_table(output) }} as
        select components.node as node_id, components.component as cluster_id, first_components.component as component_id
        from {{ state.components }} as components
        inner join {{ first_components }} as first_components on first_components.node = components.node;
        drop table {{ first_components }};
        drop table if exists {{ later_components }};
        drop table {{ current_edges }};
        drop table if exists {{ tessera.work_table(output ~ "__violations") }}
    {%- endcall -%}
    {{ log("cluster_identities: settled after " ~ state.rounds ~ " round(s) of limit enforcement", info=true) }}
{%- endmacro %}

{#- One round of step 2 for every violating component: label by nearest anchor, drop links across labels. -#}
{% macro split_by_nearest_anchor(current_edges, components, nodes, violations, labels, dropped, max_iterations) -%}
    {%- set scope = labels ~ "_scope" -%}
    {%- call statement('identity_bfs_start') -%}
        {{ tessera.create_table(scope) }} as
        select components.node, components.component, violations.identifier_type,
            violations.values_of_type, violations.max_per_profile
        from {{ components }} as components
        inner join {{ violations }} as violations on violations.component = components.component;
        {{ tessera.create_table(labels) }} as
        select scope.node, scope.node as anchor, 0 as distance
        from {{ scope }} as scope
        inner join {{ nodes }} as nodes
            on nodes.node_id = scope.node and nodes.identifier_type = scope.identifier_type
    {%- endcall -%}
    {%- set state = {'reached': 1} -%}
    {%- for step in range(1, max_iterations + 1) if state.reached > 0 -%}
        {%- call statement('identity_bfs_step') -%}
            insert into {{ labels }}
            with frontier as (
                select node, anchor from {{ labels }} where distance = {{ step - 1 }}
            ),
            neighbours as (
                select edges.node_b as node, frontier.anchor
                from frontier inner join {{ current_edges }} as edges on edges.node_a = frontier.node
                union all
                select edges.node_a as node, frontier.anchor
                from frontier inner join {{ current_edges }} as edges on edges.node_b = frontier.node
            )
            select neighbours.node, min(neighbours.anchor) as anchor, {{ step }} as distance
            from neighbours
            left join {{ labels }} as labelled on labelled.node = neighbours.node
            where labelled.node is null
            group by neighbours.node
        {%- endcall -%}
        {%- set reached = run_query("select count(*) from " ~ labels ~ " where distance = " ~ step).columns[0].values()[0] -%}
        {%- do state.update({'reached': reached}) -%}
    {%- endfor -%}
    {%- call statement('identity_drop_links') -%}
        insert into {{ dropped }}
        select edges.node_a, edges.node_b,
            'joins ' || cast(scope.values_of_type as {{ dbt.type_string() }}) || ' values of ' || scope.identifier_type
            || ' (at most ' || cast(scope.max_per_profile as {{ dbt.type_string() }}) || ')' as reason
        from {{ current_edges }} as edges
        inner join {{ labels }} as label_a on label_a.node = edges.node_a
        inner join {{ labels }} as label_b on label_b.node = edges.node_b
        inner join {{ scope }} as scope on scope.node = edges.node_a
        where label_a.anchor <> label_b.anchor;
        delete from {{ current_edges }}
        where exists (
            select 1 from {{ dropped }} as dropped
            where dropped.node_a = {{ current_edges }}.node_a and dropped.node_b = {{ current_edges }}.node_b
        );
        drop table {{ labels }};
        drop table {{ scope }}
    {%- endcall -%}
{%- endmacro %}

{#-
    cluster_identities for a run that has the last run's clusters (`previous`: node_id, cluster_id,
    component_id, priority, max_per_profile) and edges (`previous_edges`): only the components the change
    touches are clustered again, the rest keep their clusters and dropped links.

    Touched: both ends of every edge added or removed since the last run (new records, a newly blocked value,
    a record whose key changed) and every node whose rule (priority, limit) changed. The scope is every node of
    a component (before limits) holding a touched node, plus the new nodes; edges never cross it, so clustering
    it alone gives what clustering everything would. Without a previous run, or on `--full-refresh`, the scope is
    everything.
-#}
{% macro recluster_identities(edges, nodes, previous, previous_edges, output, dropped, max_iterations=100) -%}
    {%- set scope = tessera.work_table(output ~ "__scope") -%}
    {%- set scoped_edges = tessera.work_table(output ~ "__scoped_edges") -%}
    {%- set scoped = tessera.work_table(output ~ "__scoped") -%}
    {%- set scoped_dropped = tessera.work_table(output ~ "__scoped_dropped") -%}
    {%- call statement('identity_scope', fetch_result=True) -%}
        {{ tessera.create_table(scope) }} as
        with added as (
            select node_a, node_b from {{ edges }}
            except
            select node_a, node_b from {{ previous_edges }}
        ),
        removed as (
            select node_a, node_b from {{ previous_edges }}
            except
            select node_a, node_b from {{ edges }}
        ),
        touched as (
            select node_a as node from added
            union
            select node_b as node from added
            union
            select node_a as node from removed
            union
            select node_b as node from removed
            union
            select previous.node_id as node
            from {{ previous }} as previous
            inner join {{ nodes }} as nodes on nodes.node_id = previous.node_id
            where nodes.priority <> previous.priority
                or coalesce(nodes.max_per_profile, -1) <> coalesce(previous.max_per_profile, -1)
        ),
        touched_components as (
            select distinct previous.component_id
            from {{ previous }} as previous
            inner join touched on touched.node = previous.node_id
        )
        select previous.node_id as node
        from {{ previous }} as previous
        inner join touched_components on touched_components.component_id = previous.component_id
        union
        select node from touched;
        {{ tessera.create_table(scoped_edges) }} as
        select edges.node_a, edges.node_b
        from {{ edges }} as edges
        inner join {{ scope }} as scope on scope.node = edges.node_a;
        select
            (select count(*) from {{ scope }}),
            (select count(*) from {{ previous }})
    {%- endcall -%}
    {%- set counts = load_result('identity_scope').table.rows[0] -%}
    {%- do tessera.cluster_identities(scoped_edges, nodes, scoped, scoped_dropped, max_iterations) -%}
    {%- call statement('identity_merge_scope') -%}
        {{ tessera.create_table(output) }} as
        select previous.node_id, previous.cluster_id, previous.component_id
        from {{ previous }} as previous
        where not exists (select 1 from {{ scope }} as scope where scope.node = previous.node_id)
        union all
        select node_id, cluster_id, component_id from {{ scoped }};
        delete from {{ dropped }}
        where exists (select 1 from {{ scope }} as scope where scope.node = {{ dropped }}.node_a);
        insert into {{ dropped }} select node_a, node_b, reason from {{ scoped_dropped }};
        drop table {{ scoped }};
        drop table {{ scoped_dropped }};
        drop table {{ scoped_edges }};
        drop table {{ scope }}
    {%- endcall -%}
    {{ log("recluster_identities: " ~ counts[0] ~ " of " ~ counts[1] ~ " nodes in the components the new data touched", info=true) }}
{%- endmacro %}
