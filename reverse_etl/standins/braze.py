"""Braze's REST API as a local stand-in: `/users/track` (attributes, with array add/remove) and `/users/delete`.

It enforces what Braze documents: `Authorization: Bearer <REST API key>`; bodies valid against the JSON Schemas
written from its reference (specs/braze: 75 attribute objects per track call, 50 ids per delete call); each
endpoint's own rate limit (3,000 track requests per 3 s, 20,000 deletes per minute) answered 429 with
`X-RateLimit-Reset`; minor errors, as Braze reports them: a 201 `success` whose `errors[]` name the objects it
skipped by `input_array` and `index` (no identifier, an email that is not an address).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

from .base import Reply, StandIn, schema_problem

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
IDENTIFIERS = ("external_id", "braze_id", "user_alias", "email", "phone")
LIMITS = {"/users/track": (3000, 3.0), "/users/delete": (20000, 60.0)}


class BrazeStandIn(StandIn):
    name = "braze"

    def __init__(self, api_key: str = "standin-braze-key") -> None:
        super().__init__(api_key)
        self.users: dict[str, dict[str, Any]] = {}  # external_id -> attributes

    def rate_limits(self, method: str, route: str) -> list[tuple[str, int, float]]:
        return [(route, *LIMITS[route])] if route in LIMITS else []

    def rate_limited(self) -> Reply:
        headers = {"X-RateLimit-Limit": "3000", "X-RateLimit-Remaining": "0",
                   "X-RateLimit-Reset": str(int(time.time()) + 1)}  # fmt: skip
        return Reply(429, {"message": "API rate limit reached"}, headers)

    def unauthorized(self) -> Reply:
        return Reply(401, {"message": "Invalid API Key"})

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        route = urlsplit(path).path
        if method != "POST" or route not in LIMITS:
            return Reply(404, {"message": f"No stand-in route for {method} {route}"})
        try:
            body = json.loads(raw)
        except ValueError:
            return Reply(400, {"message": "Invalid JSON"})
        if problem := schema_problem("braze", route.strip("/").replace("/", "_"), body):
            return Reply(400, {"message": f"Invalid request: {problem}"})
        with self._lock:
            self.requests.append((method, route, body))
            if route == "/users/delete":
                return Reply(201, {"deleted": self._delete(body), "message": "success"})
            return self._track(body)

    def _delete(self, body: dict[str, Any]) -> int:
        [(kind, values)] = body.items()
        field = {"email_addresses": "email", "phone_numbers": "phone", "braze_ids": "braze_id"}.get(kind)
        doomed = [key for key, user in self.users.items()
                  if (key in values if kind == "external_ids" else field and user.get(field) in values)]  # fmt: skip
        for key in doomed:
            del self.users[key]
        return len(doomed)

    def holds(self, email: str) -> bool:
        """Whether any user still carries `email` (erasure tests look for every trace)."""
        return any(user.get("email") == email for user in self.users.values())

    def _track(self, body: dict[str, Any]) -> Reply:
        errors, processed = [], 0
        for index, item in enumerate(body.get("attributes", [])):
            if not any(item.get(name) for name in IDENTIFIERS):
                errors.append({"type": "'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required",
                               "input_array": "attributes", "index": index})  # fmt: skip
                continue
            if item.get("email") and not EMAIL.match(str(item["email"])):
                errors.append({"type": "Invalid 'email' field", "input_array": "attributes", "index": index})
                continue
            key = item.get("external_id") or item.get("email") or item.get("phone")
            user = self.users.setdefault(key, {})
            for name, value in item.items():
                if isinstance(value, dict) and set(value) <= {"add", "remove"}:
                    values = [v for v in user.get(name, []) if v not in value.get("remove", [])]
                    user[name] = values + [v for v in value.get("add", []) if v not in values]
                else:
                    user[name] = value
            processed += 1
        answer: dict[str, Any] = {"message": "success", "attributes_processed": processed}
        if errors:
            answer["errors"] = errors
        return Reply(201, answer)

    def received(self) -> str:
        audiences: dict[str, int] = {}
        for user in self.users.values():
            for value in user.get("tessera_audiences", []):
                audiences[value] = audiences.get(value, 0) + 1
        named = ", ".join(f"{name}: {count:,}" for name, count in audiences.items())
        return f"{len(self.users):,} users" + (f"; tessera_audiences {named}" if named else "")

    def with_value(self, attribute: str, value: str) -> set[str]:
        """The external ids of users whose array `attribute` holds `value`."""
        return {key for key, user in self.users.items() if value in user.get(attribute, [])}
