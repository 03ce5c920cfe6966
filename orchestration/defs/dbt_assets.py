"""The dbt project as Dagster assets: every model downstream of the loaders it reads, dbt tests as asset checks.

`dbt_models()` reads the manifest that `orchestration.prepare.prepare()` wrote; importing this module reads
nothing.
"""

import graphlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from reverse_etl.state import ensure_state_tables
from tessera.settings import MANIFEST, PROJECT_DIR

from ..builds import BUILT_TYPES, BuildPlan, plan_build, project_fingerprint
from ..loading.warehouse import mark_retractions_rebuilt, record_build, retractions_pending_rebuild
from ..prepare import DBT_EXECUTABLE
from .resources import DEFAULT_OWNER, Warehouse

# A run with this tag set to "true" runs every data test over its whole table, not only the rows it wrote.
FULL_CHECKS_TAG = "tessera/full_checks"
# The metadata of a model's output when the build left it as it was (its inputs are as at the last build).
UNCHANGED = "unchanged"

# The asset groups, by layer, in the order data flows: the dbt folder (fqn after the project) decides.
LAYERS: list[tuple[tuple[str, ...], str]] = [
    (("staging",), "staging"),
    (("intermediate", "identity"), "identity"),
    (("intermediate", "segments"), "segments"),
    (("marts", "segments"), "segments"),
    (("segments",), "segments"),
    (("intermediate",), "profiles"),  # traits, consent, privacy
    (("marts",), "profiles"),  # the customer 360, consent and privacy marts
    (("activation",), "activation"),
]


def layer_of(dbt_resource_props: Mapping[str, Any]) -> str:
    """The group of a dbt model by its folder; seeds (reference data the staging models join) are staging."""
    path = tuple(dbt_resource_props.get("fqn", [])[1:-1])
    return next((group for prefix, group in LAYERS if path[: len(prefix)] == prefix), "staging")


class TesseraDbtTranslator(DagsterDbtTranslator):
    """Keys are `<schema>/<model>`, so a model reads as where it lives (`staging/stg_crm__contacts`); a dbt
    source is the loader asset that fills it (`raw/<table>`); groups are the layers (LAYERS); owners are the
    model's `meta.owner` (a segment's `meta.segment.owner`), else the data team."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["raw", dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["config"]["schema"] or "main", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return layer_of(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        meta = {**dbt_resource_props.get("meta", {}), **dbt_resource_props.get("config", {}).get("meta", {})}
        owner = meta.get("owner") or (meta.get("segment") or {}).get("owner") or DEFAULT_OWNER
        return [owner]


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)  # its target/ holds MANIFEST


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project(), dbt_executable=DBT_EXECUTABLE)


def dbt_models() -> dg.AssetsDefinition:
    """The dbt assets, from the prepared manifest."""

    @dbt_assets(manifest=MANIFEST, project=dbt_project(), dagster_dbt_translator=TesseraDbtTranslator())
    def tessera_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
        yield from build(context, dbt, warehouse)

    return tessera_dbt_models


def build(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
    """`dbt build`: runs the models and their data tests in dependency order, into the loaders' warehouse, as far
    as anything changed since the last build that succeeded (`orchestration.builds`): only what is downstream of
    the raw tables that changed, nothing when none did. The models left alone are reported unchanged (an output
    with `unchanged` metadata), so what is downstream of them, the syncs above all, runs as usual.

    The tests on incremental models read the rows the build wrote (macros/tests/scoped_tests.sql); a run tagged
    FULL_CHECKS_TAG (`tessera run --full-checks`, the weekly schedule) builds everything and reads whole tables.
    Unit tests check the SQL, not the data: the test suite runs them, not every build. After a file was
    retracted (`tessera files retract`), the build is a full refresh, so that nothing built from the file's rows
    is left (customer ids and node numbers survive it). A run of some of the models (a subset picked in
    Dagster's UI) builds just those."""
    full_checks = context.run.tags.get(FULL_CHECKS_TAG) == "true"
    with warehouse.connect() as con:
        ensure_state_tables(con)  # so that the marts over the syncs' tables read them from the first build on
        retracted = retractions_pending_rebuild(con)
        manifest = json.loads(MANIFEST.read_text())
        plan = plan_build(con, manifest, project_fingerprint(PROJECT_DIR))
    arguments = ["build", "--exclude-resource-type", "unit_test"]
    if retracted:
        arguments.append("--full-refresh")
        context.log.info(f"{retracted} file(s) retracted since the last build: rebuilding with --full-refresh")
    if full_checks:
        arguments += ["--vars", '{"full_checks": true}']
        context.log.info("full checks: every data test reads its whole table")
    whole_run = set(context.selected_asset_keys) == set(context.assets_def.keys)
    by_change = whole_run and not retracted and not full_checks and not plan.everything
    unchanged = Unchanged(context, manifest, plan.unchanged if by_change else set(), plan.reason)
    if by_change:
        context.log.info(plan.reason)
        if not plan.built:
            yield from unchanged.remaining()
            return
        arguments += ["--exclude", " ".join(plan.exclude)]
    with warehouse.exported_to_dbt():
        invocation = dbt.cli(arguments, context=context, raise_on_error=False)
        for event in invocation.stream():
            if isinstance(event, dg.Output):
                yield from unchanged.before(context.assets_def.keys_by_output_name[event.output_name])
            yield event
    yield from unchanged.remaining()
    if not full_checks:  # parsed with other vars: its state would cost the next daily build a whole parse
        keep_partial_parse(invocation.target_path)
    if error := invocation.get_error():
        raise error
    if retracted:
        with warehouse.connect() as con:
            mark_retractions_rebuilt(con)
    if whole_run:
        _record(warehouse, plan)


PARTIAL_PARSE = "partial_parse.msgpack"


def keep_partial_parse(invocation_target: Path) -> None:
    """Keeps the parse state of the build that just ran for the next one. dagster-dbt gives every invocation a
    target folder of its own and seeds it with `target/partial_parse.msgpack`, which `prepare` wrote; dbt rejects
    that state as a whole when the profile it was parsed with differs from the build's (another warehouse path: the
    demo's, a benchmark's or a test's), and parses the whole project again, about 6 s, in every build. Put back,
    the state the build parsed serves the next build on the same warehouse; dbt still checks every file against it
    (a project changed since is parsed again where it changed). Replaced in one step, so that a build starting
    meanwhile reads the old state or the new one, never half of one."""
    state = invocation_target / PARTIAL_PARSE
    if not state.is_file():
        return
    kept = MANIFEST.parent / PARTIAL_PARSE
    staged = kept.with_name(f".{PARTIAL_PARSE}.{os.getpid()}")
    shutil.copyfile(state, staged)
    os.replace(staged, kept)


class Unchanged:
    """The outputs of the models a build leaves as they are, each with `unchanged` metadata saying why. Dagster
    wants a step's outputs in dependency order, so each goes out just before the first built model downstream of
    it (`before`), the others at the end (`remaining`)."""

    def __init__(self, context: AssetExecutionContext, manifest: Mapping[str, Any], nodes: set[str], reason: str):
        self.context, self.manifest, self.reason = context, manifest, reason
        translator = TesseraDbtTranslator()
        built = {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] in BUILT_TYPES}
        self.key_of = {uid: translator.get_asset_key(node) for uid, node in built.items()}
        self.node_of = {key: uid for uid, key in self.key_of.items()}
        self.pending = set(nodes)

    def before(self, key: dg.AssetKey):
        """The outputs still pending upstream of the model `key`, in dependency order."""
        if not self.pending:
            return
        ancestors, stack = set(), [self.node_of.get(key)]
        while stack:
            for parent in self.manifest["parent_map"].get(stack.pop(), ()):
                if parent not in ancestors:
                    ancestors.add(parent)
                    stack.append(parent)
        yield from self._outputs(ancestors & self.pending)

    def remaining(self):
        yield from self._outputs(set(self.pending))

    def _outputs(self, nodes: set[str]):
        parents = {uid: set(self.manifest["parent_map"].get(uid, ())) & nodes for uid in nodes}
        for uid in graphlib.TopologicalSorter(parents).static_order():
            self.pending.discard(uid)
            key = self.key_of[uid]
            if key in self.context.selected_asset_keys:
                yield dg.Output(
                    None,
                    output_name=self.context.assets_def.get_output_name_for_asset_key(key),
                    metadata={UNCHANGED: dg.MetadataValue.text(self.reason)},
                )


def _record(warehouse: Warehouse, plan: BuildPlan) -> None:
    with warehouse.connect() as con:
        record_build(con, plan.project, plan.inputs)
