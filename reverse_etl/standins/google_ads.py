"""Google Ads Customer Match (REST `OfflineUserDataJobService`) as a local stand-in.

It enforces what Google documents: `Authorization: Bearer <OAuth token>` and a `developer-token` header; bodies
valid against the JSON Schemas written from the REST reference (specs/google_ads); at most 100,000 operations per
`addOperations` and 20 identifiers per user; a job takes operations until it is run, then its operations apply to
the user list; partial failure (`enablePartialFailure`) answered with `partialFailureError`, whose
`GoogleAdsFailure` errors locate the failing operation by index; rate limiting answered 429 `RESOURCE_EXHAUSTED`
with a `quotaErrorDetails.retryDelay`.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .base import Reply, StandIn, schema_problem

VERSION = "v21"
CREATE = re.compile(rf"^/{VERSION}/customers/(?P<customer>\d+)/offlineUserDataJobs:create$")
JOB = re.compile(
    rf"^/{VERSION}/customers/(?P<customer>\d+)/offlineUserDataJobs/(?P<job>\d+):(?P<verb>addOperations|run)$"
)
OPERATIONS_LIMIT = 100_000
# ISO 3166-1 reserves these alpha-2 codes for private use: never a country.
USER_ASSIGNED = re.compile(r"^(AA|Q[M-Z]|X[A-Z]|ZZ)$")
FAILURE_TYPE = f"type.googleapis.com/google.ads.googleads.{VERSION}.errors.GoogleAdsFailure"


@dataclass
class Job:
    user_list: str
    status: str = "PENDING"
    operations: list[dict[str, Any]] = field(default_factory=list)


class GoogleAdsStandIn(StandIn):
    name = "google_ads"
    rate_limit = (100, 10.0)

    def __init__(self, access_token: str = "standin-google-token", developer_token: str = "standin-dev-token") -> None:
        super().__init__(access_token)
        self.developer_token = developer_token
        self.jobs: dict[str, Job] = {}
        self.user_lists: dict[str, set[frozenset[tuple[str, str]]]] = {}
        self._ids = itertools.count(9001)

    def authorized(self, headers: dict[str, str], path: str) -> bool:
        return super().authorized(headers, path) and headers.get("developer-token") == self.developer_token

    def unauthorized(self) -> Reply:
        return Reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED",
                                     "message": "Request had invalid authentication credentials."}})  # fmt: skip

    def rate_limited(self) -> Reply:
        failure = _failure([{"errorCode": {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"},
                             "message": "Too many requests. Retry in 1 seconds.",
                             "details": {"quotaErrorDetails": {"rateScope": "DEVELOPER",
                                                               "rateName": "Requests per developer per minute",
                                                               "retryDelay": "1s"}}}])  # fmt: skip
        return Reply(429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
                                     "message": "Resource has been exhausted (e.g. check quota).",
                                     "details": [failure]}})  # fmt: skip

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        route = urlsplit(path).path
        create, job_route = CREATE.match(route), JOB.match(route)
        if method != "POST" or not (create or job_route):
            return _invalid_argument(f"No stand-in route for {method} {route}", 404)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return _invalid_argument("Invalid JSON payload received.")
        schema = "create_job" if create else "add_operations" if job_route["verb"] == "addOperations" else "run_job"
        if problem := schema_problem("google_ads", schema, body):
            return _invalid_argument(f"Invalid JSON payload received. {problem}")
        with self._lock:
            self.requests.append((method, route, body))
            if create:
                return self._create(create["customer"], body["job"])
            name = f"customers/{job_route['customer']}/offlineUserDataJobs/{job_route['job']}"
            job = self.jobs.get(name)
            if job is None:
                return _invalid_argument(f"Resource was not found: {name}", 404)
            if job.status != "PENDING":
                return _failure_reply({"offlineUserDataJobError": "INVALID_JOB_STATE"}, "The job has already run.")
            if job_route["verb"] == "run":
                self._run(job)
                return Reply(200, {"name": f"customers/{job_route['customer']}/operations/{next(self._ids)}"})
            return self._add(job, body)

    def _create(self, customer: str, job: dict[str, Any]) -> Reply:
        user_list = job["customerMatchUserListMetadata"]["userList"]
        if not user_list.startswith(f"customers/{customer}/"):
            return _failure_reply({"offlineUserDataJobError": "INVALID_USER_LIST_ID"}, "The user list is not yours.")
        name = f"customers/{customer}/offlineUserDataJobs/{next(self._ids)}"
        self.jobs[name] = Job(user_list)
        return Reply(200, {"resourceName": name})

    def _add(self, job: Job, body: dict[str, Any]) -> Reply:
        operations = body["operations"]
        if len(operations) > OPERATIONS_LIMIT:
            return _failure_reply({"offlineUserDataJobError": "TOO_MANY_OPERATIONS"}, "Too many operations.")
        errors = []
        for index, operation in enumerate(operations):
            user = operation.get("create") or operation.get("remove") or {}
            for identifier in user.get("userIdentifiers", []):
                country = identifier.get("addressInfo", {}).get("countryCode")
                if country and USER_ASSIGNED.match(country):
                    errors.append({"errorCode": {"offlineUserDataJobError": "INVALID_COUNTRY_CODE"},
                                   "message": "The country code is invalid.",
                                   "location": {"fieldPathElements": [{"fieldName": "operations", "index": index},
                                                                      {"fieldName": "create"}]}})  # fmt: skip
                    break
            else:
                job.operations.append(operation)
        if errors and not body.get("enablePartialFailure"):
            return Reply(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "Request invalid.",
                                         "details": [_failure(errors)]}})  # fmt: skip
        if errors:
            return Reply(200, {"partialFailureError": {"code": 3, "message": "Multiple errors in details.",
                                                       "details": [_failure(errors)]}})  # fmt: skip
        return Reply(200, {})

    def _run(self, job: Job) -> None:
        members = self.user_lists.setdefault(job.user_list, set())
        for operation in job.operations:
            if operation.get("removeAll"):
                members.clear()
                continue
            user = operation.get("create") or operation.get("remove")
            identifiers = frozenset(
                (name, json.dumps(value, sort_keys=True) if isinstance(value, dict) else value)
                for identifier in user["userIdentifiers"]
                for name, value in identifier.items()
                if name != "userIdentifierSource"
            )
            if "create" in operation:
                members.add(identifiers)
            else:
                members.difference_update({member for member in members if member & identifiers})
        job.status = "SUCCESS"

    def received(self) -> str:
        lists = "; ".join(f"{key}: {len(members):,} users (hashed)" for key, members in self.user_lists.items())
        return f"{lists} from {len(self.jobs)} offline user data job(s)"

    def environment(self, prefix: str) -> dict[str, str]:
        return {**super().environment(prefix), f"{prefix}_DEVELOPER_TOKEN": self.developer_token}

    def members(self, user_list: str) -> set[str]:
        """The hashed emails of a user list's members."""
        return {value for member in self.user_lists.get(user_list, set()) for name, value in member
                if name == "hashedEmail"}  # fmt: skip


def _failure(errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"@type": FAILURE_TYPE, "errors": errors, "requestId": "standin"}


def _failure_reply(code: dict[str, str], message: str) -> Reply:
    details = [_failure([{"errorCode": code, "message": message}])]
    return Reply(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                 "message": "Request contains an invalid argument.", "details": details}})  # fmt: skip


def _invalid_argument(message: str, status: int = 400) -> Reply:
    return Reply(status, {"error": {"code": status, "status": "INVALID_ARGUMENT" if status == 400 else "NOT_FOUND",
                                    "message": message}})  # fmt: skip
