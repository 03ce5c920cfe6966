"""The landing contract (`docs/contracts/sources.md`) as data.

One place describes every source: its folder, file format, columns and their types, and the record id. The demo
generator writes files from it, the loaders read and validate files against it, and the tests compare the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa


class FileFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"


class ColumnType(StrEnum):
    """How a landing value is read into the warehouse. Anything that does not convert is quarantined."""

    STRING = "string"
    TIMESTAMP = "timestamp"  # ISO 8601, with or without an offset (none means UTC); stored as UTC
    UNIX_SECONDS = "unix_seconds"  # seconds since the epoch, stored as a UTC timestamp
    DATE = "date"  # YYYY-MM-DD
    DECIMAL = "decimal"  # money: decimal(12,2)
    INTEGER = "integer"
    NESTED = "nested"  # Parquet lists and structs, kept as the file has them


@dataclass(frozen=True)
class Column:
    """A column of a raw table.

    `path` is where the value sits in a JSON event (dotted); CSV and Parquet columns are read by name.
    A `required` value that is missing or empty sends the row to quarantine: a record without its key
    cannot be loaded meaningfully.
    """

    name: str
    type: ColumnType = ColumnType.STRING
    required: bool = False
    path: str | None = None
    nested_type: pa.DataType | None = None  # the Arrow type of a NESTED column


@dataclass(frozen=True)
class Source:
    name: str  # the landing folder, and the raw table's name
    format: FileFormat
    columns: tuple[Column, ...]
    record_id: str  # the column that identifies a record (the ground truth's record_id)
    description: str

    @property
    def extension(self) -> str:
        return self.format.value

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]


MONEY = pa.decimal128(12, 2)
ORDER_LINE_ITEMS = pa.list_(
    pa.struct(
        [
            ("sku", pa.string()),
            ("product_name", pa.string()),
            ("category", pa.string()),
            ("quantity", pa.int32()),
            ("unit_price", MONEY),
        ]
    )
)

S, TS, UNIX, DATE, DEC, INT, NESTED = (
    ColumnType.STRING,
    ColumnType.TIMESTAMP,
    ColumnType.UNIX_SECONDS,
    ColumnType.DATE,
    ColumnType.DECIMAL,
    ColumnType.INTEGER,
    ColumnType.NESTED,
)


def _columns(*specs: str | tuple) -> tuple[Column, ...]:
    return tuple(Column(spec) if isinstance(spec, str) else Column(*spec) for spec in specs)


_SEGMENT_COLUMNS = _columns(
    ("message_id", S, True, "messageId"),
    ("type", S, True, "type"),
    ("anonymous_id", S, False, "anonymousId"),
    ("user_id", S, False, "userId"),
    ("event", S, False, "event"),
    ("timestamp", TS, True, "timestamp"),
)

SOURCES: tuple[Source, ...] = (
    Source(
        "crm_contacts",
        FileFormat.CSV,
        _columns(
            ("contact_id", S, True),
            "first_name",
            "last_name",
            "email",
            "phone",
            "company",
            "street",
            "city",
            "postal_code",
            "country",
            "lifecycle_stage",
            ("created_at", TS),
            ("updated_at", TS),
        ),
        "contact_id",
        "CRM export: contacts created and updated by sales and service; a later file may carry a newer version.",
    ),
    Source(
        "web_events",
        FileFormat.JSONL,
        _SEGMENT_COLUMNS,
        "message_id",
        "Segment Spec calls from the website (identify, track, page, alias); retries deliver some twice.",
    ),
    Source(
        "app_events",
        FileFormat.JSONL,
        _SEGMENT_COLUMNS,
        "message_id",
        "Segment Spec calls from the mobile app (identify, track, screen, alias), with device ids.",
    ),
    Source(
        "orders",
        FileFormat.PARQUET,
        _columns(
            ("order_id", S, True),
            "customer_account_id",
            "email",
            "phone",
            "billing_first_name",
            "billing_last_name",
            "billing_street",
            "billing_city",
            "billing_postal_code",
            "billing_country",
            "currency",
            ("subtotal", DEC),
            ("discount", DEC),
            ("shipping", DEC),
            ("total", DEC),
            "status",
            ("created_at", TS, True),
            ("line_items", NESTED, False, None, ORDER_LINE_ITEMS),
        ),
        "order_id",
        "E-commerce orders, with their line items; guest checkouts have no account id.",
    ),
    Source(
        "loyalty_members",
        FileFormat.CSV,
        _columns(
            ("card_number", S, True),
            "email",
            "phone",
            "first_name",
            "last_name",
            ("birth_date", DATE),
            "postal_code",
            "store_id",
            ("enrolled_at", TS),
        ),
        "card_number",
        "Store loyalty programme enrolments.",
    ),
    Source(
        "pos_transactions",
        FileFormat.CSV,
        _columns(
            ("transaction_id", S, True),
            "store_id",
            "card_number",
            ("occurred_at", TS, True),
            ("total_amount", DEC),
            "currency",
            ("item_count", INT),
            "payment_method",
        ),
        "transaction_id",
        "Store till transactions; a loyalty card number when the shopper showed one.",
    ),
    Source(
        "email_events",
        FileFormat.JSONL,
        _columns(
            ("sg_event_id", S, True, "sg_event_id"),
            ("email", S, False, "email"),
            ("event", S, True, "event"),
            ("timestamp", UNIX, True, "timestamp"),
            ("campaign_id", S, False, "campaign_id"),
        ),
        "sg_event_id",
        "Email service provider event webhook: sends, deliveries, opens, clicks, bounces, unsubscribes.",
    ),
    Source(
        "support_tickets",
        FileFormat.CSV,
        _columns(
            ("ticket_id", S, True),
            "requester_email",
            "requester_phone",
            "requester_name",
            "subject",
            "channel",
            "status",
            "satisfaction",
            ("created_at", TS),
            ("solved_at", TS),
        ),
        "ticket_id",
        "Help desk tickets by email, phone and chat.",
    ),
    Source(
        "consent_events",
        FileFormat.JSONL,
        _columns(
            ("event_id", S, True, "event_id"),
            ("purpose", S, True, "purpose"),
            ("status", S, True, "status"),
            ("source", S, False, "source"),
            ("occurred_at", TS, True, "occurred_at"),
        ),
        "event_id",
        "Consent manager decisions per subject and purpose; the latest decision wins.",
    ),
    Source(
        "erasure_requests",
        FileFormat.CSV,
        _columns(
            ("request_id", S, True),
            "email",
            "phone",
            "user_id",
            ("requested_at", TS),
            "type",
        ),
        "request_id",
        "GDPR erasure (erase) and suppression (suppress) requests.",
    ),
)

SOURCES_BY_NAME: dict[str, Source] = {source.name: source for source in SOURCES}

# The enumerations of sources.md, by source and column. A loaded value (trimmed, lower-cased, as staging reads it)
# outside its set is quarantined. The consent purposes the loaders and checks use are the dbt project's (var
# `consent_purposes`), which a project may extend; these are the contract's.
VALUE_SETS: dict[str, dict[str, tuple[str, ...]]] = {
    "crm_contacts": {"lifecycle_stage": ("subscriber", "lead", "customer", "other", "")},
    "web_events": {"type": ("identify", "track", "page", "screen", "alias")},
    "app_events": {"type": ("identify", "track", "page", "screen", "alias")},
    "orders": {"status": ("paid", "refunded", "cancelled")},
    "pos_transactions": {"payment_method": ("card", "cash", "gift_card", "")},
    "email_events": {
        "event": ("processed", "delivered", "open", "click", "bounce", "dropped", "spamreport", "unsubscribe")
    },
    "support_tickets": {
        "channel": ("email", "phone", "chat", ""),
        "status": ("new", "open", "solved", "closed", ""),
        "satisfaction": ("good", "bad", ""),  # empty when the requester did not say
    },
    "consent_events": {
        "purpose": ("email_marketing", "sms_marketing", "advertising", "analytics", "personalization"),
        "status": ("granted", "denied", "withdrawn"),
        "source": ("web_banner", "preference_center", "crm", "pos", ""),
    },
    "erasure_requests": {"type": ("erase", "suppress", "unsuppress")},  # unsuppress: lifts a suppression
}
TRUTH_FOLDER = "_truth"
