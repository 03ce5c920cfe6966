"""Braze: user profiles through `/users/track`, audiences as an array attribute, deletion for mirror mode.

From Braze's REST API reference:
- `POST /users/track` takes at most 75 attribute objects, each naming its user by `external_id`; an object
  Braze cannot take is a minor error (`errors[]` with `input_array` and `index`) while the rest succeed;
- audience mode keeps the audience's name in an array attribute (`tessera_audiences` by default) with
  Braze's `{"add": [...]}` / `{"remove": [...]}` array operations, so one user can be in many audiences;
- mirror mode deletes removed users with `POST /users/delete` (at most 50 external ids), and so does an
  erasure, in every mode: Braze's deletion removes the profile for good;
- `Authorization: Bearer <REST API key>`; the REST endpoint depends on the instance (`https://rest.<instance>.
  braze.com`), so `base_url` is required; /users/track allows 3,000 requests per 3 s: a 429 carries
  `X-RateLimit-Reset` (epoch seconds), which the retry waits for.

Settings: `api_key` ({env: ...}), `base_url`, `audience_attribute`, `audience_name` (default: the sync's name).
The mapping must have `external_id`; other fields are user attributes (email, first_name, custom ones).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import Field

from .base import Change, DestinationSettings, RowAnswer, Secret, Text
from .http import HttpDestination


class BrazeSettings(DestinationSettings):
    api_key: Secret = Field(description="A REST API key with users.track and users.delete.")
    base_url: Text = Field(description="The REST endpoint of the Braze instance, e.g. https://rest.iad-01.braze.com.")
    audience_attribute: str | None = Field(None, description="The custom attribute that lists audiences.")
    audience_name: str | None = Field(None, description="This sync's name in that attribute (default: the sync's).")


class BrazeDestination(HttpDestination):
    type_name: ClassVar[str] = "braze"
    settings_model: ClassVar[type[DestinationSettings]] = BrazeSettings
    category: ClassVar[str] = "email"  # its kind, for the consent policy
    modes: ClassVar[tuple[str, ...]] = ("upsert", "mirror", "audience")
    batch_size: ClassVar[int] = 75
    operation_batch_sizes: ClassVar[dict[str, int]] = {"delete": 50, "erase": 50}
    max_concurrency: ClassVar[int] = 4
    requests_per_second: ClassVar[float] = 900.0  # 3,000 per 3 s, with room for other senders
    burst: ClassVar[int] = 10
    vendor: ClassVar[str] = "Braze"
    key_fields: tuple[str, ...] = ("external_id",)  # a withdrawal sends the other attributes null: Braze removes them
    credential: ClassVar[str] = "API key"
    credential_remedy: ClassVar[str] = "check it and its users.track / users.delete permissions"

    def __init__(self, sync, workdir: Path) -> None:
        super().__init__(sync, workdir)
        if "external_id" not in {mapping.target for mapping in sync.mapping}:
            raise ValueError(f"sync {sync.name}: the mapping needs `external_id` (the Braze user)")
        self.attribute = str(sync.setting("audience_attribute", "tessera_audiences"))
        self.audience = str(sync.setting("audience_name", sync.name))
        self.client = self.http_client(
            {"Authorization": f"Bearer {sync.setting('api_key')}", "Content-Type": "application/json"}
        )

    def retry_hint(self, response: httpx.Response) -> float | None:
        reset = response.headers.get("X-RateLimit-Reset")
        try:
            return max(0.0, float(reset) - time.time()) if reset else None
        except ValueError:
            return None

    def unsendable(self, operation: str, change: Change) -> str | None:
        return None if change.fields.get("external_id") else "external_id is missing"

    def send_batch(self, operation: str, changes: list[Change]) -> list[RowAnswer]:
        if operation in ("delete", "erase"):  # Braze's deletion is its erasure: the profile is gone for good
            ids = [str(change.fields["external_id"]) for change in changes]
            self.call("POST", "/users/delete", {"external_ids": ids})
            return [RowAnswer(change.record_key, True) for change in changes]
        objects = [self._object(operation, change) for change in changes]
        body = self.call("POST", "/users/track", {"attributes": objects})
        failed = {int(error["index"]): _error_type(error) for error in body.get("errors", [])
                  if error.get("input_array") == "attributes" and "index" in error}  # fmt: skip
        return [RowAnswer(change.record_key, i not in failed, failed.get(i)) for i, change in enumerate(changes)]

    def _object(self, operation: str, change: Change) -> dict[str, Any]:
        if operation == "remove":
            return {"external_id": str(change.fields["external_id"]), self.attribute: {"remove": [self.audience]}}
        item = {name: _value(value) for name, value in change.fields.items()}
        item["external_id"] = str(change.fields["external_id"])
        if operation == "add":
            item[self.attribute] = {"add": [self.audience]}
        return item


def _value(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def _error_type(error: dict[str, Any]) -> str:
    """Braze's error type, cut before any quoted value."""
    return "Braze: " + str(error.get("type", "minor error")).split(":")[0][:120]
