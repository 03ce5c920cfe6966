"""HubSpot CRM: contacts upserted by email, and (audience mode) a static list's membership.

From HubSpot's documentation and its published OpenAPI specs (vendor-specs/hubspot):
- `POST /crm/v3/objects/contacts/batch/upsert`, at most 100 inputs, each `{"id": <email>, "idProperty": "email",
  "properties": {...}}` with string values. 200 when all succeeded; 207 with `errors[]` naming the failed ids in
  `context.ids`.
- `PUT /crm/v3/lists/{listId}/memberships/add` and `/remove` take HubSpot record ids: audience rows are first
  upserted (add) or read by email (remove, `POST /crm/v3/objects/contacts/batch/read`) to learn them.
- A person who withdraws the sync's consent (upsert mode) keeps their contact with every mapped property but
  the email cleared (sent empty, as HubSpot clears a property).
- Erasure: `POST /crm/v3/objects/contacts/gdpr-delete` with `{"objectId": <email>, "idProperty": "email"}`, one
  contact per call, answered 204: HubSpot permanently deletes the contact and everything associated with it
  (and blocks the address if it holds no such contact).
- Auth `Authorization: Bearer <private app token>`; burst limit 190 requests per rolling 10 s for a private app
  (Professional/Enterprise): the bucket below stays just under it (5 at once, then 18.5/s).

Settings: `token` ({env: ...}), `base_url` (default https://api.hubapi.com; the stand-in's in tests and the
demo), `list_id` (audience mode). The mapping must have `email`; other fields are contact properties.
Rejected rows carry HubSpot's error category and code, never the values.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import Field

from .base import Change, DestinationSettings, Identifier, RowAnswer, Secret, required_in_audience_mode
from .http import HttpDestination, json_body

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class HubSpotSettings(DestinationSettings):
    token: Secret = Field(description="A private app's access token.")
    list_id: Identifier | None = Field(None, description="The static list of an audience sync.")

    _audience = required_in_audience_mode("list_id")


class HubSpotDestination(HttpDestination):
    type_name: ClassVar[str] = "hubspot"
    settings_model: ClassVar[type[DestinationSettings]] = HubSpotSettings
    category: ClassVar[str] = "crm"  # its kind, for the consent policy
    modes: ClassVar[tuple[str, ...]] = ("upsert", "audience")
    batch_size: ClassVar[int] = 100
    operation_batch_sizes: ClassVar[dict[str, int]] = {"erase": 1}
    max_concurrency: ClassVar[int] = 4
    requests_per_second: ClassVar[float] = 18.5
    burst: ClassVar[int] = 5
    default_base_url: ClassVar[str] = "https://api.hubapi.com"
    vendor: ClassVar[str] = "HubSpot"
    key_fields: tuple[str, ...] = ("email",)
    withdraw_as: ClassVar[str] = "withdraw"  # an upsert whose cleared properties are sent empty

    def __init__(self, sync, workdir: Path) -> None:
        super().__init__(sync, workdir)
        self.list_id = sync.setting("list_id")
        if sync.mode == "audience" and not self.list_id:
            raise ValueError(f"sync {sync.name}: destination.list_id is required in audience mode")
        token = sync.setting("token")
        self.client = self.http_client({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})

    def unsendable(self, operation: str, change: Change) -> str | None:
        return None if change.fields.get("email") else "email is missing (HubSpot contacts are keyed by it)"

    def validate(self, operation: str, change: Change) -> list[str]:
        email = change.fields.get("email")
        return super().validate(operation, change) or ([] if EMAIL.match(str(email)) else ["email is not an address"])

    def send_batch(self, operation: str, changes: list[Change]) -> list[RowAnswer]:
        if operation == "erase":
            for change in changes:
                self.call("POST", "/crm/v3/objects/contacts/gdpr-delete",
                          {"objectId": str(change.fields["email"]), "idProperty": "email"})  # fmt: skip
            return [RowAnswer(change.record_key, True) for change in changes]
        if operation == "remove":
            return self._remove(changes)
        answers, ids = self._upsert(changes, clear=operation == "withdraw")
        if operation == "add":
            members = [change for change in changes if change.record_key in ids]
            self._membership("add", [ids[change.record_key] for change in members])
        return answers

    def _upsert(self, changes: list[Change], clear: bool = False) -> tuple[list[RowAnswer], dict[str, str]]:
        """`clear`: properties without a value are sent empty, which is how HubSpot clears one."""
        inputs = [
            {
                "id": str(change.fields["email"]),
                "idProperty": "email",
                "properties": {
                    name: "" if value is None else _text(value)
                    for name, value in change.fields.items()
                    if value is not None or clear
                },
            }
            for change in changes
        ]
        body = self.call("POST", "/crm/v3/objects/contacts/batch/upsert", {"inputs": inputs})
        failed: dict[str, str] = {}
        for error in body.get("errors", []):
            reason = f"{error.get('category', 'ERROR')}" + (
                f" ({error['subCategory']})" if error.get("subCategory") else ""
            )
            for email in error.get("context", {}).get("ids", []):
                failed[email.lower()] = reason
        record_ids = {
            str(result.get("properties", {}).get("email", "")).lower(): str(result["id"])
            for result in body.get("results", [])
        }
        answers, ids = [], {}
        for change in changes:
            email = str(change.fields["email"]).lower()
            if email in failed or email not in record_ids:
                answers.append(RowAnswer(change.record_key, False, failed.get(email, "HubSpot returned no record")))
            else:
                answers.append(RowAnswer(change.record_key, True))
                ids[change.record_key] = record_ids[email]
        return answers, ids

    def _remove(self, changes: list[Change]) -> list[RowAnswer]:
        inputs = [{"id": str(change.fields["email"])} for change in changes]
        body = self.call(
            "POST",
            "/crm/v3/objects/contacts/batch/read",
            {"idProperty": "email", "inputs": inputs, "properties": ["email"], "propertiesWithHistory": []},
        )
        known = {str(r.get("properties", {}).get("email", "")).lower(): str(r["id"]) for r in body.get("results", [])}
        self._membership("remove", [known[e] for e in (str(c.fields["email"]).lower() for c in changes) if e in known])
        return [RowAnswer(change.record_key, True) for change in changes]  # a contact HubSpot lacks is not a member

    def _membership(self, action: str, record_ids: list[str]) -> None:
        if record_ids:
            self.call("PUT", f"/crm/v3/lists/{self.list_id}/memberships/{action}", record_ids)

    def error_code(self, response: httpx.Response) -> str:
        body = json_body(response)
        return str(body.get("category", "ERROR")) if isinstance(body, dict) else "ERROR"


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
