"""Meta Custom Audiences: people added to and removed from a customer-list audience, by hashed identifiers.

From Meta's Marketing API reference (Custom Audience users, usersreplace) and its SDK-codegen specs
(vendor-specs/meta):
- `POST /{version}/{audience_id}/users` adds, `DELETE` removes, at most 10,000 rows per call; the body is
  `{"payload": {"schema": [keys], "data": [[values]]}}`, every value SHA-256 of its normalised form
  (reverse_etl.hashing: email trimmed and lowercased, phone digits with country code and no `+`, names and city
  letters only, zip, country as ISO code), except EXTERN_ID and MADID.
- Mirror mode with `tessera sync --full` replaces the audience in one `usersreplace` session (`session_id`,
  `batch_seq` from 1, `last_batch_flag` on the last batch, `estimated_num_total`), batches sent one at a time,
  in order; the people no longer in the model drop out without a removal each.
- The answer counts `num_invalid_entries` and quotes `invalid_entry_samples`: rows whose sent values are quoted
  there are rejected, the others accepted (Meta matches them over the next hours). Rows with no identifier
  Meta can match are rejected here, never sent.
- Erasure removes the person's hashed identifiers from the audience (`DELETE /{audience_id}/users`), in
  every mode: a customer-list audience holds nothing else of them.
- Throttling comes as HTTP 400 with error code 4, 17, 32, 613 or 80000-80014 (`is_transient`) rather than 429:
  retried like a 429, waiting `estimated_time_to_regain_access` from `X-Business-Use-Case-Usage` when it says.

Settings: `access_token` ({env: ...}), `audience_id`, `base_url` (default https://graph.facebook.com),
`api_version` (v25.0), `requests_per_second` (default 4, keep under the ad account's tier). Mapping targets:
email, phone, first_name, last_name, city, state, zip, country, gender, birth_date, external_id, madid.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import Field

from .. import hashing
from ..retry import CredentialRefused
from .base import Change, DestinationSettings, Identifier, RowAnswer, Secret
from .http import HttpDestination, json_body

# mapping target -> (Meta schema key, normaliser, hashed)
KEYS: dict[str, tuple[str, Callable[[object], str | None], bool]] = {
    "email": ("EMAIL", hashing.normalise_email, True),
    "phone": ("PHONE", hashing.normalise_phone_meta, True),
    "first_name": ("FN", hashing.normalise_name, True),
    "last_name": ("LN", hashing.normalise_name, True),
    "city": ("CT", hashing.normalise_city, True),
    "state": ("ST", hashing.normalise_name, True),
    "zip": ("ZIP", hashing.normalise_zip, True),
    "country": ("COUNTRY", hashing.normalise_country, True),
    "gender": ("GEN", hashing.normalise_gender, True),
    "external_id": ("EXTERN_ID", lambda value: None if value is None else str(value).strip() or None, False),
    "madid": ("MADID", lambda value: None if value is None else str(value).strip().lower() or None, False),
}
MATCH_KEYS = frozenset({"email", "phone", "external_id", "madid"})  # enough alone for Meta to match someone
THROTTLING = frozenset({4, 17, 32, 613, *range(80000, 80015)})


class MetaSettings(DestinationSettings):
    access_token: Secret = Field(description="A system user's access token.")
    audience_id: Identifier = Field(description="The custom audience.")
    api_version: str | None = Field(None, description="The Graph API version (v25.0).")


class MetaDestination(HttpDestination):
    type_name: ClassVar[str] = "meta_custom_audience"
    settings_model: ClassVar[type[DestinationSettings]] = MetaSettings
    category: ClassVar[str] = "advertising"  # its kind, for the consent policy
    modes: ClassVar[tuple[str, ...]] = ("audience", "mirror")
    batch_size: ClassVar[int] = 10_000
    max_concurrency: ClassVar[int] = 2
    requests_per_second: ClassVar[float] = 4.0
    burst: ClassVar[int] = 4
    default_base_url: ClassVar[str] = "https://graph.facebook.com"
    replaces: ClassVar[bool] = True
    vendor: ClassVar[str] = "Meta"
    credential: ClassVar[str] = "access token"
    credential_remedy: ClassVar[str] = "check it has ads_management on the audience's ad account"

    def __init__(self, sync, workdir: Path) -> None:
        super().__init__(sync, workdir)
        self.audience_id = sync.setting("audience_id")
        if not self.audience_id:
            raise ValueError(f"sync {sync.name}: destination.audience_id is required")
        targets = [mapping.target for mapping in sync.mapping]
        if unknown := [target for target in targets if target not in KEYS and target != "birth_date"]:
            raise ValueError(
                f"sync {sync.name}: Meta cannot match on mapping field(s) {', '.join(unknown)}; "
                f"use {', '.join([*KEYS, 'birth_date'])}"
            )
        if not MATCH_KEYS & set(targets):
            raise ValueError(f"sync {sync.name}: map at least one of {', '.join(sorted(MATCH_KEYS))}")
        self.targets = targets
        self.schema = [key for target in targets for key in _schema_keys(target)]
        self.path = f"/{sync.setting('api_version', 'v25.0')}/{self.audience_id}"
        self.client = self.http_client(
            {"Authorization": f"Bearer {sync.setting('access_token')}", "Content-Type": "application/json"}
        )
        self._session: dict[str, Any] = {}
        self._session_lock = threading.Lock()

    # What Meta answers -----------------------------------------------------------------------------------------
    def transient(self, response: httpx.Response) -> bool:
        error = _error(response)
        return response.status_code == 400 and (error.get("code") in THROTTLING or error.get("is_transient") is True)

    def retry_hint(self, response: httpx.Response) -> float | None:
        try:
            usage = json.loads(response.headers.get("X-Business-Use-Case-Usage", "{}"))
            minutes = max(item.get("estimated_time_to_regain_access", 0) for items in usage.values() for item in items)
        except (ValueError, AttributeError, TypeError):
            return None
        return minutes * 60.0 if minutes else None

    # Rows ------------------------------------------------------------------------------------------------------
    def row(self, change: Change) -> list[str]:
        values: list[str] = []
        for target in self.targets:
            if target == "birth_date":
                birth = hashing.normalise_birth_date(change.fields.get(target))
                parts = (birth[:4], birth[4:6], birth[6:]) if birth else ("", "", "")
                values.extend(hashing.sha256(part) if part else "" for part in parts)
                continue
            _, normalise, hashed = KEYS[target]
            normalised = normalise(change.fields.get(target))
            values.append("" if normalised is None else hashing.sha256(normalised) if hashed else normalised)
        return values

    def validate(self, operation: str, change: Change) -> list[str]:
        problems = [
            f"{target} cannot be normalised for Meta"
            for target, value in change.fields.items()
            if target in KEYS and value is not None and KEYS[target][1](value) is None
        ]
        return super().validate(operation, change) + problems

    def unsendable(self, operation: str, change: Change) -> str | None:
        if any(KEYS[target][1](change.fields.get(target)) for target in self.targets if target in MATCH_KEYS):
            return None
        return "no identifier Meta can match on (email, phone, external_id, madid)"

    def concurrency_for(self, operation: str) -> int:
        return 1 if operation == "replace" else self.max_concurrency  # a session's batches go in order

    def begin(self, operation: str, rows: int) -> None:
        if operation == "replace":
            self._session = {"session_id": random.randint(1, 2**53), "sequence": itertools.count(1),
                             "sent": 0, "total": rows}  # fmt: skip

    def send_batch(self, operation: str, changes: list[Change]) -> list[RowAnswer]:
        rows = [self.row(change) for change in changes]
        body: dict[str, Any] = {"payload": {"schema": self.schema, "data": rows}}
        if operation == "replace":
            body["session"] = self._next_session_batch(len(changes))
        edge, method = ("usersreplace", "POST") if operation == "replace" else (
            "users", "DELETE" if operation in ("remove", "delete", "erase") else "POST")  # fmt: skip
        invalid = set(self.call(method, f"{self.path}/{edge}", body).get("invalid_entry_samples") or {})
        return [
            RowAnswer(change.record_key, False, "Meta counted it as invalid")
            if invalid.intersection(values)
            else RowAnswer(change.record_key, True)
            for change, values in zip(changes, rows, strict=True)
        ]

    def _next_session_batch(self, rows: int) -> dict[str, Any]:
        with self._session_lock:
            self._session["sent"] += rows
            return {
                "session_id": self._session["session_id"],
                "batch_seq": next(self._session["sequence"]),
                "last_batch_flag": self._session["sent"] >= self._session["total"],
                "estimated_num_total": self._session["total"],
            }

    def classify(self, response: httpx.Response) -> None:
        if response.status_code >= 400 and _error(response).get("code") == 190:
            raise CredentialRefused("Meta refused the access token (error 190): check it or renew it")
        super().classify(response)

    def error_code(self, response: httpx.Response) -> str:
        return f"error {_error(response).get('code', '?')}"


def _schema_keys(target: str) -> list[str]:
    return ["DOBY", "DOBM", "DOBD"] if target == "birth_date" else [KEYS[target][0]]


def _error(response: httpx.Response) -> dict[str, Any]:
    body = json_body(response)
    return body.get("error", {}) if isinstance(body, dict) else {}
