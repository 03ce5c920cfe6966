"""A 100k-row contact sync to the HubSpot stand-in at HubSpot's documented rate limit.

    python benchmarks/hubspot_sync.py --rows 100000

The stand-in enforces 190 requests per rolling 10 s (19/s) and 100 inputs per call. Prints, for the first run,
requests per second achieved against the 19/s allowed (target: at least 90%, with full batches), rows per
second, and any 429s; then changes 1% of the rows and runs again, printing how many rows that run sent (it
should be exactly those). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reverse_etl.destinations import DESTINATIONS  # noqa: E402
from reverse_etl.engine import run_syncs  # noqa: E402
from reverse_etl.standins.hubspot import HubSpotStandIn  # noqa: E402
from reverse_etl.sync_files import load_definitions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    work = Path(tempfile.mkdtemp(prefix="tessera-hubspot-bench-"))
    warehouse = work / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema activation")
        con.execute(
            f"create table activation.sync_people as select 'c' || i as customer_id, "
            f"'person' || i || '@example.org' as email, 'Name' || i as first_name, true as consent_email_marketing, "
            f"false as is_suppressed from range({rows}) as t(i)"
        )
    os.environ["BENCH_HUBSPOT_TOKEN"] = "bench-token"
    with HubSpotStandIn("bench-token") as hubspot:
        (work / "syncs").mkdir()
        (work / "syncs" / "bench.yml").write_text(
            textwrap.dedent(f"""
            syncs:
              - name: bench_contacts
                model: sync_people
                destination: {{type: hubspot, base_url: "{hubspot.url}", token: {{env: BENCH_HUBSPOT_TOKEN}}}}
                mode: upsert
                primary_key: customer_id
                mapping: {{email: email, firstname: first_name}}
                consent: email_marketing
            """),
            encoding="utf-8",
        )
        modes = {name: cls.modes for name, cls in DESTINATIONS.items()}
        syncs = load_definitions(work / "syncs", destination_types=modes, purposes=["email_marketing"])

        started = time.perf_counter()
        [first] = run_syncs(warehouse, syncs)
        seconds = time.perf_counter() - started
        requests = len(hubspot.requests)
        allowed = 190 / 10
        print(f"first run: {first.accepted:,} of {rows:,} rows accepted ({first.status}) in {seconds:.1f}s")
        print(f"  requests: {requests:,} ({requests / seconds:.2f}/s against {allowed:.0f}/s allowed: "
              f"{requests / seconds / allowed:.0%}), full batches of 100: "
              f"{sum(len(b['inputs']) == 100 for _, _, b in hubspot.requests):,}")  # fmt: skip
        print(f"  rows/s: {first.accepted / seconds:,.0f}; 429s answered: {hubspot.rejected_for_rate}")

        with duckdb.connect(str(warehouse)) as con:
            con.execute(
                "update activation.sync_people set first_name = first_name || '!' where hash(customer_id) % 100 = 0"
            )
            changed = con.execute("select count(*) from activation.sync_people where first_name like '%!'").fetchone()[
                0
            ]
        hubspot.requests.clear()
        started = time.perf_counter()
        [second] = run_syncs(warehouse, syncs)
        print(f"second run after {changed:,} rows changed ({changed / rows:.1%}): sent {second.sent:,} rows in "
              f"{len(hubspot.requests)} requests, {time.perf_counter() - started:.1f}s")  # fmt: skip


if __name__ == "__main__":
    main()
