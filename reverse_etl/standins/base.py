"""What every stand-in shares: a threaded HTTP server on 127.0.0.1, bearer-style auth, a rolling-window rate
limit answered with 429 as the vendor does, a request log, and fault injection for tests and demos.

Faults (`StandIn.faults`, settable while running): `status_storm` answers the next N requests with a status
(429 storm, 5xx), `timeout_after_commit` makes the next N requests apply their change and then stall past the
client's timeout, so the client cannot know it succeeded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Faults:
    status_storm: list[int] = field(default_factory=list)  # answered in order, one per request
    timeout_after_commit: int = 0
    stall_seconds: float = 5.0


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class StandIn:
    """Subclasses set `auth_header`, `rate_limit` (requests, window seconds), and implement `handle`."""

    name = "stand-in"
    auth_header = "Authorization"
    auth_prefix = "Bearer "
    rate_limit: tuple[int, float] | None = None

    def __init__(self, credential: str) -> None:
        self.credential = credential
        self.faults = Faults()
        self.requests: list[tuple[str, str, Any]] = []  # (method, path, body) of each accepted request
        self.rejected_for_rate = 0
        self._recent: deque[float] = deque()
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

    def rate_limited(self) -> Reply:
        return Reply(429, {"message": "rate limit reached"})

    def unauthorized(self) -> Reply:
        return Reply(401, {"message": "authentication failed"})

    def _admit(self, headers: dict[str, str]) -> Reply | None:
        with self._lock:
            if self.faults.status_storm:
                return Reply(self.faults.status_storm.pop(0), {"message": "injected fault"})
            if headers.get(self.auth_header.lower()) != f"{self.auth_prefix}{self.credential}":
                return self.unauthorized()
            if self.rate_limit:
                limit, window = self.rate_limit
                now = time.monotonic()
                while self._recent and self._recent[0] <= now - window:
                    self._recent.popleft()
                if len(self._recent) >= limit:
                    self.rejected_for_rate += 1
                    return self.rate_limited()
                self._recent.append(now)
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                reply = stand_in._admit(headers) or stand_in.handle(self.command, self.path, headers, raw)
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
