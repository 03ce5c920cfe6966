"""Loader assets: one per landing source, each loading its new files into `raw.<source>` exactly once.

A file that cannot be loaded (changed since it was loaded, a header off the contract) loads nothing, is named by
the asset's `files_accepted` check, and does not stop the source's other files or the models downstream.

No `from __future__ import annotations` here: Dagster reads the asset functions' annotations as real types.
"""

import dagster as dg
from dagster import AssetExecutionContext

from tessera.settings import Settings

from ..loading.landing import extensions
from ..loading.warehouse import SourceLoad, ensure_raw_tables, load_source
from ..quality.suites import value_sets
from ..sources import SOURCES, Source
from .automation import retry_policy
from .checks import check_spec, raw_validation
from .resources import DEFAULT_OWNER, LandingFolder, Warehouse

LOADERS_GROUP = "loaders"
FILES_ACCEPTED_CHECK = "files_accepted"


def raw_asset_key(source: Source) -> dg.AssetKey:
    return dg.AssetKey(["raw", source.name])


def load_metadata(report: SourceLoad) -> dict[str, dg.MetadataValue]:
    return {
        "files_loaded": dg.MetadataValue.int(len(report.loaded)),
        "files_skipped": dg.MetadataValue.int(len(report.skipped)),
        "files_refused": dg.MetadataValue.int(len(report.errors)),
        "rows_loaded": dg.MetadataValue.int(report.rows),
        "rows_quarantined": dg.MetadataValue.int(report.quarantined),
        "files": dg.MetadataValue.json(
            [{"file": f.file, "rows": f.rows, "quarantined": f.quarantined} for f in report.loaded]
        ),
        "left_alone": dg.MetadataValue.json(report.left_alone),
    }


def build_loader_asset(source: Source, settings: Settings) -> dg.AssetsDefinition:
    key = raw_asset_key(source)

    @dg.asset(
        key=key,
        group_name=LOADERS_GROUP,
        owners=[DEFAULT_OWNER],
        retry_policy=retry_policy(settings),
        kinds={"duckdb", "python", source.format.value},
        description=f"Loads new `{source.name}/**/*.{source.extension}` landing files (also compressed: "
        f"{', '.join(extensions(source))}) into `raw.{source.name}`. {source.description}",
        check_specs=[
            dg.AssetCheckSpec(
                FILES_ACCEPTED_CHECK,
                asset=key,
                description="Every landing file of this source could be loaded (none changed after loading, "
                "none off the contract, no link out of the landing folder).",
            ),
            check_spec(
                key,
                "the contract's columns and types, value sets, record ids not null, timestamps in a sane range, "
                "the share of rows quarantined",
                blocking=False,
            ),
        ],
    )
    def load(context: AssetExecutionContext, warehouse: Warehouse, landing: LandingFolder) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            ensure_raw_tables(con, [source])
            report = load_source(con, landing.resolved_path, source, value_sets(source.name))
            validated = raw_validation(con, source)
        context.log.info(
            f"{source.name}: {len(report.loaded)} file(s) loaded, {len(report.skipped)} already loaded, "
            f"{report.rows} row(s), {report.quarantined} quarantined"
        )
        for error in report.errors:
            context.log.error(error)
        for note in report.left_alone:
            context.log.warning(f"left alone: {note}")
        return dg.MaterializeResult(
            metadata=load_metadata(report),
            check_results=[
                dg.AssetCheckResult(
                    check_name=FILES_ACCEPTED_CHECK,
                    passed=not report.errors,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata={"refused": dg.MetadataValue.json(report.errors)},
                    description="; ".join(report.errors) or None,
                ),
                validated,
            ],
        )

    return load


def loader_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    return [build_loader_asset(source, settings) for source in SOURCES]
