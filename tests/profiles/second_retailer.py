"""A second retailer's landing files: the same contract (docs/contracts/sources.md), another exporter's mess.

Written apart from the demo generator, with its own noise model, so that identity resolution is tested on data
it was not tuned for:

- people across Poland, Germany, Spain, Sweden, the UK and France with Unicode-heavy names (Łukasik, Müller,
  Núñez, Åström, Nguyễn), some of whose addresses keep them (`łukasik.ania@…`), some at internationalised
  domains (`…@bücherwurm.de`);
- work addresses beside personal ones; phones in each country's own ways of writing them (`0151 23456789`,
  `+49 (0)151-2345 6789`, `512-345-678`, `07700 900123`, `06.12.34.56.78`, `0046 70 123 45 67`);
- placeholders typed to get past a form that no seed lists, in several languages (`pas.de.mail@aucun.fr`,
  `keine.email@keine.de`, `brak@brak.pl`, `sin.correo@ninguno.es`, `ingen@ingen.se`, `nomail@nomail.co.uk`),
  and placeholder phones (`0612121212`, `0101010101`, `+48 111 111 111`, `0123 456 789`) on many people's
  records;
- family tablets shared by two account holders; guest checkouts; contacts duplicated with a changed case.

`generate` writes the folder and returns the truth: for each identifiable record, its person and the canonical
identifiers it truly carries (placeholders excluded), from which the best recall any deterministic linking can
reach is computed (`ceiling_pairwise_recall`).
"""

from __future__ import annotations

import csv
import itertools
import json
import random
import string
import unicodedata
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.sources import SOURCES, SOURCES_BY_NAME

NAMES = {
    "PL": (["Anna", "Łucja", "Żaneta", "Bożena", "Paweł", "Michał", "Grzegorz", "Wojciech"],
           ["Łukasik", "Wójcik", "Kowalczyk", "Żółtowski", "Szczęsny", "Pawłowska", "Dąbrowski", "Nowak"]),
    "DE": (["Jürgen", "Björn", "Käthe", "Jörg", "Anneliese", "Uwe", "Gülay", "Sören"],
           ["Müller", "Schröder", "Weiß", "Groß", "Köhler", "Bäcker", "Öztürk", "Hoffmann"]),
    "ES": (["José", "María José", "Íñigo", "Begoña", "Ramón", "Nuria", "Agustín", "Ainhoa"],
           ["Núñez", "Peña", "Ibáñez", "Muñoz", "García", "Martínez", "Gómez", "Ordóñez"]),
    "SE": (["Åsa", "Björn", "Märta", "Örjan", "Linnéa", "Göran", "Ingrid", "Sixten"],
           ["Åström", "Öberg", "Ängström", "Bergström", "Sjögren", "Lindqvist", "Holmén", "Ek"]),
    "GB": (["Siobhán", "Niamh", "Oluwaseun", "Priya", "Gareth", "Thi Ánh", "Chloë", "Rhys"],
           ["O'Brien", "Nguyễn", "Smith-Jones", "Patel", "Davies", "Ó Súilleabháin", "Brontë", "MacDonald"]),
    "FR": (["Hélène", "François", "Anaïs", "Jérôme", "Maëlle", "Loïc", "Zoé", "Benoît"],
           ["Lefèvre", "Gauthier", "Bérénger", "Châtelet", "Dupré", "Lemaître", "Mével", "Faÿ"]),
}  # fmt: skip
# The country's mobile numbers: calling code, national significant number length, a prefix, how people write it.
PHONES = {
    "PL": ("48", 9, "5", ["{nsn:3} {nsn:3} {nsn:3}", "+48 {nsn}", "{nsn:3}-{nsn:3}-{nsn:3}", "0048{nsn}"]),
    "DE": ("49", 11, "151", ["0{nsn:4} {nsn}", "+49 (0){nsn:3}-{nsn:4} {nsn}", "+49{nsn}", "0049 {nsn}"]),
    "ES": ("34", 9, "6", ["{nsn:3} {nsn:2} {nsn:2} {nsn:2}", "+34 {nsn}", "0034{nsn}", "{nsn}"]),
    "SE": ("46", 9, "70", ["0{nsn:2}-{nsn:3} {nsn:2} {nsn:2}", "+46 {nsn}", "0046 {nsn:2} {nsn:3} {nsn}"]),
    "GB": ("44", 10, "7700", ["0{nsn:4} {nsn}", "+44 {nsn:4} {nsn}", "+44 (0){nsn}", "0044 {nsn}"]),
    "FR": ("33", 9, "6", ["0{nsn:1}.{nsn:2}.{nsn:2}.{nsn:2}.{nsn:2}", "+33 {nsn}", "0033{nsn}"]),
}  # fmt: skip
DOMAINS = ["gmail.com", "outlook.com", "web.de", "wp.pl", "orange.fr", "telia.se", "bücherwurm.de", "correo.es"]
# Made-up addresses and numbers people type to get past a form, in several languages: many variants, each typed
# by a handful of people (too few to be "hot"), none of them on seeds/blocked_identifiers.csv's exact list.
_WORDS = ["pas.de.mail", "aucun", "sansmail", "keine", "keine.email", "brak", "brak.maila", "sin.correo", "ninguno",
          "ingen", "ingenmail", "no.email", "refused", "declined", "nothanks", "asdf", "qwerty", "qwertz", "xxx",
          "aaaa", "abc", "kunde", "klient", "cliente", "kund"]  # fmt: skip
_MADE_UP = ["aucun.fr", "keine.de", "brak.pl", "ninguno.es", "ingen.se", "nomail.co.uk", "qwerty.com", "asdf.de",
            "xxx.fr", "mail.com", "kasse.de", "sklep.pl"]  # fmt: skip
PLACEHOLDER_EMAILS = sorted({f"{word}@{domain}" for word in _WORDS for domain in _MADE_UP[: 3 + len(word) % 9]})[::3]
PLACEHOLDER_PHONES = ["0612121212", "0601010101", "0606060606", "0707070707", "+48 123 123 123", "+48 111 222 333",
                      "0151 12121212", "+49 1511 1111111", "612 00 00 00", "+34 600 000 000", "070-111 11 11",
                      "07700 000000", "+44 7000 000000", "0123 456 789", "0600000001", "0611223344"]  # fmt: skip
STORES = {"FR": "FR01", "GB": "GB01"}  # stores of seeds/stores.csv; others enrol in these too
START = date(2026, 9, 1)


@dataclass
class Person:
    id: str
    country: str
    first: str
    last: str
    email: str
    phone: str  # E.164
    work_email: str | None
    account: str | None
    card: str | None
    birth: date
    cookie: str
    device: str | None = None
    ad_id: str | None = None


@dataclass
class Truth:
    person: str
    identifiers: set[str] = field(default_factory=set)  # canonical identifiers the record truly carries


@dataclass
class Generated:
    truth: dict[tuple[str, str], Truth] = field(default_factory=dict)  # (source, record id) -> truth
    records: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _local(first: str, last: str, rng: random.Random, keep_unicode: bool) -> str:
    name = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
    name = name if keep_unicode else _fold(name).replace("ł", "l").replace("ø", "o")
    return name + (str(rng.randint(1, 99)) if rng.random() < 0.5 else "")


def _email_key(email: str) -> str:
    local, domain = email.split("@")
    return f"email:{unicodedata.normalize('NFC', local).casefold()}@{domain.encode('idna').decode()}"


def _written_phone(person: Person, rng: random.Random, country: str | None = None) -> str:
    """The phone as typed on a record of `country` (the person's own by default): in a national format only
    when the record's country is the person's, as a reader needs (the pipeline reads FR where none is said)."""
    code, _, _, styles = PHONES[person.country]
    nsn = person.phone[1 + len(code) :]
    if (country or person.country) != person.country:
        styles = [style for style in styles if style.startswith(("+", "00"))]
    style, out, position = rng.choice(styles), [], 0
    for literal, name, spec, _ in string.Formatter().parse(style):
        out.append(literal)
        if name == "nsn":
            width = int(spec) if spec else len(nsn) - position
            out.append(nsn[position : position + width])
            position += width
    return "".join(out)


def people(count: int, rng: random.Random) -> list[Person]:
    out = []
    for n in range(count):
        country = rng.choice(list(NAMES))
        first, last = rng.choice(NAMES[country][0]), rng.choice(NAMES[country][1])
        code, length, prefix, _ = PHONES[country]
        nsn = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix)))
        unicode_local = rng.random() < 0.35
        email = f"{_local(first, last, rng, unicode_local)}{n}@{rng.choice(DOMAINS)}"
        work = f"{_fold(first[0]).lower()}.{_fold(last).lower().replace(' ', '')}@firma{n % 97}.eu"
        out.append(Person(
            id=f"Q{n:06d}", country=country, first=first, last=last, email=email, phone=f"+{code}{nsn}",
            work_email=work if rng.random() < 0.3 else None,
            account=f"U-{7_000_000 + n}" if rng.random() < 0.6 else None,
            card=f"LC{90_000_000 + n}" if rng.random() < 0.45 else None,
            birth=date(1950, 1, 1) + timedelta(days=rng.randint(0, 18_000)),
            cookie=str(uuid.UUID(int=rng.getrandbits(128))),
        ))  # fmt: skip
    holders = [p for p in out if p.account]
    for person in holders:
        if rng.random() < 0.5:
            person.device = str(uuid.UUID(int=rng.getrandbits(128))).upper()
            person.ad_id = str(uuid.UUID(int=rng.getrandbits(128)))
    with_device = [p for p in holders if p.device]
    for a, b in zip(with_device[::12], with_device[1::12], strict=False):  # a family's shared tablet
        b.device, b.ad_id = a.device, a.ad_id
    return out


class Landing:
    def __init__(self, out: Path, days: int) -> None:
        self.out, self.days = out, days
        self.rows: dict[tuple[str, int], list] = defaultdict(list)
        self.generated = Generated()

    def add(self, source: str, day: int, row, record_id: str, person: Person | None, identifiers: set[str]) -> None:
        self.rows[(source, day)].append(row)
        self.generated.records[source] += 1
        if person is not None and identifiers:
            self.generated.truth[(source, record_id)] = Truth(person.id, identifiers)

    def write(self) -> None:
        for source in SOURCES:
            (self.out / source.name).mkdir(parents=True, exist_ok=True)
        (self.out / "_truth").mkdir(parents=True, exist_ok=True)
        for (source_name, day), rows in sorted(self.rows.items()):
            source = SOURCES_BY_NAME[source_name]
            stamp = (START + timedelta(days=day)).strftime("%Y%m%d")
            folder = self.out / source_name / stamp[:4] / stamp[4:6]  # this exporter nests by month
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"export-{stamp}.{source.extension}"
            if source.extension == "csv":
                with path.open("w", encoding="utf-8", newline="") as handle:
                    writer = csv.writer(handle, quoting=csv.QUOTE_ALL)  # this exporter quotes every field
                    writer.writerow(source.column_names)
                    writer.writerows(rows)
            elif source.extension == "jsonl":
                path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), "utf-8")
            else:
                from orchestration.demo_data.writer import ORDERS_SCHEMA  # the contract's Arrow types

                pq.write_table(pa.Table.from_pylist(rows, schema=ORDERS_SCHEMA), path)
        with (self.out / "_truth" / "identity.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["source", "record_id", "person_id"])
            for (source, record_id), truth in sorted(self.generated.truth.items()):
                writer.writerow([source, record_id, truth.person])


def _moment(rng: random.Random, day: int) -> str:
    at = datetime.combine(START + timedelta(days=day), datetime.min.time(), UTC) + timedelta(
        seconds=rng.randint(7 * 3600, 22 * 3600)
    )
    return at.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def generate(out: Path, count: int = 1500, days: int = 4, seed: int = 7) -> Generated:
    rng = random.Random(f"second-retailer:{seed}")
    landing = Landing(out, days)
    ids = itertools.count(1)
    for person in people(count, rng):
        _person_records(landing, person, rng, days, ids)
    landing.write()
    return landing.generated


def _email_as_typed(email: str, rng: random.Random) -> str:
    roll = rng.random()
    return email.upper() if roll < 0.1 else f" {email.capitalize()} " if roll < 0.2 else email


def _person_records(landing: Landing, p: Person, rng: random.Random, days: int, ids) -> None:
    email_id, phone_id = _email_key(p.email), f"phone:{p.phone}"
    work_id = _email_key(p.work_email) if p.work_email else None
    day = lambda: rng.randrange(days)  # noqa: E731

    def junk_or(value_id: str | None, value: str, placeholders: list[str], rate: float) -> tuple[str, set[str]]:
        if rng.random() < rate:
            return rng.choice(placeholders), set()
        return value, {value_id} if value_id else set()

    for n in range(rng.choice([1, 1, 2, 3])):  # CRM contacts, duplicated by reps
        contact = f"K{next(ids):07d}"
        email, e_ids = junk_or(email_id, _email_as_typed(p.email, rng), PLACEHOLDER_EMAILS, 0.12)
        phone, f_ids = junk_or(phone_id, _written_phone(p, rng), PLACEHOLDER_PHONES, 0.12)
        first = p.first.upper() if n == 1 else p.first
        at = _moment(rng, day())
        landing.add("crm_contacts", day(), [contact, first, p.last, email, phone, "", "", "", "", p.country,
                                            rng.choice(["lead", "customer", "subscriber"]), at, at],
                    contact, p, {f"crm:{contact}", *e_ids, *f_ids})  # fmt: skip
    if p.card:
        email, e_ids = junk_or(email_id, p.email, PLACEHOLDER_EMAILS, 0.15)
        store = STORES.get(p.country, "FR01")
        phone, f_ids = junk_or(phone_id, _written_phone(p, rng, store[:2]), PLACEHOLDER_PHONES, 0.15)
        landing.add("loyalty_members", day(), [p.card, email, phone, p.first, p.last, p.birth.isoformat(), "",
                                               STORES.get(p.country, "FR01"), _moment(rng, day())],
                    p.card, p, {f"card:{p.card}", *e_ids, *f_ids})  # fmt: skip
        for _ in range(rng.randint(0, 3)):
            transaction = f"PT{next(ids):08d}"
            landing.add("pos_transactions", day(), [transaction, STORES.get(p.country, "FR01"), p.card,
                                                    _moment(rng, day()), "12.30", "EUR", "2", "card"],
                        transaction, p, {f"card:{p.card}"})  # fmt: skip
    for _ in range(rng.choice([0, 1, 1, 2])):  # orders, some with the work address, guests without an account
        order = f"W{next(ids):08d}"
        use_work = p.work_email and rng.random() < 0.4
        email, e_ids = (p.work_email, {work_id}) if use_work else junk_or(email_id, p.email, PLACEHOLDER_EMAILS, 0.05)
        ids_of = {*e_ids, f"phone:{p.phone}", *({f"user:{p.account}"} if p.account else set())}
        landing.add("orders", day(), {
            "order_id": order, "customer_account_id": p.account, "email": email, "phone": _written_phone(p, rng),
            "billing_first_name": p.first, "billing_last_name": p.last, "billing_street": "1 Rynek",
            "billing_city": "Kraków", "billing_postal_code": "31-000", "billing_country": p.country,
            "currency": "EUR", "subtotal": Decimal("20.00"), "discount": Decimal("0.00"),
            "shipping": Decimal("4.90"), "total": Decimal("24.90"), "status": "paid",
            "created_at": datetime.fromisoformat(_moment(rng, day())),
            "line_items": [{"sku": "SKU-1", "product_name": "Kubek", "category": "Dom", "quantity": 1,
                            "unit_price": Decimal("20.00")}],
        }, order, p, ids_of)  # fmt: skip
    if p.account:  # the website: the cookie identified as the account, with the email as a trait
        for kind in ("identify", "page", "track"):
            message_id = str(uuid.UUID(int=rng.getrandbits(128)))
            message = {"type": kind, "messageId": message_id, "anonymousId": p.cookie, "userId": p.account,
                       "timestamp": _moment(rng, day()), "context": {"page": {"path": "/"}}}  # fmt: skip
            if kind == "identify":
                message["traits"] = {"email": _email_as_typed(p.email, rng), "firstName": p.first}
            if kind == "track":
                message["event"] = "Product Viewed"
            carried = {f"cookie:{p.cookie}", f"user:{p.account}"} | ({email_id} if kind == "identify" else set())
            landing.add("web_events", day(), message, message_id, p, carried)
    if p.device:  # the app, on a device a family may share
        message_id = str(uuid.UUID(int=rng.getrandbits(128)))
        message = {"type": "identify", "messageId": message_id, "anonymousId": f"app-{p.id}", "userId": p.account,
                   "timestamp": _moment(rng, day()), "traits": {"email": p.email},
                   "context": {"device": {"id": p.device, "advertisingId": p.ad_id, "type": "android"},
                               "app": {"version": "3.1"}}}  # fmt: skip
        landing.add("app_events", day(), message, message_id, p, {f"user:{p.account}", email_id, f"app:{p.id}"})
    for _ in range(rng.randint(0, 4)):  # the ESP's webhook, on the personal address only
        event_id = f"sg-{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}"
        landing.add("email_events", day(), {"sg_event_id": event_id, "email": p.email, "event": "delivered",
                                            "timestamp": 1_788_000_000 + rng.randint(0, 400_000),
                                            "campaign_id": "C-1"}, event_id, p, {email_id})  # fmt: skip
    if rng.random() < 0.3:
        ticket = f"Z{next(ids):07d}"
        landing.add("support_tickets", day(), [ticket, p.email, _written_phone(p, rng, "FR"), f"{p.first} {p.last}",
                                               "Zwrot", "email", "open", "", _moment(rng, day()), ""],
                    ticket, p, {email_id, phone_id})  # fmt: skip
    consent_id = f"cs-{next(ids)}"
    subject = {"email": p.email} if not p.account or rng.random() < 0.5 else {"user_id": p.account}
    landing.add("consent_events", day(), {"event_id": consent_id, "subject": subject, "purpose": "email_marketing",
                                          "status": rng.choice(["granted", "denied"]), "source": "preference_center",
                                          "occurred_at": _moment(rng, day())},
                consent_id, p, {email_id} if "email" in subject else {f"user:{p.account}"})  # fmt: skip


def ceiling_pairwise_recall(truth: dict[tuple[str, str], Truth]) -> float:
    """The pairwise recall of linking every record of each person to every other through the identifiers they
    truly share (and nothing else): the best any deterministic resolver can reach on this data."""
    by_person: dict[str, list[set[str]]] = defaultdict(list)
    for record in truth.values():
        by_person[record.person].append(record.identifiers)
    reachable = total = 0
    for records in by_person.values():
        parent = list(range(len(records)))
        holder: dict[str, int] = {}
        for index, identifiers in enumerate(records):
            for identifier in identifiers:
                if identifier in holder:
                    parent[_root(parent, index)] = _root(parent, holder[identifier])
                else:
                    holder[identifier] = index
        sizes: dict[int, int] = defaultdict(int)
        for index in range(len(records)):
            sizes[_root(parent, index)] += 1
        reachable += sum(size * (size - 1) // 2 for size in sizes.values())
        total += len(records) * (len(records) - 1) // 2
    return reachable / total if total else 1.0


def _root(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i
