"""Meta's Custom Audiences (Marketing API) as a local stand-in: add and remove users, and replace sessions.

It enforces what Meta documents: an access token (`Authorization: Bearer` or `access_token`); every request's
parameters those Meta's SDK-codegen spec lists for the edge (specs/meta/CustomAudience.json, copied unchanged:
`usersreplace` requires `payload` and `session`), and its body valid against the JSON Schema written from Meta's
reference (specs/meta/users.schema.json: at most 10,000 rows, known schema keys); rows as long as the schema;
hashed keys as SHA-256 hex and MADID an advertising id (IDFA/AAID); a usersreplace session's batches in order,
the audience replaced when the last batch arrives. Rows that are not valid count in `num_invalid_entries` and
are quoted in `invalid_entry_samples` (the entry as sent -> why), as Meta answers; the others are matched.
Throttling is answered as Meta does, not with 429: HTTP 400, error code 80003 ("too many calls to this
ad-account", `is_transient`), with the `X-Business-Use-Case-Usage` header.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .base import Reply, StandIn, schema_problem, spec_document

ROUTE = re.compile(r"^/v\d+\.\d+/(?P<audience>\d+)/(?P<edge>users|usersreplace)$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
DEVICE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")  # IDFA / AAID
UNHASHED = frozenset({"MADID", "EXTERN_ID", "LOOKALIKE_VALUE"})
PERSONAL = frozenset({"EMAIL", "PHONE", "MADID", "EXTERN_ID", "EMAIL_SHA256", "PHONE_SHA256"})


@dataclass
class ReplaceSession:
    next_seq: int = 1
    members: set[frozenset[tuple[str, str]]] = field(default_factory=set)


class MetaStandIn(StandIn):
    name = "meta"
    rate_limit = (300, 60.0)  # a development-tier budget; Meta's grows with the ad account's spend

    def __init__(self, access_token: str = "standin-meta-token") -> None:
        super().__init__(access_token)
        self.audiences: dict[str, set[frozenset[tuple[str, str]]]] = {}
        self.sessions: dict[tuple[str, int], ReplaceSession] = {}

    def authorized(self, headers: dict[str, str], path: str) -> bool:
        token = parse_qs(urlsplit(path).query).get("access_token", [None])[0]
        return super().authorized(headers, path) or token == self.credential

    def rate_limited(self) -> Reply:
        usage = {"act_standin": [{"type": "custom_audience", "call_count": 100, "total_cputime": 25,
                                  "total_time": 25, "estimated_time_to_regain_access": 0}]}  # fmt: skip
        return Reply(400, _error("(#80003) There have been too many calls to this ad-account. Wait a bit and try "
                                 "again.", 80003, subcode=2446079, transient=True),
                     {"X-Business-Use-Case-Usage": json.dumps(usage)})  # fmt: skip

    def unauthorized(self) -> Reply:
        return Reply(401, _error("Invalid OAuth access token - Cannot parse access token", 190))

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        route = ROUTE.match(urlsplit(path).path)
        if route is None or (route["edge"] == "usersreplace" and method != "POST") or method not in ("POST", "DELETE"):
            return Reply(400, _error(f"Unsupported {method} request for {urlsplit(path).path}", 100))
        try:
            body = json.loads(raw)
        except ValueError:
            return Reply(400, _error("(#100) The request body is not JSON", 100))
        audience, edge = route["audience"], route["edge"]
        if problem := _parameters_problem(method, edge, body) or schema_problem("meta", "users", body):
            return Reply(400, _error(f"(#100) Invalid parameter: {problem}", 100))
        payload = body["payload"]
        keys = [payload["schema"]] if isinstance(payload["schema"], str) else payload["schema"]
        rows = [[row] if isinstance(row, str) else row for row in payload["data"]]
        if any(len(row) != len(keys) for row in rows):
            return Reply(400, _error("(#100) Every row of data must have as many values as the schema", 100))
        entries, samples = [], {}
        for row in rows:
            why = _invalid(keys, row)
            if why:
                samples.setdefault(next((value for value in row if value), ""), why)
            else:
                entries.append(frozenset((key, value) for key, value in zip(keys, row, strict=True) if value))
        with self._lock:
            self.requests.append((method, urlsplit(path).path, body))
            if edge == "usersreplace":
                problem = self._replace(audience, body["session"], entries)
                if problem:
                    return Reply(400, _error(f"(#100) {problem}", 100))
            elif method == "POST":
                self.audiences.setdefault(audience, set()).update(entries)
            else:
                self._remove(audience, entries)
        session_id = body.get("session", {}).get("session_id") or int(uuid.uuid4().int % 10**15)
        return Reply(200, {"audience_id": audience, "session_id": str(session_id), "num_received": len(rows),
                           "num_invalid_entries": len(rows) - len(entries),
                           "invalid_entry_samples": dict(list(samples.items())[:100])})  # fmt: skip

    def _remove(self, audience: str, entries: list[frozenset[tuple[str, str]]]) -> None:
        """Meta removes the people a row matches: here, stored entries sharing an identifier that names one person
        (email, phone, advertising or external id; a last name alone matches nobody)."""
        identifiers = {pair for entry in entries for pair in entry if pair[0] in PERSONAL}
        members = self.audiences.setdefault(audience, set())
        members.difference_update({member for member in members if member & identifiers})

    def _replace(self, audience: str, session: dict[str, Any], entries: list) -> str | None:
        key = (audience, session["session_id"])
        state = self.sessions.setdefault(key, ReplaceSession())
        if session["batch_seq"] != state.next_seq:
            return f"batch_seq {session['batch_seq']} out of order: expected {state.next_seq}"
        state.next_seq += 1
        state.members.update(entries)
        if session["last_batch_flag"]:
            self.audiences[audience] = state.members
            del self.sessions[key]
        return None

    def received(self) -> str:
        return "; ".join(f"audience {key}: {len(entries):,} people (hashed)" for key, entries in self.audiences.items())

    def members(self, audience: str, key: str = "EMAIL") -> set[str]:
        """The `key` values (hashes) of an audience's entries."""
        return {value for entry in self.audiences.get(audience, set()) for name, value in entry if name == key}


def _parameters_problem(method: str, edge: str, body: dict[str, Any]) -> str | None:
    """The body's parameters against the ones Meta's SDK-codegen spec lists for this edge and method."""
    [api] = [api for api in spec_document("meta", "CustomAudience.json")["apis"]
             if api["method"] == method and api.get("endpoint") == edge]  # fmt: skip
    known = {param["name"] for param in api["params"]}
    if unknown := sorted(set(body) - known):
        return f"{', '.join(unknown)} is not a parameter of {method} /{{audience_id}}/{edge}"
    if missing := sorted(
        param["name"] for param in api["params"] if param.get("required") and param["name"] not in body
    ):
        return f"{method} /{{audience_id}}/{edge} requires {', '.join(missing)}"
    return None


def _invalid(keys: list[str], row: list[str]) -> str | None:
    if not any(row):
        return "Empty entry"
    for key, value in zip(keys, row, strict=True):
        if value and key not in UNHASHED and not SHA256.match(value):
            return f"Invalid {key}: not a SHA-256 hash"
        if value and key == "MADID" and not DEVICE_ID.match(value):
            return "Invalid MADID: not an advertising id"
    return None


def _error(message: str, code: int, *, subcode: int | None = None, transient: bool = False) -> dict[str, Any]:
    error = {"message": message, "type": "OAuthException", "code": code, "is_transient": transient,
             "fbtrace_id": uuid.uuid4().hex[:11]}  # fmt: skip
    if subcode:
        error["error_subcode"] = subcode
    return {"error": error}
