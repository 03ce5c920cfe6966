"""The HTTP machinery every destination over HTTP shares (every SaaS tool and the signed webhook): a token from
the rate limiter before every attempt, the retry policy around each call, and one response classifier
(`classify`, Singer's `validate_response`) that decides what an answer means:

- 429, 5xx, timeouts, or a vendor's own "later" (`transient`) are retried inside the call, honouring Retry-After
  or the vendor's hint (`retry_hint`); past the budget: `DestinationUnavailable`, retriable;
- a refused credential (`refused_statuses`, 401 and 403 unless the vendor says otherwise): `CredentialRefused`;
  an exhausted allowance: `AllowanceExhausted`; both fatal, never retried;
- any other 4xx: `BatchRejected` with the vendor's error code (never its message, which can quote the values
  sent), which the engine splits until the bad rows are alone.

A vendor overrides `classify` (calling the base for the rest) where its API says more than its status codes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import httpx

from ..retry import CredentialRefused, RetryPolicy, TokenBucket
from ..sync_files import SyncDefinition
from .base import BatchRejected, Destination


def json_body(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it has none."""
    try:
        return response.json()
    except ValueError:
        return None


class HttpDestination(Destination):
    """Base class of the destinations over HTTP; subclasses set `client` (`http_client`) in their constructor."""

    # How messages name the vendor and its credential, and what to do when it is refused.
    vendor: ClassVar[str] = ""
    credential: ClassVar[str] = "token"
    credential_remedy: ClassVar[str] = "check it"
    refused_statuses: ClassVar[tuple[int, ...]] = (401, 403)
    client: httpx.Client
    requests_per_second: ClassVar[float | None] = None
    burst: ClassVar[int] = 1
    retry_policy: ClassVar[RetryPolicy] = RetryPolicy()

    def __init__(self, sync: SyncDefinition, workdir: Path) -> None:
        super().__init__(sync, workdir)
        rate = sync.settings.get("requests_per_second", self.requests_per_second)
        self.bucket = TokenBucket(float(rate), int(sync.settings.get("burst", self.burst))) if rate else None
        self.retry_policy = RetryPolicy(
            attempts=int(sync.settings.get("retry_attempts", self.retry_policy.attempts)),
            base_seconds=float(sync.settings.get("retry_base_seconds", self.retry_policy.base_seconds)),
        )

    def http_client(self, headers: dict[str, str]) -> httpx.Client:
        """A client for the vendor's API at the sync's `base_url` (the vendor's by default; a stand-in's in tests
        and the demo), with the sync's `timeout_seconds`."""
        base_url = self.sync.setting("base_url", self.default_base_url)
        if not base_url:
            raise ValueError(f"sync {self.sync.name}: destination.base_url is required")
        timeout = float(self.sync.setting("timeout_seconds", 30))
        return httpx.Client(base_url=str(base_url).rstrip("/"), headers=headers, timeout=timeout)

    def transient(self, response: httpx.Response) -> bool:
        """Whether an answer outside 429/5xx still means "try again later" (a vendor's throttling code)."""
        return False

    def retry_hint(self, response: httpx.Response) -> float | None:
        """Seconds the vendor asks to wait, when it says so other than with Retry-After."""
        return None

    def request(
        self,
        send: Callable[[], httpx.Response],
        refused: str,
        remedy: str,
        refused_statuses: tuple[int, ...] = (401, 403),
    ) -> httpx.Response:
        """One HTTP call the shared way: a token from the rate limiter before every attempt, the retry policy
        around it, and a refused credential (401, 403, or the vendor's `refused_statuses`) stopping the sync as
        `<refused> (HTTP n): <remedy>`."""

        def attempt() -> httpx.Response:
            if self.bucket:
                self.bucket.take()
            return send()

        response = self.retry_policy.call(attempt, transient=self.transient, hint=self.retry_hint)
        if response.status_code in refused_statuses:
            raise CredentialRefused(f"{refused} (HTTP {response.status_code}): {remedy}")
        return response

    def call(self, method: str, path: str, payload: Any = None, params: dict[str, str] | None = None) -> Any:
        """A JSON call to the vendor's API through `request`: its decoded answer, or BatchRejected naming the
        HTTP status and the vendor's error code (`error_code`)."""
        response = self.call_raw(method, path, payload, params)
        self.classify(response)
        return response.json() if response.content else {}

    def classify(self, response: httpx.Response) -> None:
        """What an answer that came back means, past retries and a refused credential: nothing for a success;
        `BatchRejected` naming the HTTP status and the vendor's error code (`error_code`) for an error that lies
        in the rows. A vendor raises `CredentialRefused` or `AllowanceExhausted` here for its own codes."""
        if response.status_code >= 400:
            raise BatchRejected(f"{self.vendor} HTTP {response.status_code} {self.error_code(response)}".rstrip())

    def call_raw(
        self, method: str, path: str, payload: Any = None, params: dict[str, str] | None = None
    ) -> httpx.Response:
        content = None if payload is None else json.dumps(payload, default=str).encode()
        return self.request(
            lambda: self.client.request(method, path, content=content, params=params),
            refused=f"{self.vendor} refused the {self.credential}",
            remedy=self.credential_remedy,
            refused_statuses=self.refused_statuses,
        )

    def error_code(self, response: httpx.Response) -> str:
        """The vendor's error code(s) in an error answer, never its message (which can quote the values sent)."""
        return ""

    def close(self) -> None:
        if client := getattr(self, "client", None):
            client.close()
