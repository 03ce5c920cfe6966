"""Salesforce's REST API as a local stand-in: sObject Collections upsert by external id, SOQL look-up of ids,
and collection delete.

It enforces what Salesforce documents: `Authorization: Bearer <access token>` (401 `INVALID_SESSION_ID`); upsert
bodies valid against the JSON Schema written from the REST API guide (specs/salesforce: at most 200 records, each
typed); with `allOrNone: false`, one result per record, in order, failed records carrying `errors[]` with
`statusCode` and `fields` (an invalid Email: `INVALID_EMAIL_ADDRESS`, a record without its external id:
`MISSING_ARGUMENT`); 200 ids per delete; and the org's API request allowance (`daily_limit` per 24 h),
answered as Salesforce does: 403 `REQUEST_LIMIT_EXCEEDED`.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .base import Reply, StandIn, schema_problem

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
UPSERT = re.compile(r"^/services/data/v\d+\.\d/composite/sobjects/(?P<sobject>\w+)/(?P<field>\w+)$")
COLLECTION = re.compile(r"^/services/data/v\d+\.\d/composite/sobjects$")
QUERY = re.compile(r"^/services/data/v\d+\.\d/query$")
SOQL = re.compile(r"^SELECT Id, (?P<field>\w+) FROM (?P<sobject>\w+) WHERE (?P=field) IN \((?P<values>.*)\)$")


class SalesforceStandIn(StandIn):
    name = "salesforce"

    def __init__(self, access_token: str = "standin-salesforce-token", daily_limit: int = 100_000) -> None:
        super().__init__(access_token)
        self.rate_limit = (daily_limit, 86_400.0)
        self.records: dict[str, dict[str, Any]] = {}  # id -> fields (with attributes.type)
        self._by_key: dict[tuple[str, str, Any], str] = {}  # (sobject, external id field, value) -> id
        self._ids = itertools.count(1)

    def unauthorized(self) -> Reply:
        return Reply(401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])

    def rate_limited(self) -> Reply:
        return Reply(403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        parts = urlsplit(path)
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        with self._lock:
            if method == "PATCH" and (found := UPSERT.match(parts.path)):
                try:
                    body = json.loads(raw)
                except ValueError:
                    return _error(400, "JSON_PARSER_ERROR", "The request body is not JSON")
                if problem := schema_problem("salesforce", "collections_upsert", body):
                    return _error(400, "INVALID_FIELD", problem)
                self.requests.append((method, parts.path, body))
                return self._upsert(found["sobject"], found["field"], body)
            if method == "GET" and QUERY.match(parts.path):
                self.requests.append((method, parts.path, query))
                return self._query(query.get("q", ""))
            if method == "DELETE" and COLLECTION.match(parts.path):
                ids = [value for value in query.get("ids", "").split(",") if value]
                if len(ids) > 200:
                    return _error(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records")
                self.requests.append((method, parts.path, ids))
                return Reply(200, [{"id": rid, "success": self._delete(rid), "errors": []} for rid in ids])
        return _error(404, "NOT_FOUND", f"No stand-in route for {method} {parts.path}")

    def _upsert(self, sobject: str, field: str, body: dict[str, Any]) -> Reply:
        results = []
        for record in body["records"]:
            if record["attributes"]["type"] != sobject:
                results.append(_failed("INVALID_TYPE", "The record type does not match the collection", []))
            elif not record.get(field):
                results.append(_failed("MISSING_ARGUMENT", f"{field} not specified", [field]))
            elif record.get("Email") and not EMAIL.match(str(record["Email"])):
                results.append(_failed("INVALID_EMAIL_ADDRESS", f"Email: invalid email address: {record['Email']}",
                                       ["Email"]))  # fmt: skip
            else:
                existing = self._by_key.get((sobject, field, record[field]))
                record_id = existing or f"003STANDIN{next(self._ids):08d}"
                self._by_key[(sobject, field, record[field])] = record_id
                self.records[record_id] = {**self.records.get(record_id, {}), **record}
                results.append({"id": record_id, "success": True, "errors": [], "created": existing is None})
        return Reply(200, results)

    def _delete(self, record_id: str) -> bool:
        record = self.records.pop(record_id, None)
        if record is None:
            return False
        self._by_key = {key: rid for key, rid in self._by_key.items() if rid != record_id}
        return True

    def _query(self, soql: str) -> Reply:
        found = SOQL.match(soql.strip())
        if found is None:
            return _error(400, "MALFORMED_QUERY", "The stand-in answers SELECT Id, <field> FROM <object> WHERE "
                          "<field> IN (...)")  # fmt: skip
        values = {value.strip().strip("'").replace("\\'", "'") for value in found["values"].split("',")}
        field, sobject = found["field"], found["sobject"]
        records = [{"attributes": {"type": sobject}, "Id": rid, field: r[field]} for rid, r in self.records.items()
                   if r["attributes"]["type"] == sobject and r.get(field) in values]  # fmt: skip
        return Reply(200, {"totalSize": len(records), "done": True, "records": records})

    def received(self) -> str:
        types: dict[str, int] = {}
        for record in self.records.values():
            types[record["attributes"]["type"]] = types.get(record["attributes"]["type"], 0) + 1
        return ", ".join(f"{count:,} {sobject} records" for sobject, count in types.items()) or "no records"

    def by_external_id(self, field: str) -> dict[str, dict[str, Any]]:
        return {record[field]: record for record in self.records.values() if field in record}


def _failed(code: str, message: str, fields: list[str]) -> dict[str, Any]:
    return {"success": False, "errors": [{"statusCode": code, "message": message, "fields": fields}]}


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, [{"message": message, "errorCode": code}])
