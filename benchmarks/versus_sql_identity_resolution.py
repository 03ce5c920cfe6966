"""Identity end to end against anilkulkarni87/sql-identity-resolution's DuckDB pipeline, on its own generator's records.

    python benchmarks/versus_sql_identity_resolution.py --idr-repo PATH [--scale 100K|500K|1M] [--repeats 2]

PATH is a checkout of that repository (it is not a dependency of Tessera, and is not downloaded here). Its scale
test (`benchmarks/duckdb/idr_scale_test.py --scale S`: S rows in each of five tables of people records,
crm.customer, sales.transactions, loyalty.loyalty_accounts, digital.web_events and store.store_visits, sharing
emails, phones and loyalty ids, each missing from 5-70% of a table's rows) generates the records once into
--workdir (it runs its pipeline once too, which is not measured). Then, on a copy:

- Both sides get the same records and the same identifiers. Tessera's landing contract has no source of people
  records with a loyalty id but no anchor of their own (a loyalty member's card is one per person; a CRM
  contact's id, a store purchase's card are anchors), so loyalty ids are left out on both sides: the records link
  by email and phone, exact matches after lower-casing for emails. Their phones (`9` and nine random digits)
  become Indian numbers (`+91`) for Tessera's E.164 parser, and `example.com` addresses `examplemail.com` on both
  sides (Tessera takes example.com for a placeholder domain and never links it).
- The records land as Tessera's sources: customers and loyalty accounts as CRM contacts, transactions and store
  visits as orders, web events as help-desk tickets (chat), with their ids as record ids. Tessera runs with its
  rules set to theirs (`--vars`: no hot-value or conflict blocking; their group cap of 10,000 is never reached).
- Timed, alternately and `--repeats` times each, in child processes with their peak memory: their `idr_run.py
  --run-mode=FULL` on the source tables, and Tessera's load of the landing files plus `dbt run` of staging and
  identity up to `customer_source_records` and the golden-record candidates (`int_profile_attributes_ranked`)
  in a fresh warehouse, the identity part (identity models and the assigned records) also on its own.
- The clusters are compared record by record (every record with an email or phone): the two partitions must be
  the same, but for their clusters joined by a value that Tessera's placeholder rules block (a random phone
  ending in seven 7s), which are counted and set apart. Prints figures and whether the clusters agree; asserts
  nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import duckdb
from common import ROOT, Measured, run_measured

DBT = str(Path(sys.executable).with_name("dbt"))
# Their rules: exact matches, no blocking of values by how many anchors or conflicting names they join.
THEIR_RULES = {"hot_identifier_max_anchors": 10_000, "identity_conflict_min_pairs": {"email": 10**9, "phone": 10**9}}
ISO = "'%Y-%m-%dT%H:%M:%SZ'"
# Their tables as Tessera's landing files: (source folder, file, SELECT over their tables).
LANDING = [
    (
        "crm_contacts",
        "contacts.csv",
        f"""
        select customer_id as contact_id, first_name, last_name, email, '+91' || phone as phone,
            null as company, null as street, null as city, null as postal_code, null as country,
            'customer' as lifecycle_stage, strftime(rec_create_dt, {ISO}) as created_at,
            strftime(rec_update_dt, {ISO}) as updated_at
        from crm.customer
        union all
        select loyalty_account_id, null, null, email, '+91' || phone, null, null, null, null, null, 'customer',
            strftime(updated_at, {ISO}), strftime(updated_at, {ISO})
        from loyalty.loyalty_accounts
        """,
    ),
    (
        "orders",
        "orders.parquet",
        """
        select order_id || '-' || line_id as order_id, null::varchar as customer_account_id,
            customer_email as email, '+91' || customer_phone as phone, {blank_billing}, 'EUR' as currency,
            10.00::decimal(12, 2) as subtotal, 0.00::decimal(12, 2) as discount, 0.00::decimal(12, 2) as shipping,
            10.00::decimal(12, 2) as total, 'paid' as status, timezone('UTC', load_ts) as created_at,
            {no_items} as line_items
        from sales.transactions
        union all
        select visit_id, null, email, '+91' || phone, {blank_billing}, 'EUR', 10.00, 0.00, 0.00, 10.00, 'paid',
            timezone('UTC', visit_ts), {no_items}
        from store.store_visits
        """.format(
            blank_billing=", ".join(
                f"null::varchar as billing_{column}"
                for column in ("first_name", "last_name", "street", "city", "postal_code", "country")
            ),
            no_items="[]::struct(sku varchar, product_name varchar, category varchar, quantity integer, "
            "unit_price decimal(12, 2))[]",
        ),
    ),
    (
        "support_tickets",
        "tickets.csv",
        f"""
        select event_id as ticket_id, email as requester_email, '+91' || phone as requester_phone,
            null as requester_name, event_type as subject, 'chat' as channel, 'closed' as status,
            null as satisfaction, strftime(event_ts, {ISO}) as created_at, strftime(event_ts, {ISO}) as solved_at
        from digital.web_events
        """,
    ),
]
TABLES = {
    "crm.customer": ("customer_id", "email", "phone"),
    "sales.transactions": ("order_id || '-' || line_id", "customer_email", "customer_phone"),
    "loyalty.loyalty_accounts": ("loyalty_account_id", "email", "phone"),
    "digital.web_events": ("event_id", "email", "phone"),
    "store.store_visits": ("visit_id", "email", "phone"),
}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idr-repo", type=Path, required=True, help="a checkout of sql-identity-resolution")
    parser.add_argument("--scale", default="100K", choices=["100K", "500K", "1M", "2M"], help="rows per table")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tessera-bench"))
    return parser.parse_args()


def generated(args: argparse.Namespace) -> Path:
    """Their scale test's database for this scale, generated on first use (their script runs their pipeline
    once at its end: with this interpreter, so that it finds duckdb)."""
    database = args.workdir / f"idr-scale-{args.scale}.duckdb"
    if not database.exists():
        print(f"generating their {args.scale} scale test into {database} ...", flush=True)
        partial = database.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        # The script looks for the pipeline in ../core beside it, where it no longer is (sql/duckdb/core): it
        # runs from a folder that has both, unchanged.
        layout = args.workdir / "idr-layout"
        shutil.rmtree(layout, ignore_errors=True)
        (layout / "benchmarks").mkdir(parents=True)
        (layout / "core").symlink_to((args.idr_repo / "sql" / "duckdb" / "core").resolve())
        script = layout / "benchmarks" / "idr_scale_test.py"
        script.symlink_to((args.idr_repo / "benchmarks" / "duckdb" / "idr_scale_test.py").resolve())
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        made = run_measured([sys.executable, str(script), f"--db={partial}", f"--scale={args.scale}"], env)
        print(f"generated in {made.seconds:.0f}s")
        partial.rename(database)
    return database


def prepare_theirs(source: Path, database: Path) -> None:
    """A copy of their database with loyalty ids left out, example.com addresses renamed, and their outputs
    emptied (so that the timed run is a first one)."""
    shutil.copy(source, database)
    with duckdb.connect(str(database)) as con:
        for table in ("crm.customer", "loyalty.loyalty_accounts", "store.store_visits"):
            con.execute(f"update {table} set loyalty_id = null")
        for table, (_, email, _) in TABLES.items():
            con.execute(
                f"update {table} set {email} = regexp_replace({email}, '@example\\.com$', '@examplemail.com', 'i')"
            )
        for (table,) in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema = 'idr_out' and table_name <> 'run_history' or table_schema = 'idr_work'"
        ).fetchall():
            con.execute(f"delete from {table}" if table.startswith("idr_out.") else f"drop table {table}")
        con.execute("delete from idr_meta.run_state")


def write_landing(database: Path, landing: Path) -> int:
    shutil.rmtree(landing, ignore_errors=True)
    with duckdb.connect(str(database), read_only=True) as con:
        for folder, name, query in LANDING:
            (landing / folder).mkdir(parents=True)
            options = "(format parquet)" if name.endswith(".parquet") else "(format csv, header true)"
            con.execute(f"copy ({query}) to '{landing / folder / name}' {options}")
        return sum(con.execute(f"select count(*) from {table}").fetchone()[0] for table in TABLES)


def run_theirs(args: argparse.Namespace, database: Path) -> Measured:
    script = args.idr_repo / "sql" / "duckdb" / "core" / "idr_run.py"
    return run_measured([sys.executable, str(script), f"--db={database}", "--run-mode=FULL", "--max-iters=50"])


LOAD = """
import sys
from pathlib import Path
from orchestration.loading.warehouse import ensure_raw_tables, load_source
from orchestration.sources import SOURCES
from tessera.warehouse import connect
con = connect(Path(sys.argv[1]))
ensure_raw_tables(con)
print(sum(load_source(con, Path(sys.argv[2]), source).rows for source in SOURCES))
con.close()
"""


def run_tessera(args: argparse.Namespace, landing: Path) -> tuple[Measured, Measured, float]:
    """A fresh warehouse: (the load, the dbt run, the identity models' own seconds)."""
    warehouse = args.workdir / f"tessera-vs-idr-{args.scale}.duckdb"
    warehouse.unlink(missing_ok=True)
    env = dict(os.environ, TESSERA_WAREHOUSE=str(warehouse))
    load = run_measured([sys.executable, "-c", LOAD, str(warehouse), str(landing)], env)
    target = str(args.workdir / "dbt-target-vs-idr")
    rules = ["--vars", json.dumps(THEIR_RULES), "--profiles-dir", ".", "--target-path", target]
    # The reference data, not timed; with the same vars, so that the run finds the project parsed, as a
    # warehouse's daily run does.
    run_measured([DBT, "seed", *rules], env)
    selection = ["+customer_source_records", "+int_profile_attributes_ranked"]
    run = run_measured([DBT, "run", "-s", *selection, *rules], env)
    results = json.loads((Path(target) / "run_results.json").read_text())["results"]
    identity_models = {path.stem for path in (ROOT / "models" / "intermediate" / "identity").glob("*.sql")}
    identity = sum(
        r["execution_time"]
        for r in results
        if r["unique_id"].split(".")[-1] in identity_models | {"customer_source_records"}
    )
    return load, run, identity


def compare_clusters(args: argparse.Namespace, theirs: Path) -> str:
    """Every record with an email or phone: its cluster on each side; the partitions agree when each cluster of
    one side is exactly one cluster of the other. Set apart: their clusters holding a value that Tessera's
    placeholder rules block (seeds/blocked_identifiers.csv: a random phone can end in seven 7s), which they link
    and Tessera does not."""
    warehouse = args.workdir / f"tessera-vs-idr-{args.scale}.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute(f"attach '{theirs}' as theirs (read_only)")
        identifiable = " union all ".join(
            f"select cast({key} as varchar) as record_id from theirs.{table} where {email} is not null "
            f"or {phone} is not null"
            for table, (key, email, phone) in TABLES.items()
        )
        joined = f"""
            with identifiable as ({identifiable}),
            their_clusters as (
                select split_part(entity_key, ':', 2) as record_id, resolved_id
                from theirs.idr_out.identity_resolved_membership_current
            ),
            placeholder_records as (
                select distinct identifiers.source_record_id as record_id, blocked.identifier_value
                from intermediate.int_identifiers_extracted as identifiers
                inner join intermediate.int_identifiers_blocked as blocked
                    using (identifier_type, identifier_value)
                where blocked.reason like 'rule:%'
            ),
            joined as (
                select identifiable.record_id, their_clusters.resolved_id, ours.customer_id
                from identifiable
                left join their_clusters using (record_id)
                left join marts.customer_source_records as ours on ours.source_record_id = identifiable.record_id
            ),
            set_apart as (
                select distinct resolved_id from joined where record_id in (select record_id from placeholder_records)
            )
        """
        records, theirs_clusters, ours_clusters, pairs, missing, apart = con.execute(f"""
            {joined}
            select count(*), count(distinct resolved_id), count(distinct customer_id),
                count(distinct (resolved_id, customer_id)),
                count(*) filter (where resolved_id is null or customer_id is null),
                (select count(*) from set_apart)
            from joined
            where resolved_id not in (select resolved_id from set_apart)
        """).fetchone()
        placeholders = con.execute(f"{joined} select distinct identifier_value from placeholder_records").fetchall()
    same = missing == 0 and pairs == theirs_clusters == ours_clusters
    return (
        f"{records:,} records with an email or phone; clusters: theirs {theirs_clusters:,}, Tessera's {ours_clusters:,}"
        f", {pairs:,} pairs of the two; records missing on a side: {missing:,} -> "
        + ("the same clusters" if same else "THE CLUSTERS DIFFER")
        + f"\n(set apart: {apart:,} of their clusters holding a value Tessera's placeholder rules block: "
        + (", ".join(value for (value,) in placeholders) or "none")
        + ")"
    )


def main() -> None:
    args = arguments()
    args.workdir.mkdir(parents=True, exist_ok=True)
    theirs = args.workdir / f"idr-scale-{args.scale}-prepared.duckdb"
    prepare_theirs(generated(args), theirs)
    landing = args.workdir / f"landing-idr-{args.scale}"
    started = time.perf_counter()
    records = write_landing(theirs, landing)
    print(f"{records:,} records in five tables; landing files written in {time.perf_counter() - started:.1f}s")

    their_runs, our_runs = [], []
    for repeat in range(args.repeats):
        if repeat:
            prepare_theirs(generated(args), theirs)
        their_runs.append(run_theirs(args, theirs))
        our_runs.append(run_tessera(args, landing))
        theirs_now, (load, run, identity) = their_runs[-1], our_runs[-1]
        print(
            f"run {repeat + 1}: theirs {theirs_now.seconds:.1f}s (peak {theirs_now.peak_mib:,.0f} MiB); Tessera "
            f"{load.seconds + run.seconds:.1f}s = load {load.seconds:.1f}s (peak {load.peak_mib:,.0f} MiB) + dbt run "
            f"{run.seconds:.1f}s (peak {run.peak_mib:,.0f} MiB; identity models {identity:.1f}s)",
            flush=True,
        )
    their_seconds = statistics.median(m.seconds for m in their_runs)
    our_seconds = statistics.median(load.seconds + run.seconds for load, run, _ in our_runs)
    dbt_seconds = statistics.median(run.seconds for _, run, _ in our_runs)
    identity_seconds = statistics.median(identity for _, _, identity in our_runs)
    print(f"\nmedians over {args.repeats} run(s) of {records:,} records:")
    print(f"  {'theirs (idr_run.py FULL)':<42}{their_seconds:8.1f}s")
    for label, seconds in (
        ("Tessera, load + staging + identity", our_seconds),
        ("Tessera, staging + identity (dbt run)", dbt_seconds),
        ("Tessera, the identity models alone", identity_seconds),
    ):
        print(f"  {label:<42}{seconds:8.1f}s   theirs / Tessera {their_seconds / seconds:5.2f}")
    print(compare_clusters(args, theirs))


if __name__ == "__main__":
    main()
