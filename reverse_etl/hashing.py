"""Normalise-then-SHA-256, per each ad platform's documented rules. A wrong normalisation does not fail: it
silently matches nobody, so tests/test_hashing.py checks these against the vendors' published examples.

Each `normalise_*` returns the normalised text, or None when the value cannot be matched on (an email without a
domain, a phone without a country code): the caller leaves that identifier out and reports it, never the value.

Phones come from the warehouse in E.164 (`+33612345678`, as staging normalises them); a number without `+` or
`00` has no knowable country code, so it is not used.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date, datetime

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
GOOGLE_DOTLESS_DOMAINS = ("gmail.com", "googlemail.com")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalise_email(value: object) -> str | None:
    """Meta and Google: trim, lowercase."""
    text = str(value).strip().lower() if value is not None else ""
    return text if EMAIL.match(text) else None


def normalise_email_google(value: object) -> str | None:
    """Google Customer Match also removes the periods before the domain of gmail.com and googlemail.com."""
    email = normalise_email(value)
    if email is None:
        return None
    local, domain = email.rsplit("@", 1)
    return f"{local.replace('.', '')}@{domain}" if domain in GOOGLE_DOTLESS_DOMAINS else email


def normalise_phone_e164(value: object) -> str | None:
    """Google: `+` then country code and number (E.164), from `+..`, `00..` with spaces, dots, dashes, brackets."""
    text = str(value).strip() if value is not None else ""
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+"):
        return None
    digits = re.sub(r"\D", "", text)
    return f"+{digits}" if 8 <= len(digits) <= 15 and not digits.startswith("0") else None


def normalise_phone_meta(value: object) -> str | None:
    """Meta: digits only, country code first, no `+` and no leading zeros."""
    e164 = normalise_phone_e164(value)
    return e164[1:] if e164 else None


def normalise_name(value: object) -> str | None:
    """Names: trimmed, lowercase, letters only (Meta keeps non-Roman letters in UTF-8; punctuation and spaces
    go)."""
    text = unicodedata.normalize("NFC", str(value).strip().lower()) if value is not None else ""
    letters = "".join(char for char in text if char.isalpha())
    return letters or None


def normalise_name_google(value: object) -> str | None:
    """Google: trimmed and lowercased, nothing removed."""
    text = str(value).strip().lower() if value is not None else ""
    return text or None


def normalise_city(value: object) -> str | None:
    """Meta: lowercase, no punctuation, no spaces."""
    return normalise_name(value)


def normalise_country(value: object) -> str | None:
    """ISO 3166-1 alpha-2, lowercase (Meta hashes it; Google sends it as is, uppercase)."""
    text = str(value).strip().lower() if value is not None else ""
    return text if re.fullmatch(r"[a-z]{2}", text) else None


def normalise_zip(value: object) -> str | None:
    """Meta: lowercase, no spaces or dashes; a US ZIP+4 keeps its first five digits."""
    text = str(value).strip().lower() if value is not None else ""
    if re.fullmatch(r"\d{5}-\d{4}", text):
        return text[:5]
    text = re.sub(r"[\s-]", "", text)
    return text or None


def normalise_gender(value: object) -> str | None:
    text = str(value).strip().lower()[:1] if value is not None else ""
    return text if text in ("f", "m") else None


def normalise_birth_date(value: object) -> str | None:
    """Meta's DOB: YYYYMMDD."""
    if isinstance(value, datetime | date):
        return value.strftime("%Y%m%d")
    text = str(value).strip() if value is not None else ""
    try:
        return date.fromisoformat(text[:10]).strftime("%Y%m%d")
    except ValueError:
        return None


def mailchimp_subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 hex of the lowercased address (an identifier, not a protection)."""
    return hashlib.md5(email.strip().lower().encode("utf-8"), usedforsecurity=False).hexdigest()
