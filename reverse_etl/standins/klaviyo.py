"""Klaviyo's API as a local stand-in: profile bulk import jobs, profile look-up by email, list membership.

It enforces what Klaviyo documents: `Authorization: Klaviyo-API-Key <key>` and a `revision` header; every
request validated against Klaviyo's published OpenAPI specs (specs/klaviyo), answered 400 with JSON:API
`errors[]` when it does not conform; each operation's own rate limits, read from the spec's
`x-klaviyo-ratelimit` (burst per second, steady per minute), answered 429 `throttled` with `Retry-After`; at most
10,000 profiles and 5 MB per import job, 1,000 profiles per list relationship call, 100 values in an `any()`
filter. A data-privacy deletion job (`POST /api/data-privacy-deletion-jobs`, validated against the JSON Schema
written from its reference, `specs/klaviyo/data_privacy_deletion_job.schema.json`; burst 3/s, steady 60/m) deletes
every profile with the email, phone number or id it names, and their list memberships, and answers 202.

Import jobs are asynchronous, as Klaviyo's are: a job is `queued` when created and is processed when first read
after `processing_seconds`; a profile it cannot import (no identifier, an email that is not an address) becomes an
import error whose `source.pointer` names the profile's place in the job's payload.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .base import Reply, StandIn, openapi, openapi_problem, schema_problem, spec_document

SERVER = "https://a.klaviyo.com"
IMPORT_LIMIT = 10_000
PAYLOAD_LIMIT = 5 * 1024 * 1024
LIST_CALL_LIMIT = 1_000
FILTER_VALUES_LIMIT = 100
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ANY_EMAIL = re.compile(r"^any\(email,\[(?P<values>.*)\]\)$")
PER = {"s": 1.0, "m": 60.0, "d": 86_400.0}
DELETION_JOBS = "/api/data-privacy-deletion-jobs"
DELETION_LIMITS = {"burst": (3, 1.0), "steady": (60, 60.0)}


@dataclass
class ImportJob:
    id: str
    profiles: list[dict[str, Any]]
    list_ids: list[str]
    created: float
    status: str = "queued"
    errors: list[dict[str, Any]] = field(default_factory=list)


class KlaviyoStandIn(StandIn):
    name = "klaviyo"
    auth_prefix = "Klaviyo-API-Key "

    def __init__(self, api_key: str = "pk_standin_klaviyo", processing_seconds: float = 0.05) -> None:
        super().__init__(api_key)
        self.processing_seconds = processing_seconds
        self.profiles: dict[str, dict[str, Any]] = {}  # id -> attributes
        self.by_email: dict[str, str] = {}
        self.lists: dict[str, set[str]] = {}
        self.jobs: dict[str, ImportJob] = {}
        self.deletion_requests: list[dict[str, str]] = []  # what each data-privacy deletion job named
        self._ids = itertools.count(1)
        self._routes = _routes()

    # What Klaviyo answers --------------------------------------------------------------------------------------
    def rate_limits(self, method: str, route: str) -> list[tuple[str, int, float]]:
        operation = ("request_profile_deletion", DELETION_LIMITS) if route == DELETION_JOBS else None
        operation = operation or self._operation(method, route)
        if operation is None:
            return []
        operation_id, limits = operation
        return [(f"{operation_id}/{name}", count, window) for name, (count, window) in limits.items()]

    def rate_limited(self) -> Reply:
        return Reply(429, _errors(429, "throttled", "Request was throttled.", "Expected available in 1 second."),
                     {"Retry-After": "1"})  # fmt: skip

    def unauthorized(self) -> Reply:
        return Reply(401, _errors(401, "not_authenticated", "Authentication credentials were not provided."))

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        route = urlsplit(path).path
        if method == "POST" and route == DELETION_JOBS:
            return self._deletion_job(headers, raw)
        spec = "lists.json" if route.startswith("/api/lists") else "profiles.json"
        if problem := openapi_problem(openapi("klaviyo", spec), SERVER, method, path, headers, raw):
            return Reply(400, _errors(400, "invalid", "Invalid input.", problem))
        if len(raw) > PAYLOAD_LIMIT:
            return Reply(413, _errors(413, "payload_too_large", "Payload too large.", "The limit is 5 MB."))
        body = json.loads(raw) if raw else None
        query = {name: values[0] for name, values in parse_qs(urlsplit(path).query).items()}
        with self._lock:
            self.requests.append((method, route, body))
            if method == "POST" and route == "/api/profile-bulk-import-jobs":
                return self._create_job(body["data"])
            if method == "GET" and (found := re.fullmatch(r"/api/profile-bulk-import-jobs/([^/]+)", route)):
                return self._job(found[1])
            if method == "GET" and (found := re.fullmatch(r"/api/profile-bulk-import-jobs/([^/]+)/import-errors",
                                                          route)):  # fmt: skip
                return self._job_errors(found[1], query)
            if method == "GET" and route == "/api/profiles":
                return self._find_profiles(query)
            if method == "PATCH" and (found := re.fullmatch(r"/api/profiles/([^/]+)", route)):
                return self._update_profile(found[1], body["data"])
            if method in ("POST", "DELETE") and (found := re.fullmatch(r"/api/lists/([^/]+)/relationships/profiles",
                                                                       route)):  # fmt: skip
                return self._membership(found[1], method, body["data"])
        return Reply(404, _errors(404, "not_found", "Not found.", f"No stand-in route for {method} {route}."))

    def _deletion_job(self, headers: dict[str, str], raw: bytes) -> Reply:
        try:
            body = json.loads(raw)
        except ValueError:
            return Reply(400, _errors(400, "invalid", "Invalid input.", "The body is not JSON."))
        problem = None if headers.get("revision") else "the revision header is required"
        if problem := problem or schema_problem("klaviyo", "data_privacy_deletion_job", body):
            return Reply(400, _errors(400, "invalid", "Invalid input.", problem))
        [(kind, value)] = body["data"]["attributes"]["profile"]["data"]["attributes"].items()
        with self._lock:
            self.requests.append(("POST", DELETION_JOBS, body))
            matches = [pid for pid, profile in self.profiles.items()
                       if (pid if kind == "id" else str(profile.get(kind) or "").lower()) == value.lower()]  # fmt: skip
            for pid in matches:
                profile = self.profiles.pop(pid)
                self.by_email.pop(str(profile.get("email") or ""), None)
                for members in self.lists.values():
                    members.discard(pid)
            self.deletion_requests.append({kind: value})
        return Reply(202)

    def _update_profile(self, profile_id: str, data: dict[str, Any]) -> Reply:
        profile = self.profiles.get(profile_id)
        if profile is None or data.get("id") != profile_id:
            return Reply(404, _errors(404, "not_found", "Not found.", "No profile with this id."))
        attributes = dict(data.get("attributes") or {})
        location = attributes.pop("location", None) or {}
        properties = attributes.pop("properties", None) or {}
        for name, value in attributes.items():
            profile.pop(name, None) if value is None else profile.__setitem__(name, value)
        if location:
            kept = {**(profile.get("location") or {}), **location}
            profile["location"] = {name: value for name, value in kept.items() if value is not None}
        unset = ((data.get("meta") or {}).get("patch_properties") or {}).get("unset") or []
        unset = [unset] if isinstance(unset, str) else unset
        profile["properties"] = {
            name: value for name, value in {**profile.get("properties", {}), **properties}.items() if name not in unset
        }
        return Reply(200, {"data": {"type": "profile", "id": profile_id, "attributes": profile}})

    def holds(self, email: str) -> bool:
        """Whether any profile still carries `email` (erasure tests look for every trace)."""
        return any(str(profile.get("email") or "").lower() == email.lower() for profile in self.profiles.values())

    def _create_job(self, data: dict[str, Any]) -> Reply:
        profiles = data["attributes"]["profiles"]["data"]
        if len(profiles) > IMPORT_LIMIT:
            return Reply(400, _errors(400, "invalid", "Invalid input.", f"At most {IMPORT_LIMIT} profiles per job."))
        list_ids = [item["id"] for item in data.get("relationships", {}).get("lists", {}).get("data", [])]
        job = ImportJob(uuid.uuid4().hex.upper()[:26], profiles, list_ids, time.monotonic())
        self.jobs[job.id] = job
        return Reply(202, {"data": _job_resource(job)})

    def _job(self, job_id: str) -> Reply:
        job = self.jobs.get(job_id)
        if job is None:
            return Reply(404, _errors(404, "not_found", "Not found.", "No job with this id."))
        if job.status == "queued" and time.monotonic() - job.created >= self.processing_seconds:
            self._process(job)
        return Reply(200, {"data": _job_resource(job)})

    def _process(self, job: ImportJob) -> None:
        for index, profile in enumerate(job.profiles):
            attributes = profile.get("attributes", {})
            email = (attributes.get("email") or "").strip().lower()
            pointer = f"/data/attributes/profiles/data/{index}/attributes"
            if email and not EMAIL.match(email):
                job.errors.append(_import_error("invalid", "Invalid email address.", f"{pointer}/email"))
                continue
            if not (email or attributes.get("phone_number") or attributes.get("external_id")):
                job.errors.append(_import_error("invalid", "A profile needs an identifier.", pointer))
                continue
            profile_id = self.by_email.get(email) if email else None
            if profile_id is None:
                profile_id = f"01STANDIN{next(self._ids):017d}"
                self.profiles[profile_id] = {}
                if email:
                    self.by_email[email] = profile_id
            stored = self.profiles[profile_id]
            properties = {**stored.get("properties", {}), **(attributes.get("properties") or {})}
            stored.update({key: value for key, value in attributes.items() if value is not None})
            stored.update({"email": email or stored.get("email"), "properties": properties})
            for list_id in job.list_ids:
                self.lists.setdefault(list_id, set()).add(profile_id)
        job.status = "complete"

    def _job_errors(self, job_id: str, query: dict[str, str]) -> Reply:
        job = self.jobs.get(job_id)
        if job is None:
            return Reply(404, _errors(404, "not_found", "Not found.", "No job with this id."))
        size = int(query.get("page[size]", 20))
        start = int(query.get("page[cursor]", 0))
        page = job.errors[start : start + size]
        following = start + size if start + size < len(job.errors) else None
        next_link = None if following is None else (
            f"{self.url}/api/profile-bulk-import-jobs/{job_id}/import-errors?page[size]={size}&page[cursor]={following}"
        )  # fmt: skip
        return Reply(200, {"data": page, "links": {"self": "", "next": next_link, "prev": None}})

    def _find_profiles(self, query: dict[str, str]) -> Reply:
        found = ANY_EMAIL.match(query.get("filter", ""))
        if found is None:
            return Reply(400, _errors(400, "invalid", "Invalid input.", "The stand-in filters by any(email,[...])."))
        values = json.loads(f"[{found['values']}]")
        if len(values) > FILTER_VALUES_LIMIT:
            return Reply(400, _errors(400, "invalid", "Invalid input.", "At most 100 values in any()."))
        ids = [self.by_email[value.lower()] for value in values if value.lower() in self.by_email]
        size = int(query.get("page[size]", 20))
        data = [{"type": "profile", "id": pid, "attributes": {"email": self.profiles[pid]["email"]}} for pid in ids]
        return Reply(200, {"data": data[:size], "links": {"self": "", "next": None, "prev": None}})

    def _membership(self, list_id: str, method: str, data: list[dict[str, str]]) -> Reply:
        if len(data) > LIST_CALL_LIMIT:
            return Reply(400, _errors(400, "invalid", "Invalid input.", f"At most {LIST_CALL_LIMIT} profiles."))
        members = self.lists.setdefault(list_id, set())
        ids = {item["id"] for item in data if item["id"] in self.profiles}
        if method == "POST":
            members.update(ids)
        else:
            members.difference_update(ids)
        return Reply(204)

    def received(self) -> str:
        lists = ", ".join(f"list {key}: {len(members):,} members" for key, members in self.lists.items())
        return f"{len(self.profiles):,} profiles from {len(self.jobs)} bulk import job(s)" + (
            f"; {lists}" if lists else ""
        )

    def list_members(self, list_id: str) -> set[str]:
        """The emails of a list's members."""
        return {self.profiles[pid]["email"] for pid in self.lists.get(list_id, set())}

    def _operation(self, method: str, route: str) -> tuple[str, dict[str, tuple[int, float]]] | None:
        for pattern, verb, operation_id, limits in self._routes:
            if verb == method and pattern.fullmatch(route):
                return operation_id, limits
        return None


def _routes() -> list[tuple[re.Pattern[str], str, str, dict[str, tuple[int, float]]]]:
    """(path pattern, method, operationId, {burst|steady: (requests, window)}) of every operation in the specs."""
    routes = []
    for spec in ("profiles.json", "lists.json"):
        for template, operations in spec_document("klaviyo", spec)["paths"].items():
            pattern = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))
            for verb, operation in operations.items():
                if isinstance(operation, dict) and "x-klaviyo-ratelimit" in operation:
                    limits = {}
                    for name, text in operation["x-klaviyo-ratelimit"].items():
                        count, unit = text.split("/")
                        limits[name] = (int(count), PER[unit])
                    routes.append((pattern, verb.upper(), operation["operationId"], limits))
    return routes


def _job_resource(job: ImportJob) -> dict[str, Any]:
    done = job.status == "complete"
    return {
        "type": "profile-bulk-import-job",
        "id": job.id,
        "attributes": {
            "status": job.status,
            "created_at": _now(),
            "total_count": len(job.profiles),
            "completed_count": len(job.profiles) - len(job.errors) if done else 0,
            "failed_count": len(job.errors) if done else 0,
            "completed_at": _now() if done else None,
            "expires_at": None,
            "started_at": _now(),
        },
        "links": {"self": ""},
    }


def _import_error(code: str, title: str, pointer: str) -> dict[str, Any]:
    return {"type": "import-error", "id": str(uuid.uuid4()),
            "attributes": {"code": code, "title": title, "detail": title, "source": {"pointer": pointer},
                           "original_payload": None}}  # fmt: skip


def _errors(status: int, code: str, title: str, detail: str = "") -> dict[str, Any]:
    error = {"id": str(uuid.uuid4()), "status": status, "code": code, "title": title, "detail": detail or title,
             "source": {"pointer": "/data/"}, "links": {}, "meta": {}}  # fmt: skip
    return {"errors": [error]}


def _now() -> str:
    return datetime.now(UTC).isoformat()
