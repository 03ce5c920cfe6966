"""The `tessera` command: generate demo data, run the pipeline, run the demo.

Paths follow `shared/contracts/warehouse.md`: the warehouse at `TESSERA_WAREHOUSE` (default
`warehouse/tessera.duckdb` under the project) and the landing folder at `TESSERA_LANDING_DIR` (default
`data/landing`).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated

import typer

from . import settings

app = typer.Typer(
    help="Tessera, the warehouse-native customer data platform.", no_args_is_help=True, add_completion=False
)


@app.callback()
def _owner_only() -> None:
    """Everything a command creates (the warehouse, exports, logs, the Dagster instance) holds personal data:
    owner-only (files 0600, folders 0700)."""
    import os

    os.umask(0o077)


WAIT_HELP = "Seconds to wait for a build that holds the warehouse (default: say so and stop)."
DEMO_DIR = settings.PROJECT_DIR / "data" / "demo"
DEMO_WAREHOUSE = settings.PROJECT_DIR / "warehouse" / "demo.duckdb"
DEMO_CUSTOMERS, DEMO_DAYS, DEMO_SEED = 2_000, 14, 42


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="The landing folder to write; must be new or empty.")],
    customers: Annotated[int, typer.Option(min=1, help="How many people.")] = 10_000,
    days: Annotated[int, typer.Option(min=1, help="How many days of activity, one file per source and day.")] = 30,
    seed: Annotated[int, typer.Option(help="The same seed gives the same bytes.")] = 1,
) -> None:
    """Write the demo retailer's landing files (per sources.md) and their ground truth (`_truth/`)."""
    from .demo_data import LandingFolderNotEmpty
    from .demo_data import generate as generate_landing

    started = time.monotonic()
    try:
        summary = generate_landing(out, customers, days, seed)
    except LandingFolderNotEmpty as error:
        raise typer.BadParameter(str(error), param_hint="--out") from None
    typer.echo(f"Wrote {sum(summary.records.values()):,} records for {customers:,} people over {days} days to {out}")
    for source, count in sorted(summary.records.items()):
        broken = summary.malformed.get(source, 0)
        typer.echo(f"  {source:<20}{count:>12,}" + (f"  (+{broken} deliberately malformed)" if broken else ""))
    typer.echo(f"  ground truth: {out / '_truth' / 'identity.csv'}  ({time.monotonic() - started:.1f}s)")


@app.command()
def run(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Dagster's and dbt's own logs.")] = False,
) -> None:
    """Run the pipeline once, through Dagster, in-process: load new landing files, then build and test dbt."""
    summary = _run(settings.warehouse_path(), settings.landing_dir(), verbose)
    raise typer.Exit(0 if summary.succeeded else 1)


@app.command()
def demo(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Dagster's and dbt's own logs.")] = False,
) -> None:
    """Generate a small demo data set and run the pipeline on it from an empty state.

    The demo owns `data/demo/`, `warehouse/demo.duckdb` and `warehouse/demo/` (its syncs' files) and starts them
    afresh; it never touches your own landing folder or warehouse.
    """
    from reverse_etl.engine import files_folder

    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_WAREHOUSE.unlink(missing_ok=True)
    shutil.rmtree(files_folder(DEMO_WAREHOUSE), ignore_errors=True)
    landing = DEMO_DIR / "landing"
    generate(out=landing, customers=DEMO_CUSTOMERS, days=DEMO_DAYS, seed=DEMO_SEED)
    typer.echo("")
    summary = _run(DEMO_WAREHOUSE, landing, verbose)
    succeeded = False
    if summary.succeeded:
        from .identity_evaluation import evaluate_identity as score

        scores = score(DEMO_WAREHOUSE, landing / "_truth" / "identity.csv")
        typer.echo("\nIdentity resolution against the generator's ground truth:\n" + scores.render())
        warehouse = DEMO_WAREHOUSE.relative_to(settings.PROJECT_DIR)
        typer.echo("")
        _report_segments(DEMO_WAREHOUSE, chart=None)
        succeeded = _demo_saas_syncs()
        typer.echo(
            "\nWhere to look next:\n"
            '  the customers:  .venv/bin/tessera query --demo "select * from marts.customer_profiles limit 10"\n'
            "                  (also marts.customer_identities, customer_events, consent_decisions, privacy_requests)\n"
            '  the segments:   .venv/bin/tessera query --demo "select * from marts.segment_memberships limit 10"\n'
            "                  (declare your own in segments/*.yml; see the README)\n"
            f"  the syncs:      {files_folder(warehouse) / 'exports'}/ (the demo's file sync), and\n"
            '                  .venv/bin/tessera query --demo "select * from reverse_etl.sync_runs"\n'
            "  the load log:   select * from raw._loads;  quarantined rows: select * from raw._quarantine\n"
            f"  the data:       {landing.relative_to(settings.PROJECT_DIR)}  (ground truth in _truth/)\n"
            "  the pipeline:   .venv/bin/tessera ui --demo    (the Dagster UI: asset graph, checks, runs)\n"
            "  the catalog:    .venv/bin/tessera docs --demo  (dbt docs: models, columns, PII tags, lineage)"
        )
    raise typer.Exit(0 if summary.succeeded and succeeded else 1)


def _demo_saas_syncs() -> bool:
    """The demo segments synced to local stand-ins of the SaaS tools; True when every sync succeeded."""
    from reverse_etl.demo import DEMO_SYNCS, sync_to_stand_ins

    typer.echo(
        f"\nSyncs to local stand-ins of HubSpot, Salesforce, Klaviyo, Mailchimp, Braze, Meta and Google Ads "
        f"({DEMO_SYNCS.relative_to(settings.PROJECT_DIR)}/):"
    )
    report = sync_to_stand_ins(DEMO_WAREHOUSE)
    for sync in report:
        typer.echo(sync.render())
    return all(sync.result.status == "succeeded" for sync in report)


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="The port of the Dagster UI.")] = 3000,
    demo: Annotated[bool, typer.Option("--demo", help="Point it at the demo's warehouse and landing folder.")] = False,
) -> None:
    """Start the Dagster UI (and its daemon: schedules and sensors) on the project, at http://127.0.0.1:PORT."""
    import os
    import subprocess
    import sys

    from .instance import dagster_home, project_instance
    from .runs import fail_dead_runs

    env = dict(os.environ, DAGSTER_HOME=str(dagster_home()))
    with project_instance() as instance:
        for run_id in fail_dead_runs(instance):
            typer.echo(f"run {run_id} had died without ending: marked failed")
    if demo:
        env.update({settings.WAREHOUSE_ENV: str(DEMO_WAREHOUSE), settings.LANDING_ENV: str(DEMO_DIR / "landing")})
    typer.echo(f"Dagster UI at http://127.0.0.1:{port} (instance in {env['DAGSTER_HOME']}); Ctrl-C stops it")
    command = [sys.executable, "-m", "dagster", "dev", "-m", "orchestration.definitions", "-h", "127.0.0.1"]
    raise typer.Exit(subprocess.run([*command, "-p", str(port)], env=env, cwd=settings.PROJECT_DIR).returncode)


@app.command()
def docs(
    port: Annotated[int, typer.Option(help="The port to serve the docs on.")] = 8080,
    serve: Annotated[bool, typer.Option(help="Serve them after building (--no-serve: only build).")] = True,
    demo: Annotated[bool, typer.Option("--demo", help="Document the demo's warehouse.")] = False,
    wait: Annotated[float, typer.Option(help=WAIT_HELP, min=0)] = 0,
) -> None:
    """Build the catalog (dbt docs: sources, models, columns with their PII tags, lineage, the segments and the
    syncs' exposures) from the warehouse, then serve it at http://127.0.0.1:PORT."""
    from .catalog import build_docs, serve_docs

    warehouse = DEMO_WAREHOUSE if demo else settings.warehouse_path()
    _reader(warehouse, wait).close()  # dbt docs needs the warehouse: say who holds it rather than fail in dbt
    site = build_docs(warehouse)
    typer.echo(f"Catalog built in {site}")
    if serve:
        typer.echo(f"Serving it at http://127.0.0.1:{port}; Ctrl-C stops it")
        serve_docs(site, port)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="A SQL query, e.g. 'select * from marts.customer_profiles limit 10'.")],
    demo: Annotated[bool, typer.Option("--demo", help="Query the demo's warehouse instead.")] = False,
    wait: Annotated[float, typer.Option(help=WAIT_HELP, min=0)] = 0,
) -> None:
    """Run a read-only SQL query against the warehouse and print the result. The query reaches nothing outside
    the warehouse: no file is read or written, no database attached, no setting changed."""
    import duckdb

    warehouse = DEMO_WAREHOUSE if demo else settings.warehouse_path()
    with _reader(warehouse, wait, sandbox=True) as con:
        try:
            typer.echo(con.sql(sql))
        except duckdb.Error as error:
            raise typer.BadParameter(str(error), param_hint="SQL") from None


@app.command("evaluate-identity")
def evaluate_identity(
    truth: Annotated[
        Path | None,
        typer.Option(help="A CSV of source, record_id, person_id; default: _truth/identity.csv of the landing folder."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
) -> None:
    """Score identity resolution (marts.customer_source_records) against labelled records."""
    import json

    from .identity_evaluation import evaluate_identity as score

    truth = truth or settings.landing_dir() / "_truth" / "identity.csv"
    try:
        scores = score(settings.warehouse_path(), truth)
    except FileNotFoundError as error:
        raise typer.BadParameter(str(error)) from None
    if json_output:
        typer.echo(json.dumps(scores.as_dict(), indent=2))
    else:
        typer.echo(f"Identity resolution in {settings.warehouse_path()} against {truth}:")
        typer.echo(scores.render())


@app.command()
def sync(
    name: Annotated[str | None, typer.Argument(help="One sync to run; default: every sync.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and render payloads; send and write nothing.")
    ] = False,
    full: Annotated[bool, typer.Option("--full", help="Re-send every row, not only the changes.")] = False,
) -> None:
    """Run the reverse-ETL syncs (reverse_etl/syncs/*.yml) now, against the warehouse."""
    import json
    import threading

    from reverse_etl.definitions import SyncDefinitionError
    from reverse_etl.engine import load_syncs, run_syncs

    try:
        syncs = load_syncs()
    except SyncDefinitionError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    if name is not None:
        syncs = [definition for definition in syncs if definition.name == name]
        if not syncs:
            known = ", ".join(sorted(definition.name for definition in load_syncs())) or "none"
            raise typer.BadParameter(f"no sync named {name!r}; defined: {known}", param_hint="NAME")
    warehouse = settings.warehouse_path()
    if not warehouse.is_file():
        raise typer.BadParameter(f"{warehouse}: no warehouse there; run `tessera run` (or `tessera demo`) first")
    lock = threading.Lock()

    def progress(sync_name: str, done: int, total: int) -> None:
        with lock:
            width = 30
            filled = width * done // max(total, 1)
            typer.echo(
                f"\r  {sync_name:<30} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}",
                err=True,
                nl=done == total,
            )

    results = run_syncs(warehouse, syncs, dry_run=dry_run, full=full, progress=progress)
    header = (
        f"  {'sync':<30}{'status':>10}{'planned':>9}{'sent':>8}{'accepted':>10}{'rejected':>10}{'skipped':>9}"
        f"{'not eligible':>14}"
    )
    typer.echo(("Dry run: nothing sent, nothing written\n" if dry_run else "") + header)
    for result in results:
        typer.echo(
            f"  {result.name:<30}{result.status:>10}{result.planned:>9,}{result.sent:>8,}{result.accepted:>10,}"
            f"{result.rejected:>10,}{result.skipped:>9,}{result.not_eligible:>14,}"
        )
        if result.error:
            typer.echo(f"    error: {result.error}")
        for reason, count in result.reasons.most_common(5):
            typer.echo(f"    rejected {count:,}: {reason}")
        if result.not_sendable:
            typer.echo(f"    {result.not_sendable:,} row(s) the destination cannot take, unchanged: not sent again")
        if result.erased or result.erasures_pending:
            typer.echo(
                f"    erased {result.erased:,}; {result.erasures_pending:,} erasure(s) waiting (tessera privacy)"
            )
        if dry_run:
            for planned in [p for p in result.plan if p.operation][:5]:
                fields = json.dumps(planned.change.fields, default=str, ensure_ascii=False)
                typer.echo(f"    {planned.operation} {planned.change.record_key}: {fields}")
            for key, problems in list(result.problems.items())[:5]:
                typer.echo(f"    invalid {key}: {'; '.join(problems)}")
    raise typer.Exit(1 if any(result.status == "failed" for result in results) else 0)


@app.command()
def privacy(
    demo: Annotated[bool, typer.Option("--demo", help="Report on the demo's warehouse instead.")] = False,
    wait: Annotated[float, typer.Option(help=WAIT_HELP, min=0)] = 0,
) -> None:
    """Where erasures stand: requests applied in the warehouse, and every destination still waiting to confirm
    one, with its age, attempts and last error. Exits 1 when one is older than TESSERA_ERASURE_SLA_DAYS (7)."""
    from reverse_etl.privacy import privacy_report

    warehouse = DEMO_WAREHOUSE if demo else settings.warehouse_path()
    sla_days = settings.erasure_sla_days()
    with _reader(warehouse, wait) as con:
        report = privacy_report(con)
    counts = ", ".join(f"{count:,} {name}" for name, count in report.requests.items()) or "none yet"
    typer.echo(f"Privacy requests in {warehouse}: {counts}")
    typer.echo(f"Erasures confirmed by a destination: {report.delivered:,}; waiting: {len(report.open):,}")
    if report.open:
        typer.echo(f"  {'request':<16}{'customer':<22}{'sync':<28}{'destination':<28}{'attempts':>9}{'days':>7}")
        for erasure in report.open:
            late = "  OVERDUE" if erasure.age_days > sla_days else ""
            typer.echo(
                f"  {erasure.request_id:<16}{erasure.customer_id:<22}{erasure.sync_name:<28}"
                f"{erasure.destination_type:<28}{erasure.attempts:>9}{erasure.age_days:>7.1f}{late}"
            )
            if erasure.error:
                typer.echo(f"    last error: {erasure.error}")
    overdue = report.overdue(sla_days)
    if overdue:
        typer.echo(f"{len(overdue)} erasure(s) waiting longer than {sla_days:g} days (TESSERA_ERASURE_SLA_DAYS)")
    raise typer.Exit(1 if overdue else 0)


files_app = typer.Typer(
    help="Landing files: what was loaded, with rows, quarantine and validation (the default); retract one.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(files_app, name="files")


@files_app.callback()
def files(
    context: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only this source's files (a landing folder name).")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="The demo's warehouse instead.")] = False,
    wait: Annotated[float, typer.Option(help=WAIT_HELP, min=0)] = 0,
) -> None:
    """List the loaded landing files: rows loaded, rows quarantined (and why), and whether the file passed its
    validation or is held back from the models."""
    if context.invoked_subcommand:
        return
    from .loading.warehouse import loaded_files

    warehouse = DEMO_WAREHOUSE if demo else settings.warehouse_path()
    with _reader(warehouse, wait) as con:
        listed = loaded_files(con, source)
        reasons = dict(
            con.execute(
                "select file, string_agg(distinct split_part(reason, ':', 1), ', ') from raw._quarantine group by 1"
            ).fetchall()
        )
    typer.echo(f"  {'file':<52}{'rows':>10}{'quarantined':>13}  {'validation':<18}{'loaded at'}")
    for loaded in listed:
        typer.echo(
            f"  {loaded.file:<52}{loaded.rows:>10,}{loaded.quarantined:>13,}  {loaded.validation:<18}"
            f"{loaded.loaded_at:%Y-%m-%d %H:%M}"
        )
        if loaded.file in reasons:
            typer.echo(f"    quarantined for: {reasons[loaded.file]}  (select * from raw._quarantine where file = ...)")
    typer.echo(f"{len(listed)} file(s); `tessera files retract FILE` removes one so a corrected copy can be delivered")


@files_app.command("retract")
def files_retract(
    file: Annotated[str, typer.Argument(help="The file as `tessera files` lists it, e.g. crm_contacts/day1.csv.")],
) -> None:
    """Remove one loaded file's rows from the warehouse (raw, quarantine, manifest, staging), so that a corrected
    version can be delivered under a new name; the next `tessera run` rebuilds the models without them. Every
    retraction is recorded in raw._retractions."""
    import duckdb

    from .loading.warehouse import LandingFileError, connect, retract_file

    warehouse = settings.warehouse_path()
    if not warehouse.is_file():
        raise typer.BadParameter(f"{warehouse}: no warehouse there; run `tessera run` (or `tessera demo`) first")
    try:
        con = connect(warehouse)
    except duckdb.IOException as error:
        typer.echo(f"{warehouse} is held by another process ({error}); retry when the build has finished", err=True)
        raise typer.Exit(1) from None
    try:
        retracted = retract_file(con, file)
    except LandingFileError as error:
        raise typer.BadParameter(str(error), param_hint="FILE") from None
    finally:
        con.close()
    typer.echo(
        f"Retracted {retracted.file}: {retracted.rows:,} row(s) and {retracted.quarantined:,} quarantined removed; "
        "the next `tessera run` rebuilds the models without them. Deliver a corrected file under a new name."
    )


segments_app = typer.Typer(
    help="Segments: report sizes, changes and overlaps (the default), or compile the declared ones.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(segments_app, name="segments")


@segments_app.callback()
def segments(
    context: typer.Context,
    demo: Annotated[bool, typer.Option("--demo", help="Report on the demo's warehouse instead.")] = False,
    chart: Annotated[
        Path | None, typer.Option(help="Where to write the PNG of sizes over time; default: beside the warehouse.")
    ] = None,
    wait: Annotated[float, typer.Option(help=WAIT_HELP, min=0)] = 0,
) -> None:
    """List segments with size, change in the last run and overlap; chart their sizes over time (PNG)."""
    if not context.invoked_subcommand:
        _report_segments(DEMO_WAREHOUSE if demo else settings.warehouse_path(), chart, wait)


def _report_segments(warehouse: Path, chart: Path | None, wait: float = 0) -> None:
    from .segments.report import segment_report, write_size_chart

    with _reader(warehouse, wait) as con:
        report = segment_report(con)
    typer.echo(report.render())
    written = write_size_chart(report, chart or warehouse.with_name(f"{warehouse.stem}_segment_sizes.png"))
    typer.echo(f"\nSizes over time: {written}")


@segments_app.command("compile")
def segments_compile() -> None:
    """Validate segments/*.yml and the SQL segments, and write the dbt models of the valid ones (also done by
    every `tessera run`). Event names are checked against the warehouse's events once it has been built.
    Exits 1, listing them, when a segment is left out."""
    from .pipeline import known_events
    from .segments.compile import compile_segments

    compiled = compile_segments(known_events=known_events(settings.warehouse_path()), strict=False)
    typer.echo(
        f"{len(compiled.declared)} declared and {len(compiled.sql_models)} SQL segment(s); "
        + (f"wrote {len(compiled.written)} file(s)" if compiled.written else "nothing changed")
    )
    for warning in compiled.warnings:
        typer.echo(f"  note: {warning}")
    if compiled.problems:
        typer.echo(f"{len(compiled.problems)} segment problem(s), each segment left out until fixed:", err=True)
        for problem in compiled.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1)


def _reader(warehouse: Path, wait: float, sandbox: bool = False):
    """A read-only connection to `warehouse` (`sandbox`: with no access outside it, for a user's own SQL), or a
    one-line message (exit 1) when it is missing or busy."""
    from .loading.warehouse import WarehouseBusy, read_only, sandboxed

    if not warehouse.is_file():
        raise typer.BadParameter(f"{warehouse}: no warehouse there; run `tessera run` (or `tessera demo`) first")
    try:
        con = read_only(warehouse, wait)
        return sandboxed(con) if sandbox else con
    except WarehouseBusy as busy:
        typer.echo(str(busy), err=True)
        raise typer.Exit(1) from None


def _run(warehouse: Path, landing: Path, verbose: bool):
    from reverse_etl.definitions import SyncDefinitionError

    from .pipeline import run_pipeline
    from .segments.declarations import SegmentDeclarationError

    try:
        summary = run_pipeline(warehouse, landing, verbose=verbose)
    except (SegmentDeclarationError, SyncDefinitionError) as error:
        typer.echo(f"Tessera run: FAILED before starting: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(summary.render())
    return summary
