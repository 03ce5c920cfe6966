"""Mailchimp's Marketing API as a local stand-in: batch subscribe, tags (static segments), archiving a member,
and deleting one permanently.

It enforces what Mailchimp documents: HTTP Basic auth with the API key as password; bodies valid against the
JSON Schemas written from its reference (specs/mailchimp: 500 members per batch call, 500 emails per segment
call); at most 10 simultaneous connections, the eleventh answered 429; per-member failures of a batch in
`errors[]` (an address that is not one: `ERROR_GENERIC`) while the others succeed; members addressed by the MD5
of their lowercased email. Archiving (`DELETE .../members/{hash}`) keeps the member, as Mailchimp does, with
status `archived` and out of every tag; only `POST .../members/{hash}/actions/delete-permanent` (204) removes it
and everything it held.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from ..hashing import mailchimp_subscriber_hash as subscriber_hash
from .base import Reply, StandIn, schema_problem

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ERRORS_DOC = "https://mailchimp.com/developer/marketing/docs/errors/"


class MailchimpStandIn(StandIn):
    name = "mailchimp"
    max_in_flight = 10

    def __init__(self, api_key: str = "standin0key-us21") -> None:
        super().__init__(api_key)
        self.members: dict[str, dict[str, dict[str, Any]]] = {}  # list id -> subscriber hash -> member
        self.segments: dict[str, dict[int, dict[str, Any]]] = {}  # list id -> segment id -> {name, members}
        self._ids = itertools.count(501)

    def authorized(self, headers: dict[str, str], path: str) -> bool:
        scheme, _, encoded = headers.get("authorization", "").partition(" ")
        try:
            _, _, key = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return scheme == "Basic" and key == self.credential

    def unauthorized(self) -> Reply:
        return _problem(401, "API Key Invalid", "Your API key may be invalid, or you've attempted to access the "
                        "wrong datacenter.")  # fmt: skip

    def rate_limited(self) -> Reply:
        return _problem(429, "Too Many Requests", "You have exceeded the limit of 10 simultaneous connections.")

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        route = urlsplit(path).path
        parts = route.strip("/").split("/")
        if parts[:2] != ["3.0", "lists"] or len(parts) < 3:
            return _problem(404, "Resource Not Found", f"No stand-in route for {method} {route}.")
        list_id, rest = parts[2], parts[3:]
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return _problem(400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error.")
        schema = {(): "batch_members", ("segments",): "create_segment"}.get(tuple(rest))
        if method == "POST" and len(rest) == 2 and rest[0] == "segments":
            schema = "segment_members"
        if method == "POST" and schema and (problem := schema_problem("mailchimp", schema, body)):
            return _problem(400, "Invalid Resource", f"The resource submitted could not be validated: {problem}")
        with self._lock:
            self.requests.append((method, route, body))
            if method == "POST" and not rest:
                return self._batch(list_id, body)
            if method == "GET" and rest == ["segments"]:
                segments = self.segments.get(list_id, {})
                found = [{"id": sid, "name": s["name"], "type": "static"} for sid, s in segments.items()]
                return Reply(200, {"segments": found, "total_items": len(found)})
            if method == "POST" and rest == ["segments"]:
                segment_id = next(self._ids)
                self.segments.setdefault(list_id, {})[segment_id] = {"name": body["name"], "members": set()}
                return Reply(200, {"id": segment_id, "name": body["name"], "type": "static", "list_id": list_id})
            if method == "POST" and len(rest) == 2 and rest[0] == "segments":
                return self._segment_members(list_id, int(rest[1]), body)
            if rest[:1] == ["members"] and len(rest) == 2 and method == "DELETE":
                return self._archive(list_id, rest[1])
            if rest[:1] == ["members"] and rest[2:] == ["actions", "delete-permanent"] and method == "POST":
                return self._delete_permanently(list_id, rest[1])
        return _problem(404, "Resource Not Found", f"No stand-in route for {method} {route}.")

    def _batch(self, list_id: str, body: dict[str, Any]) -> Reply:
        members = self.members.setdefault(list_id, {})
        new, updated, errors = [], [], []
        for item in body["members"]:
            email = item["email_address"].strip().lower()
            if not EMAIL.match(email):
                errors.append({"email_address": item["email_address"], "error": "Please provide a valid email address.",
                               "error_code": "ERROR_GENERIC", "field": "email_address",
                               "field_message": "Invalid email"})  # fmt: skip
                continue
            key = subscriber_hash(email)
            existing = members.get(key)
            if existing is not None and not body.get("update_existing"):
                errors.append({"email_address": email, "error": "Member exists.", "error_code": "ERROR_CONTACT_EXISTS",
                               "field": "", "field_message": ""})  # fmt: skip
                continue
            member = existing or {"id": key, "email_address": email, "merge_fields": {}}
            member["status"] = item["status"]
            member["merge_fields"] = {**member["merge_fields"], **item.get("merge_fields", {})}
            members[key] = member
            (updated if existing else new).append(member)  # an archived member is subscribed again
        return Reply(200, {"new_members": new, "updated_members": updated, "errors": errors,
                           "total_created": len(new), "total_updated": len(updated),
                           "error_count": len(errors)})  # fmt: skip

    def _archive(self, list_id: str, key: str) -> Reply:
        member = self.members.get(list_id, {}).get(key)
        if member is None or member["status"] == "archived":
            return _problem(404, "Resource Not Found", "The requested resource could not be found.")
        member["status"] = "archived"
        for segment in self.segments.get(list_id, {}).values():
            segment["members"].discard(key)
        return Reply(204)

    def _delete_permanently(self, list_id: str, key: str) -> Reply:
        if self.members.get(list_id, {}).pop(key, None) is None:
            return _problem(404, "Resource Not Found", "The requested resource could not be found.")
        for segment in self.segments.get(list_id, {}).values():
            segment["members"].discard(key)
        return Reply(204)

    def holds(self, email: str) -> bool:
        """Whether any audience still holds `email`, archived or not (erasure tests look for every trace)."""
        key = subscriber_hash(email)
        return any(key in members for members in self.members.values())

    def _segment_members(self, list_id: str, segment_id: int, body: dict[str, Any]) -> Reply:
        segment = self.segments.get(list_id, {}).get(segment_id)
        if segment is None:
            return _problem(404, "Resource Not Found", "The requested segment was not found.")
        members = self.members.get(list_id, {})
        added, removed, missing = [], [], []
        for email in body.get("members_to_add", []):
            key = subscriber_hash(email)
            (missing if key not in members else added).append(email)
            if key in members:
                segment["members"].add(key)
        for email in body.get("members_to_remove", []):
            segment["members"].discard(subscriber_hash(email))
            removed.append(email)
        errors = [{"email_addresses": missing, "error": "Email addresses not subscribed to list"}] if missing else []
        return Reply(200, {"members_added": [{"email_address": e} for e in added],
                           "members_removed": [{"email_address": e} for e in removed], "errors": errors,
                           "total_added": len(added), "total_removed": len(removed),
                           "error_count": len(missing)})  # fmt: skip

    def received(self) -> str:
        parts = []
        for list_id, members in self.members.items():
            tags = ", ".join(f"tag {s['name']}: {len(s['members']):,}" for s in self.segments.get(list_id, {}).values())
            archived = sum(1 for member in members.values() if member["status"] == "archived")
            parts.append(f"audience {list_id}: {len(members) - archived:,} members" + (f" ({tags})" if tags else "")
                         + (f", {archived:,} archived" if archived else ""))  # fmt: skip
        return "; ".join(parts)

    def list_emails(self, list_id: str) -> set[str]:
        """The emails of the audience's members that are not archived."""
        return {m["email_address"] for m in self.members.get(list_id, {}).values() if m["status"] != "archived"}

    def tagged(self, list_id: str, tag: str) -> set[str]:
        """The emails of the members carrying `tag` (which must be one segment: a client that created it twice
        split the audience in two)."""
        named = [segment for segment in self.segments.get(list_id, {}).values() if segment["name"] == tag]
        assert len(named) <= 1, f"{len(named)} segments are named {tag!r}"
        members = self.members.get(list_id, {})
        return {members[key]["email_address"] for segment in self.segments.get(list_id, {}).values()
                if segment["name"] == tag for key in segment["members"] if key in members}  # fmt: skip


def _problem(status: int, title: str, detail: str) -> Reply:
    return Reply(status, {"type": ERRORS_DOC, "title": title, "status": status, "detail": detail,
                          "instance": str(uuid.uuid4())})  # fmt: skip
