"""One retry policy and one rate limiter for every destination (STYLE: declared per destination class), and the
two kinds of error a sync stops with: `RetriableError` (down, throttled past the budget) and `FatalError` (a refused
credential, an exhausted allowance, a bad configuration), which the engine and Dagster never retry.

- `RetryPolicy`: 429, 5xx and timeouts are retried with exponential backoff and full jitter, honouring the
  server's `Retry-After` (seconds or an HTTP date) or a vendor hint the destination extracts; any other 4xx is
  not retried: the destination maps it to rejected rows with the vendor's message.
- `TokenBucket`: at most `rate` requests per second on average, `burst` at once; every request of a
  destination takes a token first, whatever sync sends it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class RetriableError(RuntimeError):
    """A sync stopped for a passing reason: a later attempt may succeed, so its step is tried again."""


class FatalError(RuntimeError):
    """A sync stopped for a reason only a person can fix: never tried again (retrying a refused key can lock an
    account, and an exhausted allowance is only spent faster)."""


class DestinationUnavailable(RetriableError):
    """Retries are exhausted: the destination is down, overloaded, throttling past the retry budget, or
    unreachable. Nothing was acknowledged."""


class CredentialRefused(FatalError):
    """The destination refused the credential (a 401, 403, or the vendor's own code). Nothing was acknowledged."""


class AllowanceExhausted(FatalError):
    """The vendor's allowance of requests (a daily API limit) is spent: nothing more goes until it renews."""


class DestinationMisconfigured(FatalError):
    """The destination cannot be used as the sync defines it (a setting its vendor refuses)."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_seconds: float = 0.5
    max_seconds: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt `attempt + 1`: the server's word if it gave one, else backoff."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_seconds)
        return random.uniform(0, min(self.max_seconds, self.base_seconds * 2**attempt))

    def call(
        self,
        send: Callable[[], httpx.Response],
        *,
        transient: Callable[[httpx.Response], bool] | None = None,
        hint: Callable[[httpx.Response], float | None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> httpx.Response:
        """`send()` until it answers with something other than a retryable status; that answer is returned.
        `transient` recognises a vendor's own way of saying "later" (Meta's throttling codes on an HTTP 400), `hint`
        its own wait (when there is no Retry-After). Raises DestinationUnavailable when every attempt failed."""
        last = "no attempt made"
        for attempt in range(self.attempts):
            try:
                response = send()
            except (httpx.TimeoutException, httpx.TransportError) as error:
                last = f"{type(error).__name__}"
                retry_after = None
            else:
                if response.status_code not in RETRYABLE_STATUS and not (transient and transient(response)):
                    return response
                last = f"HTTP {response.status_code}"
                retry_after = retry_after_seconds(response)
                if retry_after is None and hint is not None:
                    retry_after = hint(response)
            if attempt + 1 < self.attempts:
                sleep(self.delay(attempt, retry_after))
        raise DestinationUnavailable(f"gave up after {self.attempts} attempts (last: {last})")


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class TokenBucket:
    """Thread-safe: `take()` blocks until a request may go."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._tokens = float(burst)
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            time.sleep(wait)
