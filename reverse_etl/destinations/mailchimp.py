"""Mailchimp: audience members subscribed and updated in batches, tags as audiences, archived on removal.

From the Mailchimp Marketing API reference:
- `POST /3.0/lists/{list_id}` (batch subscribe or update) takes 500 members, `update_existing: true` makes it an
  upsert; members it could not take come back in `errors[]` by `email_address`, with an `error_code`;
- audience mode keeps a tag, a static segment of the list (found by name, created when missing): members are
  upserted then added with `POST /3.0/lists/{list_id}/segments/{id}` (`members_to_add`, 500 at a time), and
  leave it with `members_to_remove`;
- mirror mode archives a removed member: `DELETE /3.0/lists/{list_id}/members/{subscriber_hash}`, the MD5 of the
  lowercased address (reverse_etl.hashing); an archived member stays in the audience;
- a member who withdraws the sync's consent (upsert and mirror modes keep them) is set `unsubscribed`, their
  merge fields cleared;
- erasure deletes the member permanently, with its history:
  `POST /3.0/lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent` (204; 404 when not there);
- HTTP Basic auth with the API key as password; the data centre is the key's suffix (`...-us21` ->
  https://us21.api.mailchimp.com); at most 10 simultaneous connections, so at most 4 batches in flight here.

Settings: `api_key` ({env: ...}), `list_id`, `tag` (audience mode), `status` (of subscribed rows: `subscribed`,
the rows carry the consent), `base_url`. The mapping must have `email`; other fields are merge fields (FNAME,
LNAME, ...).
"""

from __future__ import annotations

import base64
import threading
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field

from ..hashing import mailchimp_subscriber_hash
from .base import Change, DestinationSettings, Identifier, RowAnswer, Secret, required_in_audience_mode
from .http import HttpDestination, json_body


class MailchimpSettings(DestinationSettings):
    api_key: Secret = Field(description="An API key (its suffix names the data centre).")
    list_id: Identifier = Field(description="The audience (list) the members belong to.")
    tag: str | None = Field(None, description="The tag that marks an audience sync's members.")
    status: Literal["subscribed", "pending", "transactional"] | None = Field(
        None, description="The status new members get (subscribed)."
    )

    _audience = required_in_audience_mode("tag")


class MailchimpDestination(HttpDestination):
    type_name: ClassVar[str] = "mailchimp"
    settings_model: ClassVar[type[DestinationSettings]] = MailchimpSettings
    category: ClassVar[str] = "email"  # its kind, for the consent policy
    modes: ClassVar[tuple[str, ...]] = ("upsert", "mirror", "audience")
    batch_size: ClassVar[int] = 500
    operation_batch_sizes: ClassVar[dict[str, int]] = {"erase": 50}  # one call per member, 50 rows a batch
    max_concurrency: ClassVar[int] = 4
    requests_per_second: ClassVar[float] = 10.0
    burst: ClassVar[int] = 4
    vendor: ClassVar[str] = "Mailchimp"
    key_fields: tuple[str, ...] = ("email",)
    withdraw_as: ClassVar[str] = "withdraw"  # unsubscribed, merge fields cleared
    credential: ClassVar[str] = "API key"
    credential_remedy: ClassVar[str] = "check it, and that base_url is its data centre"

    def __init__(self, sync, workdir: Path) -> None:
        super().__init__(sync, workdir)
        self.list_id = sync.setting("list_id")
        self.tag = sync.setting("tag")
        if not self.list_id or (sync.mode == "audience" and not self.tag):
            raise ValueError(f"sync {sync.name}: destination.list_id (and, in audience mode, destination.tag) "
                             "are required")  # fmt: skip
        if "email" not in {mapping.target for mapping in sync.mapping}:
            raise ValueError(f"sync {sync.name}: the mapping needs `email`")
        api_key = str(sync.setting("api_key"))
        self.default_base_url = f"https://{api_key.rpartition('-')[2]}.api.mailchimp.com"
        self.status = str(sync.setting("status", "subscribed"))
        credentials = base64.b64encode(f"tessera:{api_key}".encode()).decode()
        self.client = self.http_client({"Authorization": f"Basic {credentials}", "Content-Type": "application/json"})
        self._segment_id: int | None = None
        self._segment_lock = threading.Lock()  # batches in flight must not each create the tag

    def unsendable(self, operation: str, change: Change) -> str | None:
        return None if change.fields.get("email") else "email is missing (Mailchimp members are keyed by it)"

    def validate(self, operation: str, change: Change) -> list[str]:
        email = change.fields.get("email")
        return super().validate(operation, change) or ([] if "@" in str(email) else ["email is not an address"])

    def send_batch(self, operation: str, changes: list[Change]) -> list[RowAnswer]:
        if operation == "delete":
            return [self._archive(change) for change in changes]
        if operation == "erase":
            return [self._delete_permanently(change) for change in changes]
        if operation == "remove":
            emails = [str(change.fields["email"]).strip().lower() for change in changes]
            self.call("POST", f"/3.0/lists/{self.list_id}/segments/{self.segment_id()}", {"members_to_remove": emails})
            return [RowAnswer(change.record_key, True) for change in changes]
        withdrawn = operation == "withdraw"
        members = [
            {
                "email_address": str(change.fields["email"]).strip(),
                "status": "unsubscribed" if withdrawn else self.status,
                "merge_fields": {
                    name.upper(): "" if value is None else _merge_value(value)
                    for name, value in change.fields.items()
                    if name != "email" and (value is not None or withdrawn)
                },
            }
            for change in changes
        ]
        body = self.call("POST", f"/3.0/lists/{self.list_id}", {"members": members, "update_existing": True})
        failed = {str(error["email_address"]).strip().lower(): str(error.get("error_code") or "ERROR")
                  for error in body.get("errors", [])}  # fmt: skip
        answers = [
            RowAnswer(change.record_key, False, f"Mailchimp {failed[email]}")
            if (email := str(change.fields["email"]).strip().lower()) in failed
            else RowAnswer(change.record_key, True)
            for change in changes
        ]
        if operation == "add":
            accepted = [
                str(c.fields["email"]).strip().lower() for c, a in zip(changes, answers, strict=True) if a.accepted
            ]
            if accepted:
                self.call(
                    "POST", f"/3.0/lists/{self.list_id}/segments/{self.segment_id()}", {"members_to_add": accepted}
                )
        return answers

    def segment_id(self) -> int:
        """The tag's static segment, found or created once, however many batches are in flight."""
        with self._segment_lock:
            if self._segment_id is None:
                found = self.call("GET", f"/3.0/lists/{self.list_id}/segments?type=static&count=1000")
                match = [segment["id"] for segment in found.get("segments", []) if segment["name"] == self.tag]
                self._segment_id = match[0] if match else self.call(
                    "POST", f"/3.0/lists/{self.list_id}/segments", {"name": self.tag, "static_segment": []}
                )["id"]  # fmt: skip
            return self._segment_id

    def _archive(self, change: Change) -> RowAnswer:
        member = mailchimp_subscriber_hash(str(change.fields["email"]))
        response = self.call_raw("DELETE", f"/3.0/lists/{self.list_id}/members/{member}")
        if response.status_code in (204, 404):  # archived now, or not there to archive
            return RowAnswer(change.record_key, True)
        return RowAnswer(change.record_key, False, f"Mailchimp HTTP {response.status_code} {self.error_code(response)}")

    def _delete_permanently(self, change: Change) -> RowAnswer:
        member = mailchimp_subscriber_hash(str(change.fields["email"]))
        path = f"/3.0/lists/{self.list_id}/members/{member}/actions/delete-permanent"
        response = self.call_raw("POST", path)
        if response.status_code in (204, 404):  # deleted now, or not there to delete
            return RowAnswer(change.record_key, True)
        return RowAnswer(change.record_key, False, f"Mailchimp HTTP {response.status_code} {self.error_code(response)}")

    def error_code(self, response: httpx.Response) -> str:
        """Mailchimp's error title (`Invalid Resource`); its `detail` can quote values, so it stays out."""
        body = json_body(response)
        return str(body.get("title", "")) if isinstance(body, dict) else ""


def _merge_value(value: Any) -> str | int | float:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else str(value)
