"""Klaviyo: profiles upserted through bulk import jobs, and (audience mode) a list's membership.

From Klaviyo's API reference and its published OpenAPI specs (vendor-specs/klaviyo, revision 2026-07-15):
- `POST /api/profile-bulk-import-jobs` takes up to 10,000 profiles (5 MB) and answers 202 with a job; the
  job is asynchronous, so a batch is acknowledged only once `GET /api/profile-bulk-import-jobs/{id}` says
  `complete`, and the rows named by the job's import errors (`GET .../import-errors`, `source.pointer` =
  `/data/attributes/profiles/data/<n>/...`) are rejected. In audience mode the job carries the list in
  `relationships.lists`, which adds every imported profile to it.
- Removing from a list (`DELETE /api/lists/{id}/relationships/profiles`, at most 1,000 profile ids) needs
  Klaviyo's ids: they are looked up by email (`GET /api/profiles?filter=any(email,[...])`, 100 at a time).
- A person who withdraws the sync's consent (upsert mode) keeps their profile with its mapped attributes cleared:
  looked up by email, then `PATCH /api/profiles/{id}` with the attributes null and the custom properties unset
  (`meta.patch_properties.unset`).
- Erasure: `POST /api/data-privacy-deletion-jobs`, one profile per call named by its email (else phone number),
  answered 202: Klaviyo deletes every profile with that identifier (a GDPR deletion, its list memberships with it).
  That endpoint allows 3/s burst and 60/min steady, paced by a bucket of its own.
- Every request: `Authorization: Klaviyo-API-Key <private key>`, `revision: 2026-07-15`, JSON:API bodies. The
  bulk import endpoints allow 10/s burst and 150/min steady (`x-klaviyo-ratelimit`): the bucket below keeps
  under the steady rate, polls included; a 429 carries Retry-After.

Settings: `api_key` ({env: ...}), `base_url` (default https://a.klaviyo.com), `list_id` (audience mode),
`poll_seconds` (1), `job_timeout_seconds` (600). Mapped fields named like Klaviyo's profile attributes (email,
phone_number, external_id, first_name, last_name, organization, title, locale, and `location.<field>`) go to
the profile; every other field is a custom property.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import Field

from ..retry import DestinationUnavailable, TokenBucket
from .base import Change, DestinationSettings, Identifier, RowAnswer, Secret, required_in_audience_mode
from .http import HttpDestination, json_body

REVISION = "2026-07-15"
ATTRIBUTES = frozenset(
    {"email", "phone_number", "external_id", "first_name", "last_name", "organization", "title", "locale", "image"}
)
LOCATION = frozenset({"address1", "address2", "city", "country", "region", "zip", "timezone"})
POINTER = re.compile(r"^/data/attributes/profiles/data/(\d+)")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class KlaviyoSettings(DestinationSettings):
    api_key: Secret = Field(description="A private API key.")
    list_id: Identifier | None = Field(None, description="The list of an audience sync.")
    deletions_per_second: float | None = Field(None, gt=0, description="Data-privacy deletions a second (0.95).")
    poll_seconds: float | None = Field(None, gt=0, description="Seconds between two looks at a bulk job (1).")
    job_timeout_seconds: float | None = Field(None, gt=0, description="Seconds a bulk job may take (600).")

    _audience = required_in_audience_mode("list_id")


class KlaviyoDestination(HttpDestination):
    type_name: ClassVar[str] = "klaviyo"
    settings_model: ClassVar[type[DestinationSettings]] = KlaviyoSettings
    category: ClassVar[str] = "email"  # its kind, for the consent policy
    modes: ClassVar[tuple[str, ...]] = ("upsert", "audience")
    batch_size: ClassVar[int] = 10_000
    operation_batch_sizes: ClassVar[dict[str, int]] = {"remove": 100, "erase": 1}  # values in one any() filter
    max_concurrency: ClassVar[int] = 2
    requests_per_second: ClassVar[float] = 2.4  # 150/min steady
    burst: ClassVar[int] = 10
    default_base_url: ClassVar[str] = "https://a.klaviyo.com"
    vendor: ClassVar[str] = "Klaviyo"
    credential: ClassVar[str] = "API key"
    key_fields: tuple[str, ...] = ("email", "phone_number", "external_id")
    withdraw_as: ClassVar[str] = "withdraw"
    credential_remedy: ClassVar[str] = "check it and its scopes (profiles:write, lists:write, data-privacy:write)"

    def __init__(self, sync, workdir: Path) -> None:
        super().__init__(sync, workdir)
        self.list_id = sync.setting("list_id")
        if sync.mode == "audience" and not self.list_id:
            raise ValueError(f"sync {sync.name}: destination.list_id is required in audience mode")
        self.deletions = TokenBucket(float(sync.settings.get("deletions_per_second", 0.95)), 3)  # 60/min steady
        self.poll_seconds = float(sync.setting("poll_seconds", 1.0))
        self.job_timeout = float(sync.setting("job_timeout_seconds", 600))
        self.client = self.http_client(
            {
                "Authorization": f"Klaviyo-API-Key {sync.setting('api_key')}",
                "revision": REVISION,
                "Accept": "application/vnd.api+json",
                "Content-Type": "application/vnd.api+json",
            }
        )

    def unsendable(self, operation: str, change: Change) -> str | None:
        if operation in ("remove", "withdraw") and not change.fields.get("email"):
            return "removing from a list, or clearing a profile, needs the email"
        if not any(change.fields.get(name) for name in ("email", "phone_number", "external_id")):
            return "a Klaviyo profile needs email, phone_number or external_id"
        return None

    def validate(self, operation: str, change: Change) -> list[str]:
        email = change.fields.get("email")
        if email is not None and not EMAIL.match(str(email)):
            return [*super().validate(operation, change), "email is not an address"]
        return super().validate(operation, change)

    def send_batch(self, operation: str, changes: list[Change]) -> list[RowAnswer]:
        if operation == "remove":
            return self._remove(changes)
        if operation == "erase":
            return [self._erase(change) for change in changes]
        if operation == "withdraw":
            return self._withdraw(changes)
        return self._import(changes)

    def _withdraw(self, changes: list[Change]) -> list[RowAnswer]:
        """Each profile's mapped attributes cleared and its mapped custom properties unset, found by email."""
        ids = self._profile_ids([str(change.fields["email"]) for change in changes if change.fields.get("email")])
        for change in changes:
            profile_id = ids.get(str(change.fields.get("email") or "").strip().lower())
            if profile_id is None:
                continue  # Klaviyo holds no such profile: nothing to clear
            cleared = [name for name in change.fields if name not in self.key_fields]
            attributes = {name: None for name in cleared if name in ATTRIBUTES}
            location = {name.removeprefix("location."): None for name in cleared if name.startswith("location.")}
            if location:
                attributes["location"] = location
            properties = [name for name in cleared if name not in ATTRIBUTES and not name.startswith("location.")]
            data: dict[str, Any] = {"type": "profile", "id": profile_id, "attributes": attributes}
            if properties:
                data["meta"] = {"patch_properties": {"unset": properties}}
            self.call("PATCH", f"/api/profiles/{profile_id}", {"data": data})
        return [RowAnswer(change.record_key, True) for change in changes]

    def _profile_ids(self, emails: list[str]) -> dict[str, str]:
        """Klaviyo's profile ids of `emails` (lower-cased), 100 per look-up."""
        found: dict[str, str] = {}
        emails = [email.strip().lower() for email in emails]
        for start in range(0, len(emails), 100):
            values = ",".join(json.dumps(email) for email in emails[start : start + 100])
            body = self.call("GET", "/api/profiles", params={"filter": f"any(email,[{values}])", "page[size]": "100"})
            found.update({str(item["attributes"]["email"]).lower(): item["id"] for item in body.get("data", [])})
        return found

    def _erase(self, change: Change) -> RowAnswer:
        kind = next((name for name in ("email", "phone_number") if change.fields.get(name)), None)
        if kind is None:
            return RowAnswer(change.record_key, False, "no email or phone_number to name the profile by")
        self.deletions.take()
        profile = {"type": "profile", "attributes": {kind: str(change.fields[kind]).strip()}}
        job = {"type": "data-privacy-deletion-job", "attributes": {"profile": {"data": profile}}}
        self.call("POST", "/api/data-privacy-deletion-jobs", {"data": job})
        return RowAnswer(change.record_key, True)

    def _import(self, changes: list[Change]) -> list[RowAnswer]:
        data: dict[str, Any] = {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": [_profile(change.fields) for change in changes]}},
        }
        if self.list_id:
            data["relationships"] = {"lists": {"data": [{"type": "list", "id": str(self.list_id)}]}}
        job = self.call("POST", "/api/profile-bulk-import-jobs", {"data": data})["data"]
        deadline = time.monotonic() + self.job_timeout
        while job["attributes"]["status"] in ("queued", "processing"):
            if time.monotonic() > deadline:
                raise DestinationUnavailable(
                    f"Klaviyo import job {job['id']} did not complete in {self.job_timeout:.0f} s; "
                    "its rows will be sent again"
                )
            time.sleep(self.poll_seconds)
            job = self.call("GET", f"/api/profile-bulk-import-jobs/{job['id']}")["data"]
        if job["attributes"]["status"] != "complete":
            raise DestinationUnavailable(f"Klaviyo import job {job['id']} ended {job['attributes']['status']}")
        failed = self._import_errors(job["id"]) if job["attributes"].get("failed_count") else {}
        return [
            RowAnswer(change.record_key, index not in failed, failed.get(index)) for index, change in enumerate(changes)
        ]

    def _import_errors(self, job_id: str) -> dict[int, str]:
        """Row index -> Klaviyo's error code and title (never the detail, which may quote the value)."""
        failed: dict[int, str] = {}
        url: str | None = f"/api/profile-bulk-import-jobs/{job_id}/import-errors?page[size]=100"
        while url:
            body = self.call("GET", url)
            for error in body.get("data", []):
                attributes = error["attributes"]
                found = POINTER.match(attributes.get("source", {}).get("pointer", ""))
                if found:
                    failed[int(found[1])] = f"{attributes.get('code', 'error')}: {attributes.get('title', '')}"
            url = (body.get("links") or {}).get("next")
        return failed

    def _remove(self, changes: list[Change]) -> list[RowAnswer]:
        emails = [str(change.fields["email"]).strip().lower() for change in changes if change.fields.get("email")]
        if emails:
            values = ",".join(json.dumps(email) for email in emails)
            found = self.call("GET", "/api/profiles", params={"filter": f"any(email,[{values}])", "page[size]": "100"})
            profiles = [{"type": "profile", "id": item["id"]} for item in found.get("data", [])]
            if profiles:
                self.call("DELETE", f"/api/lists/{self.list_id}/relationships/profiles", {"data": profiles})
        return [RowAnswer(change.record_key, True) for change in changes]  # a profile Klaviyo lacks is not a member

    def error_code(self, response: httpx.Response) -> str:
        """Klaviyo's error codes, e.g. `invalid`: its details can quote submitted values, so they stay out."""
        body = json_body(response)
        errors = body.get("errors", []) if isinstance(body, dict) else []
        return ",".join(sorted({str(error.get("code", "error")) for error in errors}))


def _profile(fields: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    location: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if name in ATTRIBUTES:
            attributes[name] = str(value)
        elif name.startswith("location.") and name.removeprefix("location.") in LOCATION:
            location[name.removeprefix("location.")] = str(value)
        else:
            properties[name] = value if isinstance(value, str | int | float | bool) else str(value)
    if location:
        attributes["location"] = location
    if properties:
        attributes["properties"] = properties
    return {"type": "profile", "attributes": attributes}
