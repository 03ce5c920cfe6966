"""Google Ads Customer Match: people added to and removed from a customer-list user list.

From the Google Ads API REST reference (OfflineUserDataJobService) and its Customer Match guide:
- each batch is one offline user data job: `customers/{id}/offlineUserDataJobs:create` (type
  CUSTOMER_MATCH_USER_LIST, the user list, and the consent the rows carry: ad user data and personalisation
  granted), `{job}:addOperations` (one `create` or `remove` per row, `enablePartialFailure`), then `{job}:run`;
  Google applies a run job within hours, so the batch is acknowledged when the run is accepted;
- identifiers are SHA-256 of normalised values (reverse_etl.hashing): email trimmed and lowercased, without the
  dots before the @ of gmail.com and googlemail.com; phone as `+E.164`; first and last name with `countryCode`
  and `postalCode` unhashed in an `addressInfo`, sent only when all four are there;
- a `partialFailureError` locates each failed operation by index: those rows are rejected with Google's error
  code; a 429 `RESOURCE_EXHAUSTED` is retried after its `retryDelay`;
- erasure removes the person's identifiers from the user list (`remove` operations), in every mode: the list
  holds nothing else of them.

Settings: `access_token` and `developer_token` ({env: ...}), `customer_id`, `user_list_id`, optional
`login_customer_id` (a manager account), `base_url` (default https://googleads.googleapis.com). Mapping
targets: email, phone, first_name, last_name, country, zip.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import Field

from .. import hashing
from .base import Change, DestinationSettings, Identifier, RowAnswer, Secret
from .http import HttpDestination, json_body

VERSION = "v21"
TARGETS = ("email", "phone", "first_name", "last_name", "country", "zip")


class GoogleAdsSettings(DestinationSettings):
    access_token: Secret = Field(description="An OAuth access token.")
    developer_token: Secret = Field(description="The developer token of the API access.")
    customer_id: Identifier = Field(description="The Google Ads account, with or without dashes.")
    user_list_id: Identifier = Field(description="The Customer Match user list.")
    login_customer_id: Identifier | None = Field(None, description="The manager account, when it logs in.")


class GoogleAdsDestination(HttpDestination):
    type_name: ClassVar[str] = "google_ads_customer_match"
    settings_model: ClassVar[type[DestinationSettings]] = GoogleAdsSettings
    category: ClassVar[str] = "advertising"  # its kind, for the consent policy
    modes: ClassVar[tuple[str, ...]] = ("audience", "mirror")
    batch_size: ClassVar[int] = 10_000
    max_concurrency: ClassVar[int] = 2
    requests_per_second: ClassVar[float] = 5.0
    burst: ClassVar[int] = 5
    default_base_url: ClassVar[str] = "https://googleads.googleapis.com"
    vendor: ClassVar[str] = "Google Ads"
    credential: ClassVar[str] = "credentials"
    credential_remedy: ClassVar[str] = "check the OAuth access token and the developer token"

    def __init__(self, sync, workdir: Path) -> None:
        super().__init__(sync, workdir)
        self.customer_id = str(sync.setting("customer_id", "")).replace("-", "")
        user_list_id = sync.setting("user_list_id")
        if not self.customer_id or not user_list_id:
            raise ValueError(f"sync {sync.name}: destination.customer_id and destination.user_list_id are required")
        if unknown := [mapping.target for mapping in sync.mapping if mapping.target not in TARGETS]:
            raise ValueError(
                f"sync {sync.name}: Customer Match cannot match on mapping field(s) {', '.join(unknown)}; "
                f"use {', '.join(TARGETS)}"
            )
        self.user_list = f"customers/{self.customer_id}/userLists/{user_list_id}"
        headers = {
            "Authorization": f"Bearer {sync.setting('access_token')}",
            "developer-token": str(sync.setting("developer_token")),
            "Content-Type": "application/json",
        }
        if login := sync.setting("login_customer_id"):
            headers["login-customer-id"] = str(login).replace("-", "")
        self.client = self.http_client(headers)

    def retry_hint(self, response: httpx.Response) -> float | None:
        found = re.search(r'"retryDelay":\s*"(\d+(?:\.\d+)?)s"', response.text)
        return float(found[1]) if found else None

    def identifiers(self, fields: dict[str, Any]) -> list[dict[str, Any]]:
        identifiers: list[dict[str, Any]] = []
        if email := hashing.normalise_email_google(fields.get("email")):
            identifiers.append({"hashedEmail": hashing.sha256(email)})
        if phone := hashing.normalise_phone_e164(fields.get("phone")):
            identifiers.append({"hashedPhoneNumber": hashing.sha256(phone)})
        first = hashing.normalise_name_google(fields.get("first_name"))
        last = hashing.normalise_name_google(fields.get("last_name"))
        country = hashing.normalise_country(fields.get("country"))
        postal = str(fields.get("zip") or "").strip().replace(" ", "")
        if first and last and country and postal:
            identifiers.append(
                {
                    "addressInfo": {
                        "hashedFirstName": hashing.sha256(first),
                        "hashedLastName": hashing.sha256(last),
                        "countryCode": country.upper(),
                        "postalCode": postal,
                    }
                }
            )
        return identifiers

    def unsendable(self, operation: str, change: Change) -> str | None:
        if not self.identifiers(change.fields):
            return "no identifier Customer Match can use (email, phone, or name with country and zip)"
        return None

    def send_batch(self, operation: str, changes: list[Change]) -> list[RowAnswer]:
        answers: dict[str, RowAnswer] = {}
        verb = "remove" if operation in ("remove", "delete", "erase") else "create"
        operations = [{verb: {"userIdentifiers": self.identifiers(change.fields)}} for change in changes]
        job = self.call(
            "POST",
            f"/{VERSION}/customers/{self.customer_id}/offlineUserDataJobs:create",
            {
                "job": {
                    "type": "CUSTOMER_MATCH_USER_LIST",
                    "customerMatchUserListMetadata": {
                        "userList": self.user_list,
                        "consent": {"adUserData": "GRANTED", "adPersonalization": "GRANTED"},
                    },
                }
            },
        )["resourceName"]
        added = self.call(
            "POST", f"/{VERSION}/{job}:addOperations", {"enablePartialFailure": True, "operations": operations}
        )
        for index, code in _failed_operations(added).items():
            if index < len(changes):
                answers[changes[index].record_key] = RowAnswer(changes[index].record_key, False, code)
        self.call("POST", f"/{VERSION}/{job}:run", {})
        return [answers.get(change.record_key, RowAnswer(change.record_key, True)) for change in changes]

    def error_code(self, response: httpx.Response) -> str:
        return ",".join(sorted(set(_error_codes(json_body(response) or {}))))


def _error_codes(body: dict[str, Any]) -> list[str]:
    """Google's error codes (e.g. `INVALID_COUNTRY_CODE`), never its messages."""
    details = body.get("error", body.get("partialFailureError", {})).get("details", [])
    return [value for detail in details for error in detail.get("errors", []) for value in error["errorCode"].values()]


def _failed_operations(body: dict[str, Any]) -> dict[int, str]:
    failed: dict[int, str] = {}
    for detail in (body.get("partialFailureError") or {}).get("details", []):
        for error in detail.get("errors", []):
            path = error.get("location", {}).get("fieldPathElements", [])
            index = next((element.get("index") for element in path if element.get("fieldName") == "operations"), None)
            if index is not None:
                failed[int(index)] = ",".join(error["errorCode"].values())
    return failed
