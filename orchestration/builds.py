"""What a build has to rebuild: the models downstream of what changed since the last build that succeeded.

Every build that succeeds is recorded in `raw._builds` with two fingerprints taken before it started: the
project's (`project_fingerprint`: every file dbt reads, the identity plugin's code, the dbt target, the versions
of dbt and DuckDB) and each raw table's (`loading.warehouse.input_fingerprints`: rows loaded, validations). The
next build compares them with now (`plan_build`):

- no build succeeded before, or the project changed: everything is built (and dbt's incremental models decide
  what each recomputes);
- some raw tables changed: the models downstream of them (what `source:<source>.<table>+` selects) with their
  tests, and the reference tables those tests also read; an erasure purge changes the tables it deleted from
  and the tombstones, which the privacy models read; a table of the sync engine's that appeared changes the
  views over it (`optional_relation`);
- nothing changed: nothing is built, since every model would come out as it is.

Either way a model whose relation is missing from the warehouse is built again, with what is downstream of it.
A build that fails records nothing, so the next one builds all that changed since the last good one, and a
failing test runs (and fails) again until what broke it is fixed.

The models are deterministic in their inputs (the reference time of the windowed traits is the newest event, not
the clock), which is what makes leaving the others alone exact: a test builds a day's files for one source and
compares every mart with a full build.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb

import identity

from .loading.warehouse import ERASURES_INPUT, SYNC_TABLES_INPUT, input_fingerprints, last_build
from .prepare import dbt_input_files, dbt_variables

# The dbt resources a build materialises (the others are tests, sources, exposures ...).
BUILT_TYPES = ("model", "seed", "snapshot")
VERSIONED = ("dbt-core", "dbt-duckdb", "duckdb")
# What models read that is no dbt source, by the macro they read it through.
READ_THROUGH_MACROS = {
    ERASURES_INPUT: "macro.tessera.erasure_tombstones",
    SYNC_TABLES_INPUT: "macro.tessera.optional_relation",
}


def project_fingerprint(project_dir: Path) -> str:
    """A SHA-256 of everything that decides what the dbt project builds from the same rows: its files (those dbt
    reads, generated ones included), the identity plugin's code, the dbt target, and the versions of dbt, its
    adapter and DuckDB."""
    digest = hashlib.sha256()
    for path in [*dbt_input_files(project_dir), *sorted(Path(identity.__file__).parent.glob("*.py"))]:
        digest.update(f"{path.name}\0".encode())
        digest.update(path.read_bytes())
    digest.update(dbt_variables()["TESSERA_DBT_TARGET"].encode())
    for package in VERSIONED:
        digest.update(f"{package}={metadata.version(package)}".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class BuildPlan:
    """What to build. `exclude` is empty when everything is built (`everything`), else what dbt leaves out:
    the nodes left as they are and the sources that did not change. `built` and `unchanged` are the unique
    ids of the models, seeds and snapshots the build makes, and of those it leaves as they are. `project` and
    `inputs` are recorded when the build succeeds."""

    everything: bool
    reason: str
    project: str
    inputs: dict[str, str]
    exclude: list[str] = field(default_factory=list)
    built: set[str] = field(default_factory=set)
    unchanged: set[str] = field(default_factory=set)


def plan_build(con: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any], project: str) -> BuildPlan:
    """What a build of `manifest` (the project with fingerprint `project`) must make against the warehouse `con`,
    given the last build that succeeded there."""
    inputs = input_fingerprints(con)
    nodes = {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] in BUILT_TYPES}
    previous = last_build(con)
    if previous is None:
        return BuildPlan(True, "no build of this warehouse has succeeded before", project, inputs, built=set(nodes))
    if previous[0] != project:
        return BuildPlan(True, "the dbt project changed since the last build", project, inputs, built=set(nodes))
    before = previous[1]
    changed = sorted(table for table, fingerprint in inputs.items() if before.get(table) != fingerprint)
    by_table = {(source["schema"], source["identifier"]): uid for uid, source in manifest["sources"].items()}
    sources = [by_table[("raw", table)] for table in changed if ("raw", table) in by_table]
    readers = [
        uid
        for uid, node in nodes.items()
        if any(READ_THROUGH_MACROS.get(table) in node["depends_on"]["macros"] for table in changed)
    ]
    missing = _missing_relations(con, nodes)
    roots = [*sources, *readers, *missing]
    built = _downstream(manifest, roots, set(nodes))
    if built:
        built |= _tested_beside(manifest, built)
    left = set(nodes) - built
    exclude = sorted(nodes[uid]["name"] for uid in left)
    exclude += sorted(
        f"source:{source['source_name']}.{source['name']}"
        for uid, source in manifest["sources"].items()
        if uid not in sources
    )
    if not roots:
        reason = "no raw table changed since the last build: every model is as it was"
    else:
        named = [*changed, *(f"{nodes[uid]['name']} (missing)" for uid in missing)]
        reason = f"building what is downstream of {', '.join(named)}; the others are unchanged"
    return BuildPlan(False, reason, project, inputs, exclude, built, left)


def _tested_beside(manifest: Mapping[str, Any], built: set[str]) -> set[str]:
    """The models and seeds that a data test of a built model also reads (a relationships test's reference table,
    the rules a singular test checks against). They are built again too: dbt would leave out a test that touches
    a node left out of the build, and the test must run on the rows the build wrote."""
    beside: set[str] = set()
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test":
            parents = set(node["depends_on"]["nodes"])
            if parents & built:
                beside |= {uid for uid in parents - built if uid.split(".")[0] in BUILT_TYPES}
    return beside


def _downstream(manifest: Mapping[str, Any], roots: list[str], buildable: set[str]) -> set[str]:
    """The models, seeds and snapshots of `roots` and downstream of them (what dbt's `+` suffix selects)."""
    found: set[str] = set()
    stack = list(roots)
    while stack:
        uid = stack.pop()
        for child in manifest["child_map"].get(uid, []):
            if child in buildable and child not in found:
                found.add(child)
                stack.append(child)
    return found | (set(roots) & buildable)


def _missing_relations(con: duckdb.DuckDBPyConnection, nodes: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The nodes whose table or view is not in the warehouse (dropped by hand, or never built)."""
    present = {
        (schema, name)
        for schema, name in con.execute("select table_schema, table_name from information_schema.tables").fetchall()
    }
    return sorted(
        uid
        for uid, node in nodes.items()
        if node["config"].get("materialized") != "ephemeral"
        and (node["schema"], node.get("alias") or node["name"]) not in present
    )
