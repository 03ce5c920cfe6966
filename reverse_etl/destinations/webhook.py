"""A generic webhook: each batch POSTed as JSON to `url`, signed with HMAC-SHA256.

Settings: `url` and `secret` (`{env: VARIABLE}`; a sync without them is refused when loaded), optional
`batch_size`, `requests_per_second`. The body is
`{"sync": ..., "operation": ..., "rows": [{"key": ..., "idempotency_key": ..., "fields": {...}}]}`.

Signature: headers `X-Tessera-Timestamp` (Unix seconds) and `X-Tessera-Signature: sha256=<hex>`, the HMAC-SHA256
with the shared secret of `<timestamp>.<raw body>`. A receiver recomputes it, compares in constant time, and
refuses a timestamp more than 5 minutes from its own clock (the replay window). Delivery is at least once: each
row's `idempotency_key` is the SHA-256 of the sync, key, operation and fields, the same for the same row version
in whichever batch or attempt, so a receiver can drop what a crash or a time-out made Tessera send again.

A 2xx accepts the batch, except rows the receiver lists in `{"rejected": [{"key": ..., "error": ...}]}`; another
4xx refuses the batch (split until the bad rows are found); 429, 5xx and timeouts are retried. A person who
withdrew the sync's consent, in a mode that never deletes, is a `withdraw` batch whose fields are null. An
erasure is a batch whose `operation` is `erase`, with the fields last sent for each row, so the receiver can
find and delete the person; it is sent whatever the sync's mode, and retried until a 2xx.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import ClassVar

import httpx
from pydantic import Field

from .base import BatchRejected, Change, DestinationSettings, RowAnswer, Secret, Text
from .http import HttpDestination


class WebhookSettings(DestinationSettings):
    url: Text = Field(description="Where the signed batches are posted.")
    secret: Secret = Field(description="The HMAC key the receiver checks the signature with.")


class WebhookDestination(HttpDestination):
    type_name: ClassVar[str] = "webhook"
    settings_model: ClassVar[type[DestinationSettings]] = WebhookSettings
    category: ClassVar[str] = "webhook"  # its kind, for the consent policy
    modes: ClassVar[tuple[str, ...]] = ("upsert", "insert", "update", "mirror", "audience")
    batch_size: ClassVar[int] = 100
    withdraw_as: ClassVar[str] = "withdraw"  # sent as such: the receiver decides what clearing means

    def __init__(self, sync, workdir: Path) -> None:
        super().__init__(sync, workdir)
        self.url = str(sync.setting("url"))
        self.secret = str(sync.setting("secret")).encode()
        self.batch_size = int(sync.setting("batch_size", type(self).batch_size))
        self.client = httpx.Client(timeout=float(sync.setting("timeout_seconds", 30)))

    def idempotency_key(self, operation: str, change: Change) -> str:
        """The same for the same version of a row, whichever batch or attempt carries it."""
        version = json.dumps([self.sync.name, change.record_key, operation, change.fields], sort_keys=True, default=str)
        return hashlib.sha256(version.encode()).hexdigest()

    def send_batch(self, operation: str, changes: list[Change]) -> list[RowAnswer]:
        body = json.dumps(
            {
                "sync": self.sync.name,
                "operation": operation,
                "rows": [
                    {
                        "key": change.record_key,
                        "idempotency_key": self.idempotency_key(operation, change),
                        "fields": change.fields,
                    }
                    for change in changes
                ],  # fmt: skip
            },
            default=str,
        ).encode()

        def post() -> httpx.Response:
            timestamp = str(int(time.time()))
            signature = hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            headers = {
                "Content-Type": "application/json",
                "X-Tessera-Timestamp": timestamp,
                "X-Tessera-Signature": f"sha256={signature}",
            }
            return self.client.post(self.url, content=body, headers=headers)

        response = self.request(post, refused="the webhook refused the signature", remedy="check the secret")
        if response.status_code >= 400:
            raise BatchRejected(f"HTTP {response.status_code} from the webhook")
        rejected = {}
        if response.content and response.headers.get("content-type", "").startswith("application/json"):
            rejected = {str(item["key"]): str(item.get("error")) for item in response.json().get("rejected", [])}
        return [RowAnswer(c.record_key, c.record_key not in rejected, rejected.get(c.record_key)) for c in changes]
