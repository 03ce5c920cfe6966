"""HubSpot's CRM API as a local stand-in: contacts (batch upsert by email, batch read) and static lists.

It enforces what HubSpot does and documents: `Authorization: Bearer <token>`; at most 100 inputs per batch call;
190 requests per rolling 10 s, answered with 429 and HubSpot's `TEN_SECONDLY_ROLLING` error body; partial
failure as 207 with `errors[]` naming the failed ids in `context.ids` (here: an `id` that is not an email
address); the GDPR delete of a contact (`POST /crm/v3/objects/contacts/gdpr-delete`, 204: the contact, its
list memberships and everything it held are gone, and the address is blocked); and every request validated
against HubSpot's published OpenAPI specs (specs/hubspot), answered with 400 `VALIDATION_ERROR` when it does
not conform.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from .base import Reply, StandIn, openapi, openapi_problem

BATCH_LIMIT = 100
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MEMBERSHIP = re.compile(r"^/crm/v3/lists/(?P<list_id>[^/]+)/memberships/(?P<action>add|remove)$")


class HubSpotStandIn(StandIn):
    name = "hubspot"
    rate_limit = (190, 10.0)

    def __init__(self, token: str = "standin-hubspot-token") -> None:
        super().__init__(token)
        self.contacts: dict[str, dict[str, Any]] = {}  # id -> contact
        self.by_email: dict[str, str] = {}
        self.lists: dict[str, set[str]] = {}
        self.blocked_emails: set[str] = set()  # addresses a GDPR delete named
        self._ids = itertools.count(1001)

    def rate_limited(self) -> Reply:
        return Reply(429, _error("You have reached your ten_secondly_rolling limit.", "RATE_LIMIT",
                                 errorType="RATE_LIMIT", policyName="TEN_SECONDLY_ROLLING"))  # fmt: skip

    def unauthorized(self) -> Reply:
        return Reply(401, _error("Authentication credentials not found.", "INVALID_AUTHENTICATION"))

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        route = urlsplit(path).path
        spec = "lists-v3.json" if route.startswith("/crm/v3/lists") else "contacts-v3.json"
        problem = openapi_problem(openapi("hubspot", spec), "https://api.hubapi.com", method, path, headers, raw)
        if problem:
            return Reply(400, _error(f"Invalid input JSON: {problem}", "VALIDATION_ERROR"))
        body = json.loads(raw) if raw else None
        with self._lock:
            self.requests.append((method, route, body))
            if method == "POST" and route == "/crm/v3/objects/contacts/batch/upsert":
                return self._upsert(body["inputs"])
            if method == "POST" and route == "/crm/v3/objects/contacts/gdpr-delete":
                return self._gdpr_delete(body)
            if method == "POST" and route == "/crm/v3/objects/contacts/batch/read":
                return self._read(body)
            if method == "PUT" and (found := MEMBERSHIP.match(route)):
                return self._membership(found["list_id"], found["action"], body)
        return Reply(404, _error(f"No stand-in route for {method} {route}", "OBJECT_NOT_FOUND"))

    def _upsert(self, inputs: list[dict[str, Any]]) -> Reply:
        if len(inputs) > BATCH_LIMIT:
            return Reply(400, _error(f"Batch input cannot exceed {BATCH_LIMIT} inputs", "VALIDATION_ERROR"))
        started, results, errors = _now(), [], []
        for item in inputs:
            email = item["id"].strip().lower()
            if item.get("idProperty") != "email" or not EMAIL.match(email):
                errors.append({**_error("Property values were not valid", "VALIDATION_ERROR"),
                               "subCategory": "INVALID_EMAIL", "context": {"ids": [item["id"]]}})  # fmt: skip
                continue
            contact_id = self.by_email.get(email)
            new = contact_id is None
            if new:
                contact_id = str(next(self._ids))
                self.by_email[email] = contact_id
                self.contacts[contact_id] = {"id": contact_id, "properties": {}, "createdAt": _now()}
            contact = self.contacts[contact_id]
            contact["properties"].update({**item["properties"], "email": email})
            contact["updatedAt"] = _now()
            results.append({**contact, "archived": False, "new": new})
        body = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now()}
        if errors:
            return Reply(207, {**body, "numErrors": len(errors), "errors": errors})
        return Reply(200, body)

    def _read(self, body: dict[str, Any]) -> Reply:
        if len(body["inputs"]) > BATCH_LIMIT:
            return Reply(400, _error(f"Batch input cannot exceed {BATCH_LIMIT} inputs", "VALIDATION_ERROR"))
        found = [self.by_email.get(item["id"].strip().lower()) for item in body["inputs"]]
        results = [
            {"id": cid, "properties": {"email": self.contacts[cid]["properties"]["email"]},
             "createdAt": self.contacts[cid]["createdAt"], "updatedAt": self.contacts[cid]["updatedAt"],
             "archived": False}
            for cid in found if cid
        ]  # fmt: skip
        return Reply(200, {"status": "COMPLETE", "results": results, "startedAt": _now(), "completedAt": _now()})

    def _membership(self, list_id: str, action: str, record_ids: list[str]) -> Reply:
        members = self.lists.setdefault(list_id, set())
        missing = [record_id for record_id in record_ids if record_id not in self.contacts]
        present = [record_id for record_id in record_ids if record_id in self.contacts]
        if action == "add":
            members.update(present)
            return Reply(200, {"recordsIdsAdded": present, "recordIdsRemoved": [], "recordIdsMissing": missing})
        members.difference_update(present)
        return Reply(200, {"recordsIdsAdded": [], "recordIdsRemoved": present, "recordIdsMissing": missing})

    def _gdpr_delete(self, body: dict[str, Any]) -> Reply:
        key = body["objectId"].strip().lower()
        contact_id = self.by_email.pop(key, None) if body.get("idProperty") == "email" else key
        if contact_id in self.contacts:
            email = self.contacts.pop(contact_id)["properties"].get("email")
            self.by_email.pop(str(email), None)
            for members in self.lists.values():
                members.discard(contact_id)
        if body.get("idProperty") == "email":
            self.blocked_emails.add(key)
        return Reply(204)

    def holds(self, email: str) -> bool:
        """Whether any contact still carries `email` (erasure tests look for every trace)."""
        return any(c["properties"].get("email") == email.lower() for c in self.contacts.values())

    def received(self) -> str:
        lists = ", ".join(f"list {key}: {len(members):,} members" for key, members in self.lists.items())
        return f"{len(self.contacts):,} contacts" + (f"; {lists}" if lists else "")

    def list_members(self, list_id: str) -> set[str]:
        """The emails of a list's members."""
        return {self.contacts[cid]["properties"]["email"] for cid in self.lists.get(list_id, set())}


def _error(message: str, category: str, **extra: str) -> dict[str, Any]:
    return {"status": "error", "message": message, "category": category, "correlationId": str(uuid.uuid4()),
            "errors": [], "links": {}, "context": {}, **extra}  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
