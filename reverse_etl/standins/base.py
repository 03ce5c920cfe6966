"""What every stand-in shares: a threaded HTTP server on 127.0.0.1, bearer-style auth, rolling-window rate
limits answered as the vendor does (429, or the vendor's own throttling answer), a request log, fault injection
for tests and demos, and validation of request bodies against JSON Schemas written from a vendor's documentation
(`specs/<vendor>/*.schema.json`) where the vendor publishes no OpenAPI spec.

Faults (`StandIn.faults`, settable while running): `status_storm` answers the next N requests with a status
(429 storm, 5xx), `throttle_storm` the next N with the vendor's own throttling answer, `timeout_after_commit`
makes the next N requests apply their change and then stall past the client's timeout, so the client cannot
know it succeeded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import jsonschema
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest
from openapi_core.validation.request.validators import V30RequestBodyValidator, V30RequestParametersValidator

SPECS = Path(__file__).parent / "specs"


@dataclass
class Faults:
    status_storm: list[int] = field(default_factory=list)  # answered in order, one per request
    throttle_storm: int = 0  # the next N requests get the vendor's throttling answer (`rate_limited`)
    timeout_after_commit: int = 0
    stall_seconds: float = 5.0


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class StandIn:
    """Subclasses set `auth_header`, `rate_limit` (requests, window seconds) or override `rate_limits`, and
    implement `handle`."""

    name = "stand-in"
    auth_header = "Authorization"
    auth_prefix = "Bearer "
    rate_limit: tuple[int, float] | None = None
    max_in_flight: int | None = None  # simultaneous requests allowed (Mailchimp: 10 connections)

    def __init__(self, credential: str) -> None:
        self.credential = credential
        self.faults = Faults()
        self.requests: list[tuple[str, str, Any]] = []  # (method, path, body) of each accepted request
        self.rejected_for_rate = 0
        self.refused_credentials = 0  # requests answered as unauthorised
        self._in_flight = 0
        self._recent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True, name=self.name)

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        raise NotImplementedError

    def received(self) -> str:
        """What the stand-in holds now, in a line (`tessera demo` prints it)."""
        raise NotImplementedError

    def environment(self, prefix: str) -> dict[str, str]:
        """The variables a sync definition reads to reach this stand-in: `<prefix>_URL`, `<prefix>_TOKEN`."""
        return {f"{prefix}_URL": self.url, f"{prefix}_TOKEN": self.credential}

    def rate_limits(self, method: str, route: str) -> list[tuple[str, int, float]]:
        """The limits a request counts against: (bucket name, requests, window seconds)."""
        return [("all", *self.rate_limit)] if self.rate_limit else []

    def rate_limited(self) -> Reply:
        return Reply(429, {"message": "rate limit reached"})

    def unauthorized(self) -> Reply:
        return Reply(401, {"message": "authentication failed"})

    def authorized(self, headers: dict[str, str], path: str) -> bool:
        return headers.get(self.auth_header.lower()) == f"{self.auth_prefix}{self.credential}"

    def _admit(self, method: str, path: str, headers: dict[str, str]) -> Reply | None:
        with self._lock:
            if self.faults.status_storm:
                return Reply(self.faults.status_storm.pop(0), {"message": "injected fault"})
            if self.faults.throttle_storm > 0:
                self.faults.throttle_storm -= 1
                return self.rate_limited()
            if not self.authorized(headers, path):
                self.refused_credentials += 1
                return self.unauthorized()
            now = time.monotonic()
            limits = self.rate_limits(method, urlsplit(path).path)
            for bucket, limit, window in limits:
                recent = self._recent.setdefault(bucket, deque())
                while recent and recent[0] <= now - window:
                    recent.popleft()
                if len(recent) >= limit:
                    self.rejected_for_rate += 1
                    return self.rate_limited()
            for bucket, _, _ in limits:
                self._recent[bucket].append(now)
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with stand_in._lock:
                    stand_in._in_flight += 1
                    crowded = stand_in.max_in_flight is not None and stand_in._in_flight > stand_in.max_in_flight
                try:
                    if crowded:
                        stand_in.rejected_for_rate += 1
                        reply = stand_in.rate_limited()
                    else:
                        reply = stand_in._admit(self.command, self.path, headers) or stand_in.handle(
                            self.command, self.path, headers, raw
                        )
                finally:
                    with stand_in._lock:
                        stand_in._in_flight -= 1
                stall = False
                with stand_in._lock:
                    if reply.status < 300 and stand_in.faults.timeout_after_commit > 0:
                        stand_in.faults.timeout_after_commit -= 1
                        stall = True
                if stall:
                    time.sleep(stand_in.faults.stall_seconds)
                data = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 (http.server's names)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@cache
def _schema(vendor: str, name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SPECS / vendor / f"{name}.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def schema_problem(vendor: str, name: str, instance: Any) -> str | None:
    """Why `instance` does not conform to specs/<vendor>/<name>.schema.json (the first problem), or None."""
    error = jsonschema.exceptions.best_match(_schema(vendor, name).iter_errors(instance))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "(body)"
    return f"{where}: {error.message}"[:300]


@cache
def spec_document(vendor: str, name: str) -> dict[str, Any]:
    """A vendor's published OpenAPI spec, copied unchanged under specs/<vendor>/, as parsed JSON."""
    return json.loads((SPECS / vendor / name).read_text(encoding="utf-8"))


@cache
def openapi(vendor: str, name: str) -> OpenAPI:
    return OpenAPI.from_dict(spec_document(vendor, name))


def openapi_problem(spec: OpenAPI, server: str, method: str, path: str, headers: dict[str, str], raw: bytes):
    """Why a request does not conform to `spec` (parameters, headers included, and body), or None. Security is
    left to the stand-in, which checks the credential itself."""
    parts = urlsplit(path)
    query: dict[str, str] = {}
    for pair in parts.query.split("&"):
        if "=" in pair:
            name, value = pair.split("=", 1)
            query[unquote_plus(name)] = unquote_plus(value)
    request = MockRequest(
        server, method.lower(), parts.path, args=query, headers=headers, data=raw,
        content_type=headers.get("content-type", "application/json").split(";")[0],
    )  # fmt: skip
    for validator in (V30RequestParametersValidator(spec.spec), V30RequestBodyValidator(spec.spec)):
        try:
            validator.validate(request)
        except Exception as error:  # openapi-core's validation errors: report them, as the vendor does
            cause = error.__cause__ or error
            return f"{type(error).__name__}: {cause}"[:300]
    return None
