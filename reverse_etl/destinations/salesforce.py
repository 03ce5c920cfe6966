"""Salesforce: records (Contacts by default) upserted by an external id field, deleted in mirror mode.

From the Salesforce REST API Developer Guide:
- `PATCH /services/data/v62.0/composite/sobjects/{SObject}/{ExternalIdField}` (sObject Collections upsert) takes
  200 records; with `allOrNone: false` each record succeeds or fails alone, and the answer lists one result per
  record, in order: failed ones carry `statusCode` and `fields` (their `message` can quote the value, so it is not
  kept);
- mirror mode deletes removed records: their ids are found by SOQL on the external id
  (`GET .../query?q=SELECT Id, ...`) and deleted with `DELETE .../composite/sobjects?ids=...` (200 at most);
  an erasure deletes the person's records the same way, in every mode;
- `Authorization: Bearer <access token>`; the org's API allowance exhausted is a 403 `REQUEST_LIMIT_EXCEEDED`,
  which stops the sync with that message (nothing of the batch acknowledged) rather than as a refused token.

Settings: `access_token` ({env: ...}), `base_url` (the org's instance URL), `sobject` (Contact),
`external_id_field` (e.g. Tessera_Customer_Id__c), `api_version` (v62.0). Mapping targets are field API names and
must include the external id field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import Field

from ..retry import AllowanceExhausted
from .base import BatchRejected, Change, DestinationSettings, RowAnswer, Secret
from .http import HttpDestination, json_body


class SalesforceSettings(DestinationSettings):
    access_token: Secret = Field(description="An OAuth access token.")
    external_id_field: str = Field(description="The object's external id field, which the mapping fills.")
    sobject: str | None = Field(None, description="The object (Contact).")
    api_version: str | None = Field(None, description="The REST API version (v62.0).")


class SalesforceDestination(HttpDestination):
    type_name: ClassVar[str] = "salesforce"
    settings_model: ClassVar[type[DestinationSettings]] = SalesforceSettings
    category: ClassVar[str] = "crm"  # its kind, for the consent policy
    modes: ClassVar[tuple[str, ...]] = ("upsert", "mirror")
    batch_size: ClassVar[int] = 200
    operation_batch_sizes: ClassVar[dict[str, int]] = {"delete": 200, "erase": 200}  # ids per composite delete
    max_concurrency: ClassVar[int] = 4
    requests_per_second: ClassVar[float] = 10.0
    burst: ClassVar[int] = 4
    vendor: ClassVar[str] = "Salesforce"
    credential: ClassVar[str] = "access token"
    credential_remedy: ClassVar[str] = "renew it (OAuth) and check the integration user's permissions"
    refused_statuses: ClassVar[tuple[int, ...]] = (401,)  # a 403 is the exhausted allowance, said as such

    def __init__(self, sync, workdir: Path) -> None:
        super().__init__(sync, workdir)
        self.sobject = str(sync.setting("sobject", "Contact"))
        self.external_id = sync.setting("external_id_field")
        if not self.external_id or self.external_id not in {mapping.target for mapping in sync.mapping}:
            raise ValueError(f"sync {sync.name}: destination.external_id_field is required and must be mapped")
        self.key_fields = (str(self.external_id),)  # a withdrawal nulls the other mapped fields
        self.api = f"/services/data/{sync.setting('api_version', 'v62.0')}"
        self.client = self.http_client(
            {"Authorization": f"Bearer {sync.setting('access_token')}", "Content-Type": "application/json"}
        )

    def unsendable(self, operation: str, change: Change) -> str | None:
        return None if change.fields.get(self.external_id) else f"{self.external_id} is missing"

    def send_batch(self, operation: str, changes: list[Change]) -> list[RowAnswer]:
        if operation in ("delete", "erase"):  # erasure deletes the record, in every mode
            return self._delete(changes)
        records = [
            {"attributes": {"type": self.sobject}, **{name: _value(value) for name, value in change.fields.items()}}
            for change in changes
        ]
        results = self.call(
            "PATCH", f"{self.api}/composite/sobjects/{self.sobject}/{self.external_id}",
            {"allOrNone": False, "records": records},
        )  # fmt: skip
        if not isinstance(results, list) or len(results) != len(changes):
            raise BatchRejected("Salesforce answered without one result per record")
        return [
            RowAnswer(change.record_key, True) if result.get("success") else
            RowAnswer(change.record_key, False, _errors(result.get("errors", [])))
            for change, result in zip(changes, results, strict=True)
        ]  # fmt: skip

    def _delete(self, changes: list[Change]) -> list[RowAnswer]:
        values = ",".join("'" + str(change.fields[self.external_id]).replace("'", "\\'") + "'" for change in changes)
        soql = f"SELECT Id, {self.external_id} FROM {self.sobject} WHERE {self.external_id} IN ({values})"
        found = self.call("GET", f"{self.api}/query", params={"q": soql})
        ids = [record["Id"] for record in found.get("records", [])]
        if ids:
            self.call("DELETE", f"{self.api}/composite/sobjects", params={"ids": ",".join(ids), "allOrNone": "false"})
        return [RowAnswer(change.record_key, True) for change in changes]  # a record Salesforce lacks is gone

    def classify(self, response: httpx.Response) -> None:
        if response.status_code >= 400 and "REQUEST_LIMIT_EXCEEDED" in self.error_code(response):
            raise AllowanceExhausted(
                "Salesforce's API request allowance is exhausted (REQUEST_LIMIT_EXCEEDED): nothing more is sent until "
                "it renews (a rolling 24 hours); not retried"
            )
        super().classify(response)

    def error_code(self, response: httpx.Response) -> str:
        body = json_body(response)
        items = body if isinstance(body, list) else [body]
        return ",".join(sorted({str(item.get("errorCode", "")) for item in items if isinstance(item, dict)}))


def _value(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def _errors(errors: list[dict[str, Any]]) -> str:
    return "; ".join(f"{e.get('statusCode', 'ERROR')} ({', '.join(e.get('fields', []))})" for e in errors) or "ERROR"
