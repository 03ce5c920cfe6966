"""The shared shape of every destination (STYLE: Singer SDK sinks, dlt destinations).

A destination declares, from its vendor's documentation: the modes it supports, its batch size, its rate limit
and concurrency. It implements `send_batch` (one API call for one batch of one operation) and says per row what
the destination answered. The engine does the rest: change capture, batching, state, retries of rejected rows.

- A row that cannot be sent at all (`unsendable`: no email for an email tool) is rejected without a call.
- A row the destination refuses (a 4xx about that row) comes back `rejected` with the vendor's message; the
  message must never carry personal data (destinations pass the vendor's error code and field names, not values).
- A whole batch refused at once (`BatchRejected`, an all-or-nothing API) is split in halves, and again, until
  the bad rows are isolated and the good ones accepted.
- A destination over HTTP (every SaaS tool and the webhook) is an `HttpDestination` (`http.py`): the rate
  limiter, the retry policy and its one response classifier. The file and PostgreSQL destinations are plain
  `Destination`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from ..sync_files import EnvSecret, SyncDefinition

Secret = EnvSecret  # a setting only ever read from the environment: `{env: VARIABLE}`
Text = str | EnvSecret  # a setting written in the file, or read from the environment
Identifier = str | int | EnvSecret  # a vendor's id (a list, an audience): written as a number or a text


class DestinationSettings(BaseModel):
    """What every destination's `destination:` block may say besides `type` (Singer's config_jsonschema): the
    pacing and retry knobs, and the vendor's address. Each destination extends it with its own settings and the
    ones it requires; an unknown setting is refused, naming the ones there are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: Text | None = Field(None, description="The vendor's API (its own by default; a stand-in's in tests).")
    timeout_seconds: float | None = Field(None, gt=0, description="Seconds before a call gives up (30).")
    requests_per_second: float | None = Field(None, gt=0, description="At most this many calls a second.")
    burst: int | None = Field(None, ge=1, description="Calls allowed at once above the steady rate.")
    max_concurrency: int | None = Field(None, ge=1, description="Batches in flight at once.")
    batch_size: int | None = Field(None, ge=1, description="Rows per call, at most the vendor's limit.")
    retry_attempts: int | None = Field(None, ge=1, description="Attempts of a call before the sync gives up.")
    retry_base_seconds: float | None = Field(None, ge=0, description="The first backoff, doubling.")

    @staticmethod
    def mode(info: ValidationInfo) -> str | None:
        """The sync's mode, which some settings depend on (given as validation context by the loader)."""
        return (info.context or {}).get("mode")


def required_in_audience_mode(*names: str):
    """A model validator: `names` must be set when the sync's mode is `audience`."""

    @model_validator(mode="after")
    def check(self, info: ValidationInfo):
        missing = [name for name in names if DestinationSettings.mode(info) == "audience" and not getattr(self, name)]
        if missing:
            raise ValueError(f"{', '.join(missing)} required in audience mode")
        return self

    return check


# Operations the engine asks for: upsert/insert/update/delete rows, add/remove audience members, replace the
# destination's whole content with the rows sent (mirror mode, full resync, where `replaces`), or erase a person
# with the vendor's own deletion mechanism, whatever the sync's mode (every destination implements it).
# `withdraw` clears a row's marketing fields, keeping the fields the destination keys on (`key_fields`), when the
# person withdrew the sync's consent or was suppressed and the mode never deletes; by default it is an upsert.


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
    category: ClassVar[str]  # crm, email, sms, advertising, webhook, file or database (reverse_etl/consent_policy.yml)
    modes: ClassVar[tuple[str, ...]]
    batch_size: ClassVar[int] = 100  # the vendor's limit per call; a sync's `batch_size` setting may lower it
    operation_batch_sizes: ClassVar[dict[str, int]] = {}  # where one operation's call takes fewer rows
    default_base_url: ClassVar[str | None] = None
    replaces: ClassVar[bool] = False  # can replace its whole content in one session (operation `replace`)
    settings_model: ClassVar[type[DestinationSettings]] = DestinationSettings  # checked when syncs are loaded
    key_fields: tuple[str, ...] = ()  # mapped fields the vendor finds a record by: kept when the rest is cleared
    withdraw_as: ClassVar[str] = "upsert"  # the operation a withdrawal is sent as
    max_concurrency: ClassVar[int] = 1  # batches in flight at once

    def __init__(self, sync: SyncDefinition, workdir: Path) -> None:
        """`workdir`: the folder relative paths in settings lead to (engine.files_folder of the warehouse)."""
        self.sync = sync
        self.workdir = workdir
        self.max_concurrency = int(sync.settings.get("max_concurrency", self.max_concurrency))
        self.batch_size = min(int(sync.settings.get("batch_size", self.batch_size)), type(self).batch_size)

    def declare(self, types: dict[str, Any]) -> None:
        """The Arrow type of each mapped field in the activation model (None for a constant), given before
        anything is sent when the model was read; a destination that writes typed files keeps them."""

    def begin(self, operation: str, rows: int) -> None:
        """Called before the batches of one operation are sent: `rows` of them in all (a replace session's size)."""

    def concurrency_for(self, operation: str) -> int:
        return self.max_concurrency

    def batch_size_for(self, operation: str) -> int:
        return min(self.batch_size, self.operation_batch_sizes.get(operation, self.batch_size))

    def unsendable(self, operation: str, change: Change) -> str | None:
        """Why this row cannot be sent at all (no identifier the vendor keys on), or None. The engine rejects
        such rows without a call, and tries them again next run."""
        return None

    def validate(self, operation: str, change: Change) -> list[str]:
        """Problems with one row's payload, found without sending it (dry runs show them): at least
        `unsendable`'s; destinations add the formats their vendor would refuse."""
        why = self.unsendable(operation, change)
        return [why] if why else []

    def send_batch(self, operation: str, changes: list[Change]) -> list[RowAnswer]:
        raise NotImplementedError

    def send(self, operation: str, changes: list[Change]) -> list[RowAnswer]:
        """`send_batch`, splitting a batch the destination refuses as a whole until the bad rows are alone."""
        if operation == "withdraw":
            operation = self.withdraw_as
        try:
            return self.send_batch(operation, changes)
        except BatchRejected as error:
            if len(changes) == 1:
                return [RowAnswer(changes[0].record_key, False, str(error))]
            middle = len(changes) // 2
            return self.send(operation, changes[:middle]) + self.send(operation, changes[middle:])

    def close(self) -> None:
        """Releases connections; a run calls it once, whatever happened."""
