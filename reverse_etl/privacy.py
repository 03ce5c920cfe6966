"""Where each erasure stands, for the data team and the auditor: `tessera privacy` and the Dagster check that
fails when one waits longer than the service level (`TESSERA_ERASURE_SLA_DAYS`, 7 by default; GDPR allows a
month).

An erasure request (marts.privacy_requests) is done inside Tessera when the build applies it; it is done
everywhere when every destination that held the person confirmed the deletion (reverse_etl.erasure_deliveries,
written by the sync engine). Until then it is open, and its age counts from when it was requested.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from .state import SCHEMA, table_exists


@dataclass(frozen=True)
class OpenErasure:
    request_id: str
    customer_id: str
    sync_name: str
    destination_type: str
    attempts: int
    age_days: float
    error: str | None


@dataclass(frozen=True)
class PrivacyReport:
    requests: dict[str, int]  # (request type, status) counts from marts.privacy_requests, as "erase applied"
    delivered: int  # erasure deliveries the destinations confirmed
    open: list[OpenErasure]  # oldest first

    def overdue(self, sla_days: float) -> list[OpenErasure]:
        return [erasure for erasure in self.open if erasure.age_days > sla_days]


def privacy_report(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> PrivacyReport:
    now = now or datetime.now(UTC).replace(tzinfo=None)
    requests: dict[str, int] = {}
    if table_exists(con, "marts", "privacy_requests"):
        for request_type, status, count in con.execute(
            "select request_type, status, count(*) from marts.privacy_requests group by 1, 2 order by 1, 2"
        ).fetchall():
            requests[f"{request_type} {status}"] = count
    if not table_exists(con, SCHEMA, "erasure_deliveries"):
        return PrivacyReport(requests, 0, [])
    [(delivered,)] = con.execute(
        f"select count(*) from {SCHEMA}.erasure_deliveries where status = 'delivered'"
    ).fetchall()
    rows = con.execute(
        f"select request_id, customer_id, sync_name, destination_type, attempts, "
        f"coalesce(requested_at, first_planned_at), error from {SCHEMA}.erasure_deliveries "
        "where status <> 'delivered' order by 6, 1, 3"
    ).fetchall()
    open_ = [
        OpenErasure(request, customer, sync, kind, attempts, (now - since).total_seconds() / 86_400, error)
        for request, customer, sync, kind, attempts, since, error in rows
    ]
    return PrivacyReport(requests, delivered, open_)
