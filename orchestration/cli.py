"""The `tessera` command: generate demo data, run the pipeline, run the demo.

Paths follow `docs/contracts/warehouse.md`: the warehouse at `TESSERA_WAREHOUSE` (default
`warehouse/tessera.duckdb` under the project) and the landing folder at `TESSERA_LANDING_DIR` (default
`data/landing`); every knob is a field of `tessera.settings.Settings`, read when a command runs. Every command that
reads the warehouse takes `--demo` to read the demo's instead.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated

import typer

from tessera.settings import PROJECT_DIR, SettingsError, settings

# Plain help (rich_markup_mode=None): flags read as flags (`--demo`), not as options taking a `<bool>`.
app = typer.Typer(
    help="Tessera, the warehouse-native customer data platform.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _owner_only() -> None:
    """Everything a command creates (the warehouse, exports, logs, the Dagster instance) holds personal data:
    owner-only (files 0600, folders 0700)."""
    import os

    os.umask(0o077)


WAIT_HELP = "Seconds to wait for a build that holds the warehouse (default: say so and stop)."
DEMO_HELP = "The demo's warehouse (made by `tessera demo`) instead of yours."
DEMO_DIR = PROJECT_DIR / "data" / "demo"
DEMO_WAREHOUSE = PROJECT_DIR / "warehouse" / "demo.duckdb"
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


def _current():
    """The settings, or one line naming the variable that does not fit (exit 2)."""
    try:
        return settings()
    except SettingsError as error:
        typer.echo(f"Tessera's settings: {error}", err=True)
        raise typer.Exit(2) from None


def _warehouse(demo: bool) -> Path:
    return DEMO_WAREHOUSE if demo else _current().warehouse


def _missing(warehouse: Path) -> typer.BadParameter:
    if warehouse == DEMO_WAREHOUSE:
        return typer.BadParameter(f"{warehouse}: no demo warehouse there; run `tessera demo` first")
    return typer.BadParameter(
        f"{warehouse}: no warehouse there; run `tessera run` first, or pass --demo to read the demo's "
        "(made by `tessera demo`)"
    )


@app.command()
def run(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Dagster's and dbt's own logs.")] = False,
    demo: Annotated[bool, typer.Option("--demo", help="Run on the demo's landing folder and warehouse.")] = False,
    full_checks: Annotated[
        bool,
        typer.Option(
            "--full-checks",
            help="Run every data test over its whole table (by default a test on an incremental model reads the "
            "rows this build wrote; the weekly full_checks schedule does this too).",
        ),
    ] = False,
) -> None:
    """Run the pipeline once, through Dagster, in-process: load new landing files, then build and test dbt."""
    from .defs.instance import DEMO_HOME

    if demo:
        summary = _run(DEMO_WAREHOUSE, DEMO_DIR / "landing", verbose, home=DEMO_HOME, full_checks=full_checks)
    else:
        current = _current()
        summary = _run(current.warehouse, current.landing_dir, verbose, full_checks=full_checks)
    raise typer.Exit(0 if summary.succeeded else 1)


@app.command()
def demo(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Dagster's and dbt's own logs.")] = False,
) -> None:
    """Generate a small demo data set and run the pipeline on it from an empty state.

    The demo owns `data/demo/`, `warehouse/demo.duckdb`, `warehouse/demo/` (its syncs' files) and its own Dagster
    history (`.dagster_home/demo/`), and starts them afresh; it never touches your own landing folder, warehouse
    or runs.
    """
    from reverse_etl.engine import files_folder

    from .defs.instance import DEMO_HOME

    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_WAREHOUSE.unlink(missing_ok=True)
    shutil.rmtree(files_folder(DEMO_WAREHOUSE), ignore_errors=True)
    shutil.rmtree(DEMO_HOME, ignore_errors=True)
    landing = DEMO_DIR / "landing"
    generate(out=landing, customers=DEMO_CUSTOMERS, days=DEMO_DAYS, seed=DEMO_SEED)
    typer.echo("")
    summary = _run(DEMO_WAREHOUSE, landing, verbose, home=DEMO_HOME)
    succeeded = False
    if summary.succeeded:
        from .identity_evaluation import evaluate_identity as score

        scores = score(DEMO_WAREHOUSE, landing / "_truth" / "identity.csv")
        typer.echo("\nIdentity resolution against the generator's ground truth:\n" + scores.render())
        warehouse = DEMO_WAREHOUSE.relative_to(PROJECT_DIR)
        typer.echo("")
        _report_segments(DEMO_WAREHOUSE, chart=None)
        succeeded = _demo_saas_syncs()
        typer.echo(
            "\nWhere to look next:\n"
            '  the customers:  .venv/bin/tessera query --demo "select * from marts.customer_profiles limit 10"\n'
            "                  (also marts.customer_identities, customer_events, consent_decisions, privacy_requests;\n"
            "                  --vertical shows one row per block)\n"
            '  the segments:   .venv/bin/tessera query --demo "select * from marts.segment_memberships limit 10"\n'
            "                  (declare your own in segments/*.yml; see the README)\n"
            f"  the syncs:      {files_folder(warehouse) / 'exports'}/ (the demo's file sync), and\n"
            "                  .venv/bin/tessera sync --demo --dry-run\n"
            "  the load log:   .venv/bin/tessera files --demo;  quarantined rows: select * from raw._quarantine\n"
            f"  the data:       {landing.relative_to(PROJECT_DIR)}  (ground truth in _truth/)\n"
            "  the pipeline:   .venv/bin/tessera ui --demo    (the Dagster UI: asset graph, checks, runs)\n"
            "  the catalog:    .venv/bin/tessera docs --demo  (dbt docs: models, columns, PII tags, lineage)"
        )
    raise typer.Exit(0 if summary.succeeded and succeeded else 1)


def _demo_saas_syncs() -> bool:
    """The demo segments synced to local stand-ins of the SaaS tools; True when every sync succeeded."""
    from .demo_data.saas import DEMO_SYNCS, sync_to_stand_ins

    typer.echo(
        f"\nSyncs to local stand-ins of HubSpot, Salesforce, Klaviyo, Mailchimp, Braze, Meta and Google Ads "
        f"({DEMO_SYNCS.relative_to(PROJECT_DIR)}/):"
    )
    report = sync_to_stand_ins(DEMO_WAREHOUSE)
    for sync in report:
        typer.echo(sync.render())
    return all(sync.result.status == "succeeded" for sync in report)


@app.command()
def prepare() -> None:
    """Validate the syncs and segments and write what dbt builds from them (the declared segments' models, the
    syncs' exposures), then parse the dbt project if anything changed. Every `tessera run`, `ui`, `docs` and
    `segments compile` does it first; run it alone before a plain `dbt build`."""
    _prepare(_current().warehouse)


def _prepare(warehouse: Path):
    """`prepare()`, with its mistakes as one message per problem and exit 1."""
    from reverse_etl.sync_files import SyncDefinitionError

    from .prepare import PrepareFailed, known_events
    from .prepare import prepare as prepare_project

    try:
        prepared = prepare_project(known_events=known_events(warehouse))
    except (SyncDefinitionError, PrepareFailed) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    compiled = prepared.segments
    typer.echo(
        f"{len(prepared.syncs)} sync(s), {len(compiled.declared)} declared and {len(compiled.sql_models)} SQL "
        f"segment(s); {f'wrote {len(compiled.written)} file(s)' if compiled.written else 'no segment changed'}"
        f"{'; dbt project parsed' if prepared.parsed else ''}"
    )
    for warning in compiled.warnings:
        typer.echo(f"  note: {warning}")
    if compiled.problems:
        typer.echo(f"{len(compiled.problems)} segment problem(s), each segment left out until fixed:", err=True)
        for problem in compiled.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1)
    return prepared


SCHEMAS = PROJECT_DIR / "docs" / "schemas"


@app.command()
def schemas() -> None:
    """Write the JSON Schemas of the sync and segment files (docs/schemas/) that editors validate them against;
    the tests check they are current."""
    import json

    from .prepare import schemas as made

    SCHEMAS.mkdir(parents=True, exist_ok=True)
    for name, schema in made().items():
        path = SCHEMAS / name
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        typer.echo(f"Wrote {path.relative_to(PROJECT_DIR)}")


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="The port of the Dagster UI.")] = 3000,
    demo: Annotated[
        bool, typer.Option("--demo", help="Point it at the demo's warehouse, landing folder and runs.")
    ] = False,
) -> None:
    """Start the Dagster UI (and its daemon: schedules and sensors) on the project, at http://127.0.0.1:PORT."""
    import os
    import subprocess
    import sys

    from .defs.instance import DEMO_HOME, dagster_home, project_instance
    from .defs.runs import fail_dead_runs

    home = dagster_home(DEMO_HOME if demo else None)
    env = dict(os.environ, DAGSTER_HOME=str(home))
    if demo:
        env.update(TESSERA_WAREHOUSE=str(DEMO_WAREHOUSE), TESSERA_LANDING_DIR=str(DEMO_DIR / "landing"))
    _prepare(_warehouse(demo))  # its mistakes said here, in a line each, before the UI starts
    with project_instance(home) as instance:
        for run_id in fail_dead_runs(instance):
            typer.echo(f"run {run_id} had died without ending: marked failed")
    typer.echo(f"Dagster UI at http://127.0.0.1:{port} (instance in {home}); Ctrl-C stops it")
    command = [sys.executable, "-m", "dagster", "dev", "-m", "orchestration.definitions", "-h", "127.0.0.1"]
    raise typer.Exit(subprocess.run([*command, "-p", str(port)], env=env, cwd=PROJECT_DIR).returncode)


@app.command()
def docs(
    port: Annotated[int, typer.Option(help="The port to serve the docs on.")] = 8080,
    serve: Annotated[bool, typer.Option(help="Serve them after building (--no-serve: only build).")] = True,
    demo: Annotated[bool, typer.Option("--demo", help=DEMO_HELP)] = False,
    wait: Annotated[float, typer.Option(help=WAIT_HELP, min=0)] = 0,
) -> None:
    """Build the catalog (dbt docs: sources, models, columns with their PII tags, lineage, the segments and the
    syncs' exposures) from the warehouse, then serve it (`dbt docs serve`) at http://127.0.0.1:PORT."""
    from .catalog import DocsBuildFailed, build_docs, serve_docs

    warehouse = _warehouse(demo)
    _reader(warehouse, wait).close()  # dbt docs needs the warehouse: say who holds it rather than fail in dbt
    _prepare(warehouse)
    try:
        site = build_docs(warehouse)
    except DocsBuildFailed as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Catalog built in {site}")
    if serve:
        typer.echo(f"Serving it at http://127.0.0.1:{port}; Ctrl-C stops it")
        raise typer.Exit(serve_docs(warehouse, port))


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="A SQL query, e.g. 'select * from marts.customer_profiles limit 10'.")],
    demo: Annotated[bool, typer.Option("--demo", help=DEMO_HELP)] = False,
    vertical: Annotated[bool, typer.Option("--vertical", "-x", help="Each row as a block of column: value.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Rows as JSON lines, every column whole.")] = False,
    csv_output: Annotated[bool, typer.Option("--csv", help="Rows as CSV with a header, every column whole.")] = False,
    wait: Annotated[float, typer.Option(help=WAIT_HELP, min=0)] = 0,
) -> None:
    """Run a read-only SQL query against the warehouse and print the result: a table (long values cut), whole
    rows with --vertical, or --json / --csv for other tools. The query reaches nothing outside the warehouse: no
    file is read or written, no database attached, no setting changed. A SQL error exits 1 with DuckDB's word."""
    import duckdb

    if vertical + json_output + csv_output > 1:
        raise typer.BadParameter("choose one of --vertical, --json and --csv")
    with _reader(_warehouse(demo), wait, sandbox=True) as con:
        try:
            relation = con.sql(sql)
            if relation is None:
                typer.echo("(the statement returned no rows)")
                return
            if not (vertical or json_output or csv_output):
                typer.echo(relation)
                return
            columns, rows = relation.columns, relation.fetchall()
        except duckdb.Error as error:
            typer.echo(f"SQL error: {error}", err=True)
            raise typer.Exit(1) from None
    _print_rows(columns, rows, vertical=vertical, as_json=json_output)


def _print_rows(columns: list[str], rows: list[tuple], *, vertical: bool, as_json: bool) -> None:
    import csv
    import json
    import sys

    if vertical:
        width = max((len(column) for column in columns), default=0)
        for number, row in enumerate(rows, 1):
            typer.echo(f"-[ row {number} ]" + "-" * max(0, width - 6))
            for column, value in zip(columns, row, strict=True):
                typer.echo(f"{column:<{width}} | {'' if value is None else value}")
        typer.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    elif as_json:
        for row in rows:
            typer.echo(json.dumps(dict(zip(columns, row, strict=True)), default=str, ensure_ascii=False))
    else:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


@app.command("evaluate-identity")
def evaluate_identity(
    truth: Annotated[
        Path | None,
        typer.Option(help="A CSV of source, record_id, person_id; default: _truth/identity.csv of the landing folder."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
    demo: Annotated[bool, typer.Option("--demo", help="Score the demo's warehouse against its ground truth.")] = False,
) -> None:
    """Score identity resolution (marts.customer_source_records) against labelled records."""
    import json

    from .identity_evaluation import evaluate_identity as score

    warehouse = _warehouse(demo)
    landing = DEMO_DIR / "landing" if demo else _current().landing_dir
    truth = truth or landing / "_truth" / "identity.csv"
    if not warehouse.is_file():
        raise _missing(warehouse)
    try:
        scores = score(warehouse, truth)
    except FileNotFoundError as error:
        raise typer.BadParameter(str(error)) from None
    if json_output:
        typer.echo(json.dumps(scores.as_dict(), indent=2))
    else:
        typer.echo(f"Identity resolution in {warehouse} against {truth}:")
        typer.echo(scores.render())


@app.command()
def sync(
    name: Annotated[str | None, typer.Argument(help="One sync to run; default: every sync.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and render payloads; send and write nothing.")
    ] = False,
    full: Annotated[bool, typer.Option("--full", help="Re-send every row, not only the changes.")] = False,
    demo: Annotated[bool, typer.Option("--demo", help="Sync from the demo's warehouse (the file sync only).")] = False,
) -> None:
    """Run the reverse-ETL syncs (TESSERA_SYNCS_DIR, reverse_etl/syncs/*.yml) now, against the warehouse."""
    import json

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from reverse_etl.engine import run_syncs
    from reverse_etl.sync_files import SyncDefinitionError

    from .prepare import project_syncs
    from .terminal import console, table

    try:
        syncs = project_syncs(_current().syncs_dir)
    except SyncDefinitionError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    if name is not None:
        known = ", ".join(sorted(definition.name for definition in syncs)) or "none"
        syncs = [definition for definition in syncs if definition.name == name]
        if not syncs:
            raise typer.BadParameter(f"no sync named {name!r}; defined: {known}", param_hint="NAME")
    warehouse = _warehouse(demo)
    if not warehouse.is_file():
        raise _missing(warehouse)
    with Progress(TextColumn("  {task.description:<30}"), BarColumn(), MofNCompleteColumn(),
                  console=console(stderr=True), transient=True) as bars:  # fmt: skip
        tasks: dict[str, int] = {}

        def progress(sync_name: str, done: int, total: int) -> None:
            if sync_name not in tasks:
                tasks[sync_name] = bars.add_task(sync_name, total=total)
            bars.update(tasks[sync_name], completed=done, total=total)

        results = run_syncs(warehouse, syncs, dry_run=dry_run, full=full, progress=progress)
    out = console()
    if dry_run:
        out.print("Dry run: nothing sent, nothing written")
    results_table = table("sync", "status", "planned", "sent", "accepted", "rejected", "skipped", "not eligible",
                          right=range(2, 8))  # fmt: skip
    for result in results:
        counts = (result.planned, result.sent, result.accepted, result.rejected, result.skipped, result.not_eligible)
        results_table.add_row(result.name, result.status, *(f"{count:,}" for count in counts))
    out.print(results_table)
    for result in results:
        details = []
        if result.error:
            details.append(f"error: {result.error}")
        details += [f"rejected {count:,}: {reason}" for reason, count in result.reasons.most_common(5)]
        if result.not_sendable:
            details.append(f"{result.not_sendable:,} row(s) the destination cannot take, unchanged: not sent again")
        if result.erased or result.erasures_pending:
            details.append(
                f"erased {result.erased:,}; {result.erasures_pending:,} erasure(s) waiting (tessera privacy)"
            )
        if dry_run:
            for planned in [p for p in result.plan if p.operation][:5]:
                fields = json.dumps(planned.change.fields, default=str, ensure_ascii=False)
                details.append(f"{planned.operation} {planned.change.record_key}: {fields}")
            details += [f"invalid {key}: {'; '.join(problems)}" for key, problems in list(result.problems.items())[:5]]
        if details:
            out.print(f"{result.name}:", markup=False, highlight=False)
            for detail in details:
                out.print(f"    {detail}", markup=False, highlight=False)
    raise typer.Exit(1 if any(result.status == "failed" for result in results) else 0)


@app.command()
def privacy(
    demo: Annotated[bool, typer.Option("--demo", help=DEMO_HELP)] = False,
    wait: Annotated[float, typer.Option(help=WAIT_HELP, min=0)] = 0,
) -> None:
    """Where erasures stand: requests applied in the warehouse, and every destination still waiting to confirm
    one, with its age, attempts and last error. Exits 1 when one is older than TESSERA_ERASURE_SLA_DAYS (7)."""
    from reverse_etl.privacy import privacy_report

    from .terminal import console, table

    warehouse = _warehouse(demo)
    sla_days = _current().erasure_sla_days
    with _reader(warehouse, wait) as con:
        report = privacy_report(con)
    out = console()
    counts = ", ".join(f"{count:,} {name}" for name, count in report.requests.items()) or "none yet"
    out.print(f"Privacy requests in {warehouse}: {counts}", markup=False)
    out.print(f"Erasures confirmed by a destination: {report.delivered:,}; waiting: {len(report.open):,}")
    if report.open:
        waiting = table("request", "customer", "sync", "destination", "attempts", "days", "", "last error",
                        right=(4, 5))  # fmt: skip
        for erasure in report.open:
            waiting.add_row(erasure.request_id, erasure.customer_id, erasure.sync_name, erasure.destination_type,
                            str(erasure.attempts), f"{erasure.age_days:.1f}",
                            "OVERDUE" if erasure.age_days > sla_days else "", erasure.error or "")  # fmt: skip
        out.print(waiting)
    overdue = report.overdue(sla_days)
    if overdue:
        out.print(f"{len(overdue)} erasure(s) waiting longer than {sla_days:g} days (TESSERA_ERASURE_SLA_DAYS)")
    raise typer.Exit(1 if overdue else 0)


files_app = typer.Typer(
    help="Landing files: what was loaded, with rows, quarantine and validation (the default); retract one.",
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
)
app.add_typer(files_app, name="files")


@files_app.callback()
def files(
    context: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only this source's files (a landing folder name).")] = None,
    demo: Annotated[bool, typer.Option("--demo", help=DEMO_HELP)] = False,
    wait: Annotated[float, typer.Option(help=WAIT_HELP, min=0)] = 0,
) -> None:
    """List the loaded landing files: rows loaded, rows quarantined (and why), and whether the file passed its
    validation or is held back from the models."""
    if context.invoked_subcommand:
        return
    from .loading.warehouse import loaded_files
    from .terminal import console, table

    with _reader(_warehouse(demo), wait) as con:
        listed = loaded_files(con, source)
        reasons = dict(
            con.execute(
                "select file, string_agg(distinct split_part(reason, ':', 1), ', ') from raw._quarantine group by 1"
            ).fetchall()
        )
    listing = table("file", "rows", "quarantined", "validation", "loaded at", "quarantined for", right=(1, 2))
    for loaded in listed:
        listing.add_row(loaded.file, f"{loaded.rows:,}", f"{loaded.quarantined:,}", loaded.validation,
                        f"{loaded.loaded_at:%Y-%m-%d %H:%M}", reasons.get(loaded.file, ""))  # fmt: skip
    out = console()
    out.print(listing)
    out.print(
        f"{len(listed)} file(s); the quarantined rows: select * from raw._quarantine where file = '...'; "
        "`tessera files retract FILE` removes one so a corrected copy can be delivered",
        markup=False,
    )


@files_app.command("retract")
def files_retract(
    file: Annotated[str, typer.Argument(help="The file as `tessera files` lists it, e.g. crm_contacts/day1.csv.")],
    demo: Annotated[bool, typer.Option("--demo", help=DEMO_HELP)] = False,
) -> None:
    """Remove one loaded file's rows from the warehouse (raw, quarantine, manifest, staging), so that a corrected
    version can be delivered under a new name; the next `tessera run` rebuilds the models without them. Every
    retraction is recorded in raw._retractions."""
    import duckdb

    from tessera.warehouse import connect

    from .loading.warehouse import LandingFileError, retract_file

    warehouse = _warehouse(demo)
    if not warehouse.is_file():
        raise _missing(warehouse)
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
    rich_markup_mode=None,
)
app.add_typer(segments_app, name="segments")


@segments_app.callback()
def segments(
    context: typer.Context,
    demo: Annotated[bool, typer.Option("--demo", help=DEMO_HELP)] = False,
    chart: Annotated[
        Path | None, typer.Option(help="Where to write the PNG of sizes over time; default: beside the warehouse.")
    ] = None,
    wait: Annotated[float, typer.Option(help=WAIT_HELP, min=0)] = 0,
) -> None:
    """List segments with size, change in the last run and overlap; chart their sizes over time (PNG)."""
    if not context.invoked_subcommand:
        _report_segments(_warehouse(demo), chart, wait)


def _report_segments(warehouse: Path, chart: Path | None, wait: float = 0) -> None:
    from .segments.report import segment_report, write_size_chart

    with _reader(warehouse, wait) as con:
        report = segment_report(con)
    typer.echo(report.render())
    written = write_size_chart(report, chart or warehouse.with_name(f"{warehouse.stem}_segment_sizes.png"))
    typer.echo(f"\nSizes over time: {written}")


@segments_app.command("compile")
def segments_compile() -> None:
    """Validate segments/*.yml, the SQL segments and the syncs, and write the dbt models of the valid segments
    (`tessera prepare`; also done by every `tessera run`). Event names are checked against the warehouse's
    events once it has been built. Exits 1, listing them, when a segment is left out or a sync is invalid."""
    _prepare(_current().warehouse)


def _reader(warehouse: Path, wait: float, sandbox: bool = False):
    """A read-only connection to `warehouse` (`sandbox`: with no access outside it, for a user's own SQL), or a
    one-line message (exit 1) when it is missing or busy."""
    from tessera.warehouse import WarehouseBusy, read_only, sandboxed

    if not warehouse.is_file():
        raise _missing(warehouse)
    try:
        con = read_only(warehouse, wait)
        return sandboxed(con) if sandbox else con
    except WarehouseBusy as busy:
        typer.echo(str(busy), err=True)
        raise typer.Exit(1) from None


def _run(warehouse: Path, landing: Path, verbose: bool, home: Path | None = None, full_checks: bool = False):
    from reverse_etl.sync_files import SyncDefinitionError

    from .defs.pipeline import run_pipeline
    from .prepare import PrepareFailed
    from .segments.declarations import SegmentDeclarationError

    try:
        summary = run_pipeline(warehouse, landing, verbose=verbose, home=home, full_checks=full_checks)
    except (SegmentDeclarationError, SyncDefinitionError, PrepareFailed, SettingsError) as error:
        typer.echo(f"Tessera run: FAILED before starting: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(summary.render())
    return summary
