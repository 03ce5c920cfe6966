"""The shared shape of every destination (STYLE: Singer SDK sinks, dlt destinations).

A destination declares, from its vendor's documentation: the modes it supports, its batch size, its rate limit
and concurrency. It implements `send_batch` (one API call for one batch of one operation) and says per row what
the destination answered. The engine does the rest: change capture, batching, state, retries of rejected rows.

- A row the destination refuses (a 4xx about that row) comes back `rejected` with the vendor's message; the
  message must never carry personal data (destinations pass the vendor's error code and field names, not values).
- A whole batch refused at once (`BatchRejected`, an all-or-nothing API) is split in halves, and again, until
  the bad rows are isolated and the good ones accepted.
- Transient failures are retried inside `send_batch` by the shared `RetryPolicy`; when retries run out it
  raises `DestinationUnavailable` and the sync stops with nothing of that batch acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx

from ..definitions import SyncDefinition
from ..retry import DestinationUnavailable, RetryPolicy, TokenBucket

# Operations the engine asks for: upsert/insert/update/delete rows, or add/remove audience members.
OPERATIONS = ("upsert", "insert", "update", "delete", "add", "remove")


@dataclass(frozen=True)
class Change:
    """One row to send: its key, the destination fields now, and (for removals) those last acknowledged."""

    record_key: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class RowAnswer:
    record_key: str
    accepted: bool
    error: str | None = None


class BatchRejected(Exception):
    """The destination refused the whole batch for a reason that lies in some of its rows."""


class Destination:
    """Base class: subclasses set the class attributes and implement `send_batch`."""

    type_name: ClassVar[str]
    modes: ClassVar[tuple[str, ...]]
    batch_size: ClassVar[int] = 100
    max_concurrency: ClassVar[int] = 1  # batches in flight at once
    requests_per_second: ClassVar[float | None] = None
    burst: ClassVar[int] = 1
    retry_policy: ClassVar[RetryPolicy] = RetryPolicy()

    def __init__(self, sync: SyncDefinition, workdir: Path) -> None:
        """`workdir`: the folder relative paths in settings lead to (engine.files_folder of the warehouse)."""
        self.sync = sync
        self.workdir = workdir
        rate = sync.settings.get("requests_per_second", self.requests_per_second)
        self.bucket = TokenBucket(float(rate), int(sync.settings.get("burst", self.burst))) if rate else None
        self.max_concurrency = int(sync.settings.get("max_concurrency", self.max_concurrency))
        self.retry_policy = RetryPolicy(
            attempts=int(sync.settings.get("retry_attempts", self.retry_policy.attempts)),
            base_seconds=float(sync.settings.get("retry_base_seconds", self.retry_policy.base_seconds)),
        )

    def validate(self, operation: str, change: Change) -> list[str]:
        """Problems with one row's payload, found without sending it (dry runs show them)."""
        return []

    def send_batch(self, operation: str, changes: list[Change]) -> list[RowAnswer]:
        raise NotImplementedError

    def send(self, operation: str, changes: list[Change]) -> list[RowAnswer]:
        """`send_batch`, splitting a batch the destination refuses as a whole until the bad rows are alone."""
        try:
            return self.send_batch(operation, changes)
        except BatchRejected as error:
            if len(changes) == 1:
                return [RowAnswer(changes[0].record_key, False, str(error))]
            middle = len(changes) // 2
            return self.send(operation, changes[:middle]) + self.send(operation, changes[middle:])

    def request(self, send: Callable[[], httpx.Response], refused: str, remedy: str) -> httpx.Response:
        """One HTTP call the shared way: a token from the rate limiter before every attempt, the retry policy
        around it, and a refused credential (401, 403) stopping the sync as `<refused> (HTTP n): <remedy>`."""

        def attempt() -> httpx.Response:
            if self.bucket:
                self.bucket.take()
            return send()

        response = self.retry_policy.call(attempt)
        if response.status_code in (401, 403):
            raise DestinationUnavailable(f"{refused} (HTTP {response.status_code}): {remedy}")
        return response

    def close(self) -> None:
        """Releases connections; a run calls it once, whatever happened."""
