"""Emails and phones as matching keys, read by the libraries made for them.

- `email_key`: an address as RFC 5321/6531 define one (email-validator): internationalised local parts and
  domains are addresses too (`łukasik@gdańsk.pl`). The key is the local part NFC-normalised and case-folded, `@`,
  the domain in its ASCII (punycode) form, lower-cased; anything that is not an address is None.
- `phone_key`: a phone in E.164 (phonenumbers, Google's libphonenumber): parsed for the record's country, or by
  its `+`/`00` international prefix; None unless the number is valid for its country's plan, or of a possible
  length there with at least 7 national digits: numbers in ranges set aside for fiction (`+44 7700 900123`) are
  still people's keys, a German `123` is not.

Both are pure and cached: identity models call them once per distinct value, through the dbt-duckdb plugin.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

CACHE_SIZE = 1 << 20
MIN_NATIONAL_DIGITS = 7


@lru_cache(maxsize=CACHE_SIZE)
def email_key(value: str | None) -> str | None:
    if value is None:
        return None
    text = unicodedata.normalize("NFC", value.strip())
    if not text:
        return None
    try:
        address = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return None
    return f"{address.local_part.casefold()}@{address.ascii_domain.lower()}"


@lru_cache(maxsize=CACHE_SIZE)
def phone_key(digits: str | None, country: str | None = None) -> str | None:
    """`digits`: the typed number reduced to digits and a leading `+` (the `phone_digits` macro); `country`: the
    record's ISO 3166-1 alpha-2 code, for a number typed without its country code."""
    if not digits:
        return None
    number = "+" + digits[2:] if digits.startswith("00") else digits
    try:
        parsed = phonenumbers.parse(number, None if number.startswith("+") else (country or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not _plausible(parsed):
        return None
    if parsed.italian_leading_zero:
        return None  # a national number written with its trunk 0 after the country code (+33 0612...)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _plausible(parsed: phonenumbers.PhoneNumber) -> bool:
    """A number of its country's plan (valid), or one of a possible length with at least MIN_NATIONAL_DIGITS
    digits: so a number in a range set aside for fiction is kept, and `123` (a possible length in Germany's plan
    of short numbers) is not taken for anyone's phone."""
    if phonenumbers.is_possible_number(parsed) and len(str(parsed.national_number)) >= MIN_NATIONAL_DIGITS:
        return True  # the cheap test first: matching the plan's ranges costs four times as much
    return phonenumbers.is_valid_number(parsed)
