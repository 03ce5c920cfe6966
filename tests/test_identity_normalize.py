"""Emails and phones as matching keys: the libraries' readings (`identity.normalize`), the SQL functions the
dbt-duckdb plugin makes of them, and the macros' SQL that other engines use, compared on a generated corpus."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from identity.dbt_plugin import register
from identity.normalize import email_key, phone_key
from tessera.settings import PROJECT_DIR


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        (" Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("Łukasik.Anna@gmail.com", "łukasik.anna@gmail.com"),  # a local part that does not fold to ASCII
        ("JOSÉ@correo.es", "josé@correo.es"),
        ("Jose\u0301@correo.es", "josé@correo.es"),  # decomposed é: NFC-normalised to the same key
        ("x@bücherwurm.de", "x@xn--bcherwurm-q9a.de"),  # an internationalised domain, compared in ASCII form
        ("x@XN--BCHERWURM-Q9A.DE", "x@xn--bcherwurm-q9a.de"),
        ("n/a", None),
        ("jane@", None),
        ("a b@example.com", None),
        ("two@@example.com", None),
        ("jane..doe@example.com", None),
        ("jane@localhost", None),
        ("", None),
    ],
)
def test_an_email_is_an_address_as_the_standards_define_it(typed: str, key: str | None) -> None:
    assert email_key(typed) == key


@pytest.mark.parametrize(
    ("digits", "country", "key"),
    [
        ("0612345678", "FR", "+33612345678"),
        ("0033612345678", None, "+33612345678"),
        ("+4915123456789", None, "+4915123456789"),
        ("015123456789", "DE", "+4915123456789"),
        ("512345678", "PL", "+48512345678"),
        ("+447700900123", None, "+447700900123"),  # a range set aside for fiction: still someone's key
        ("4155550134", "US", "+14155550134"),
        ("0701234567", "SE", "+46701234567"),
        ("12345", "FR", None),
        ("0612345678", "XX", None),  # no such country: national digits cannot be read
        ("", "FR", None),
    ],
)
def test_a_phone_is_read_to_e164_by_libphonenumber(digits: str, country: str | None, key: str | None) -> None:
    assert phone_key(digits, country) == key


def test_the_sql_functions_read_each_distinct_value_once_and_keep_nulls() -> None:
    with duckdb.connect() as con:
        register(con)
        rows = (
            "(' A@B.org ', '0612345678', 'FR'), (null, null, null), ('A@b.org', '0612345678', null), "
            "('bad', '+33612345678', 'FR')"
        )
        con.execute(f"create table t as select * from (values {rows}) v(e, p, c)")
        assert con.execute("select tessera_email_key(e), tessera_phone_key(p, c) from t").fetchall() == [
            ("a@b.org", "+33612345678"), (None, None), ("a@b.org", None), (None, "+33612345678")]  # fmt: skip


def test_the_plain_address_shortcut_reads_emails_as_email_validator_does() -> None:
    """Plain ASCII addresses skip email-validator (`PLAIN_ADDRESS`): on strings made to sit on that shape's edges
    (the specials of RFC 5322, dots and hyphens where they may not be, lengths either side of 64, 254 and 63,
    `xn--` and special-use names), the plugin's keys are email-validator's, and most addresses take the shortcut."""
    rng = random.Random(7)
    specials = list("aZ09.-_+'`{~!#$%&*/=?^|}")
    tlds = ["com", "COM", "c", "test", "Test", "local", "onion", "arpa", "localhost", "invalid", "io", "x1", "1"]
    emails = []
    for _ in range(30_000):
        local = "".join(rng.choice(specials) for _ in range(rng.choice([1, 2, 5, 12, 64, 65])))
        labels = [
            "".join(rng.choice("aZ09-") for _ in range(rng.choice([1, 3, 63, 64]))) for _ in range(rng.randint(0, 4))
        ]
        emails.append(local + "@" + ".".join([*labels, rng.choice(tlds)]))
    emails += ["Jane.Doe@Example.COM", "a@xn--bcherwurm-q9a.de", "a@b--c.com", " a@b.com", "a@b.com.", "a@b@c.com"]
    with duckdb.connect() as con:
        register(con)
        con.execute("create table t as select unnest(?::varchar[]) as e", [emails])
        email_key.cache_clear()
        keys = [row[0] for row in con.execute("select tessera_email_key(e) from t").fetchall()]
        read_by_the_library = email_key.cache_info().currsize
    differ = [(e, k, email_key(e)) for e, k in zip(emails, keys, strict=True) if k != email_key(e)]
    assert not differ, differ[:10]
    addresses = sum(1 for key in keys if key)
    assert addresses > 1_000 and read_by_the_library < len(set(emails)) - addresses / 2


def corpus(count: int, seed: int = 5) -> tuple[list[str], list[tuple[str, str]]]:
    """Emails and (digits, country) pairs as exporters write them, good and bad, Unicode and ASCII."""
    rng = random.Random(seed)
    locals_ = ["anna", "Łukasik", "josé.núñez", "o'brien", "jane+news", "a.b.c", "ÅSA", "müller", "x", "nguyễn",
               "first..last", ".lead", "trail.", "with space", "quo\"te", "日本", "user_1", "UPPER"]  # fmt: skip
    domains = ["gmail.com", "Example.ORG", "bücherwurm.de", "wp.pl", "sub.domain.co.uk", "localhost", "x", "-bad.com",
               "good-domain.fr", "münchen.de", "a.b", "numbers123.io", "xn--mnchen-3ya.de", "dom_ain.com"]  # fmt: skip
    emails = [f"{rng.choice(locals_)}@{rng.choice(domains)}" for _ in range(count)]
    emails += [rng.choice(["n/a", "none", "@", "a@", "@b.com", "a@@b.com", " ", "test"]) for _ in range(count // 20)]
    codes = {"FR": ("33", 9, "0"), "DE": ("49", 11, "0"), "PL": ("48", 9, ""), "GB": ("44", 10, "0"),
             "ES": ("34", 9, ""), "SE": ("46", 9, "0"), "US": ("1", 10, "1")}  # fmt: skip
    phones = []
    for _ in range(count):
        country = rng.choice(list(codes))
        code, length, trunk = codes[country]
        digits = length - 1 + rng.choice([0, 0, 0, -1, 1])  # now and then a digit short or too many
        nsn = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(digits))
        written = rng.choice([f"+{code}{nsn}", f"00{code}{nsn}", f"{trunk}{nsn}", nsn])
        phones.append((written, rng.choice([country, country, country, None])))
    return emails, phones


def _sql_fallback(tmp_path: Path, emails: list[str], phones: list[tuple[str, str]]) -> tuple[list, list]:
    """The macros' engine-neutral SQL (`default__`), compiled by dbt, run by DuckDB over the corpus."""
    dbt = str(Path(sys.executable).with_name("dbt"))
    warehouse = tmp_path / "compile.duckdb"
    env = dict(os.environ, TESSERA_WAREHOUSE=str(warehouse))
    common = ["--profiles-dir", str(PROJECT_DIR), "--target-path", str(tmp_path / "target"), "--log-path",
              str(tmp_path / "logs")]  # fmt: skip
    seeded = subprocess.run([dbt, "seed", "--quiet", "--select", "country_calling_codes", *common], env=env,
                            capture_output=True, text=True, cwd=PROJECT_DIR, timeout=300)  # fmt: skip
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    compiled = []
    for inline in ("select {{ tessera.default__normalize_email('e') }} from t_emails",
                   "select {{ tessera.default__normalize_phone('d', 'c') }} from t_phones"):  # fmt: skip
        result = subprocess.run([dbt, "compile", "--quiet", "--inline", inline, "--output", "json", *common],
                                env=env, capture_output=True, text=True, cwd=PROJECT_DIR, timeout=300)  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        compiled.append(json.loads(result.stdout)["compiled"])
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table t_emails as select unnest(?::varchar[]) as e", [emails])
        con.execute("create table t_phones as select unnest(?::varchar[]) as d, unnest(?::varchar[]) as c",
                    [[d for d, _ in phones], [c for _, c in phones]])  # fmt: skip
        return [row[0] for row in con.execute(compiled[0]).fetchall()], [
            row[0] for row in con.execute(compiled[1]).fetchall()
        ]


def test_the_macros_sql_agrees_with_the_libraries_on_a_large_corpus(tmp_path: Path) -> None:
    """Engines without the plugin (Spark) use the macros' SQL: it must read the corpus as the libraries do, but
    for internationalised domains (SQL keeps them in Unicode, the library in ASCII) and phones the numbering plan
    makes impossible (SQL knows lengths per country, libphonenumber each country's ranges)."""
    emails, phones = corpus(20_000)
    sql_emails, sql_phones = _sql_fallback(tmp_path, emails, phones)
    library_emails = [email_key(email) for email in emails]
    idn = sum(1 for s, k in zip(sql_emails, library_emails, strict=True) if s != k and _idn_only(s, k))
    differ_email = [(e, s, k) for e, s, k in zip(emails, sql_emails, library_emails, strict=True)
                    if s != k and not _idn_only(s, k)]  # fmt: skip
    library_phones = [phone_key(digits, country or "FR") for digits, country in phones]  # the var default_country
    differ_phone = [(p, s, k) for p, s, k in zip(phones, sql_phones, library_phones, strict=True) if s != k]
    email_rate, phone_rate = len(differ_email) / len(emails), len(differ_phone) / len(phones)
    print(
        f"\nSQL fallback vs libraries on {len(emails):,} emails and {len(phones):,} phones: emails differ "
        f"{email_rate:.2%} (and {idn / len(emails):.2%} only in an internationalised domain's form), phones "
        f"{phone_rate:.2%}"
    )
    assert email_rate < 0.002, differ_email[:10]
    assert phone_rate < 0.01, differ_phone[:10]
    assert all(key is None or key.startswith("+") for key in sql_phones)


def _idn_only(sql_key: str | None, library_key: str | None) -> bool:
    """The same address, the domain in Unicode (SQL) and in ASCII (the library)."""
    if sql_key is None or library_key is None:
        return False
    local, _, domain = sql_key.rpartition("@")
    try:
        return f"{local}@{domain.encode('idna').decode()}" == library_key
    except UnicodeError:
        return False
