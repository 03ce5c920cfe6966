"""Normalisation and hashing against the vendors' own published examples: a wrong normalisation fails
silently in production (the audience just matches fewer people), so these vectors are the safety net."""

from __future__ import annotations

from datetime import date

import pytest

from reverse_etl import hashing

# Meta, Conversions API "Customer information parameters" (the same rules as Custom Audiences' customer lists).
META_EXAMPLES = [
    (
        hashing.normalise_email,
        "John_Smith@gmail.com",
        "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f",
    ),
    (
        hashing.normalise_phone_meta,
        "+1 (650) 555-1212",
        "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176",
    ),
    (hashing.normalise_name, "Mary", "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec"),
    (hashing.normalise_name, "Valéry", "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"),
    (hashing.normalise_name, "정", "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14"),
    (
        hashing.normalise_birth_date,
        date(1997, 2, 16),
        "01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c",
    ),
    (hashing.normalise_country, "US", "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"),
]
# Google, the Data Manager / Customer Match formatting guide's examples.
GOOGLE_EXAMPLES = [
    (hashing.normalise_email_google, " AlexZ@example.com ",
     "509e933019bb285a134a9334b8bb679dff79d0ce023d529af4bd744d47b4fd8a"),
    (hashing.normalise_phone_e164, "+1 800-555-0100",
     "fb4f73a6ec5fdb7077d564cdd22c3554b43ce49168550c3b12c547b78c517b30"),
]  # fmt: skip


@pytest.mark.parametrize(("normalise", "value", "published"), META_EXAMPLES + GOOGLE_EXAMPLES)
def test_hashes_match_the_vendors_published_examples(normalise, value, published) -> None:
    assert hashing.sha256(normalise(value)) == published


def test_mailchimp_subscriber_hash_matches_its_documented_example() -> None:
    assert hashing.mailchimp_subscriber_hash("Urist.McVankab@freddiesjokes.com") == "62eeb292278cc15f5817cb78f7790b08"


@pytest.mark.parametrize(
    ("value", "meta", "google"),
    [
        ("+33 6 12 34 56 78", "33612345678", "+33612345678"),
        ("0033 (6) 12.34.56.78", "33612345678", "+33612345678"),
        ("06 12 34 56 78", None, None),  # no country code: cannot be matched, never guessed
        ("+0 123", None, None),
    ],
)
def test_phones_keep_their_country_code_with_or_without_plus(value, meta, google) -> None:
    assert hashing.normalise_phone_meta(value) == meta
    assert hashing.normalise_phone_e164(value) == google


def test_google_drops_the_dots_of_gmail_addresses_only() -> None:
    assert hashing.normalise_email_google("Jane.Doe@GoogleMail.com") == "janedoe@googlemail.com"
    assert hashing.normalise_email_google("jane.doe@example.com") == "jane.doe@example.com"
    assert hashing.normalise_email("Jane.Doe@gmail.com ") == "jane.doe@gmail.com", "Meta keeps them"


def test_values_that_cannot_be_matched_on_are_left_out() -> None:
    assert hashing.normalise_email("not-an-email") is None
    assert hashing.normalise_name(" 42 ") is None
    assert hashing.normalise_zip("94025-1234") == "94025"
    assert hashing.normalise_country("France") is None
