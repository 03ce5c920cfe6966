"""Who the demo retailer's customers are, and how their details get written down by different systems.

A person is drawn from a seeded random generator only, so the same seed and index give the same person on any
machine. Writing a detail down (an email typed at a till, a phone in a CRM) adds the noise real exports have:
case, stray whitespace, national or international phone formats, typos in names.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from dataclasses import dataclass, field

COUNTRIES = {
    # code: (weight, calling code, currency, cities with postal codes)
    "FR": (35, "33", "EUR", [("Paris", "75011"), ("Lyon", "69003"), ("Lille", "59000"), ("Nantes", "44000")]),
    "GB": (25, "44", "GBP", [("London", "SW1A 1AA"), ("Leeds", "LS1 4AP"), ("Bristol", "BS1 5TR")]),
    "US": (20, "1", "USD", [("San Francisco", "94103"), ("Boston", "02108"), ("Austin", "78701")]),
    "DE": (10, "49", "EUR", [("Berlin", "10115"), ("München", "80331"), ("Köln", "50667")]),
    "ES": (10, "34", "EUR", [("Madrid", "28013"), ("Sevilla", "41001"), ("Valencia", "46001")]),
}
FIRST_NAMES = {
    "FR": ["Éloïse", "Hélène", "François", "Jérôme", "Zoé", "Léa", "Chloé", "Noémie", "Lucas", "Théo", "Camille"],
    "GB": ["Oliver", "Amelia", "Harry", "Isla", "George", "Sophie", "Jack", "Emily", "Charlie", "Grace"],
    "US": ["James", "Olivia", "Liam", "Emma", "Noah", "Ava", "Mason", "Mia", "Ethan", "Harper"],
    "DE": ["Jürgen", "Lena", "Lukas", "Anna", "Jonas", "Müge", "Felix", "Marie", "Maximilian"],
    "ES": ["José", "María", "Sofía", "Álvaro", "Lucía", "Martín", "Inés", "Raúl", "Paula"],
}
LAST_NAMES = {
    "FR": ["Martin", "Dubois", "Lefèvre", "Moreau", "Girard", "Bonnet", "Faure", "Rousseau", "Mercier"],
    "GB": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "O'Brien", "Evans", "Thomas"],
    "US": ["Johnson", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Anderson", "Lee", "Walker"],
    "DE": ["Müller", "Schmidt", "Schneider", "Fischer", "Weiß", "Schäfer", "Koch", "Bauer"],
    "ES": ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez"],
}
STREETS = ["High Street", "Rue de la Paix", "Main St", "Hauptstraße", "Calle Mayor", "Station Road", "Oak Avenue"]
EMAIL_DOMAINS = ["gmail.com", "yahoo.fr", "outlook.com", "hotmail.co.uk", "gmx.de", "icloud.com", "orange.fr"]
WORK_DOMAINS = ["acme-corp.com", "globex.io", "initech.net", "umbrella.co"]
# The retailer's stores, two per country (seeds/stores.csv is the same list, as the pipeline's lookup table).
STORES = {country: [f"{country}{number:02d}" for number in (1, 2)] for country in COUNTRIES}
JUNK_EMAILS = ["test@test.com", "n/a", "none@none.com", "noemail@shop.example", "null"]
JUNK_PHONES = ["0000000000", "n/a", "123", "1111111111"]
OPTED_OUT_ADVERTISING_ID = "00000000-0000-0000-0000-000000000000"


def kiosk_email(store_id: str) -> str:
    """The email a store's sign-up kiosk fills in when a shopper gives none: one value shared by many people."""
    return f"kiosk.{store_id.lower()}@shop.example"


@dataclass
class Person:
    """One real person, with what each of the retailer's systems may learn about them.

    Flags say which channels the person uses; they are the ground truth the pipeline has to rediscover.
    """

    index: int
    person_id: str
    country: str
    first_name: str
    last_name: str
    city: str
    postal_code: str
    street: str
    birth_date: str
    email: str | None
    phone_nsn: str | None  # national significant number: digits, without trunk prefix or country code
    second_email: str | None  # a work address, linked to the person only through their phone
    account_id: str | None
    cookies: list[str] = field(default_factory=list)
    device_id: str | None = None
    advertising_id: str | None = None
    device_type: str | None = None
    loyalty_card: str | None = None
    home_store: str | None = None
    is_in_crm: bool = False
    has_crm_duplicate: bool = False
    is_subscriber: bool = False
    visit_rate: float = 0.0
    order_rate: float = 0.0
    store_rate: float = 0.0
    churn_day: int | None = None
    household_email: str | None = None  # shared with a family member who holds their own account

    @property
    def currency(self) -> str:
        return COUNTRIES[self.country][2]

    @property
    def calling_code(self) -> str:
        return COUNTRIES[self.country][1]

    @property
    def is_online(self) -> bool:
        return bool(self.cookies)

    @property
    def is_known_online(self) -> bool:
        """Whether the person ever tells the website who they are (logs in or identifies by email)."""
        return self.account_id is not None or (self.is_online and self.is_subscriber)


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.replace("ß", "ss"))
    return folded.encode("ascii", "ignore").decode().replace("'", "")


def make_person(rng: random.Random, index: int, days: int) -> Person:
    codes = list(COUNTRIES)
    country = rng.choices(codes, weights=[COUNTRIES[c][0] for c in codes])[0]
    first, last = rng.choice(FIRST_NAMES[country]), rng.choice(LAST_NAMES[country])
    city, postal = rng.choice(COUNTRIES[country][3])
    local = f"{_ascii(first)}.{_ascii(last)}".lower().replace(" ", "")
    email = f"{local}{rng.randrange(1, 10_000)}@{rng.choice(EMAIL_DOMAINS)}" if rng.random() < 0.9 else None
    phone = _national_number(rng, country) if rng.random() < 0.65 else None
    second = (
        f"{local[0]}.{_ascii(last).lower()}{index}@{rng.choice(WORK_DOMAINS)}"
        if phone and rng.random() < 0.12
        else None
    )
    person = Person(
        index=index,
        person_id=f"P{index:08d}",
        country=country,
        first_name=first,
        last_name=last,
        city=city,
        postal_code=postal,
        street=f"{rng.randrange(1, 200)} {rng.choice(STREETS)}",
        birth_date=f"{rng.randrange(1950, 2006)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        email=email,
        phone_nsn=phone,
        second_email=second,
        account_id=None,
    )
    online = rng.random() < 0.75
    if online:
        person.visit_rate = rng.choice([0.03, 0.08, 0.15, 0.3])
        if email and rng.random() < 0.45:
            person.account_id = f"U-{100000 + index}"
            person.order_rate = rng.choice([0.01, 0.03, 0.08])
        elif email and rng.random() < 0.15:
            person.order_rate = 0.01  # guest checkouts
        known = person.account_id is not None
        person.cookies = [new_uuid(rng) for _ in range(rng.choice([1, 1, 2, 3]) if known else 1)]
        if known and rng.random() < 0.35:
            person.device_id = new_uuid(rng)
            person.device_type = rng.choice(["ios", "android"])
            person.advertising_id = OPTED_OUT_ADVERTISING_ID if rng.random() < 0.3 else new_uuid(rng)
    if rng.random() < (0.3 if online else 0.8):
        person.home_store = rng.choice(STORES[country])
        person.store_rate = rng.choice([0.02, 0.05, 0.1])
        if (email or phone) and rng.random() < 0.6:
            person.loyalty_card = f"LC{7_000_000_000 + index * 7:010d}"
    person.is_subscriber = email is not None and rng.random() < 0.55
    person.is_in_crm = (email is not None or phone is not None) and (
        person.account_id is not None or person.loyalty_card is not None or rng.random() < 0.25
    )
    person.has_crm_duplicate = person.is_in_crm and rng.random() < 0.1
    if rng.random() < 0.3:
        person.churn_day = rng.randrange(0, max(days, 1))
    return person


def _national_number(rng: random.Random, country: str) -> str:
    digits = "".join(str(rng.randrange(10)) for _ in range(8))
    return {
        "FR": rng.choice("67") + digits,
        "GB": "7" + rng.choice("45789") + digits,
        "US": rng.choice(["415", "617", "512", "212"]) + digits[:7],
        "DE": "15" + rng.choice("1279") + digits,
        "ES": "6" + digits,
    }[country]


def format_phone(rng: random.Random, person: Person, international: bool = False) -> str:
    """The person's phone as some system typed it: national with trunk 0, `+`, `00`, spaces, dots, brackets.

    `international`: for systems that know no country of their own (a web form, a help desk, a consent
    manager), which store numbers with their country code.
    """
    nsn, cc = person.phone_nsn or "", person.calling_code
    if person.country == "US":
        area, mid, end = nsn[:3], nsn[3:6], nsn[6:]
        styles = [f"({area}) {mid}-{end}", f"{area}-{mid}-{end}", f"+1 {area} {mid} {end}", f"{area}.{mid}.{end}"]
    elif person.country == "FR":
        pairs = " ".join(nsn[i : i + 2] for i in range(1, 9, 2))
        styles = [
            f"0{nsn[0]} {pairs}",
            f"0{nsn}",
            f"+33 {nsn[0]} {pairs}",
            f"0033{nsn}",
            f"0{nsn[0]}.{pairs.replace(' ', '.')}",
        ]
    else:
        styles = [f"0{nsn[:4]} {nsn[4:]}", f"+{cc} {nsn[:4]} {nsn[4:]}", f"00{cc}{nsn}", f"+{cc}{nsn}"]
        if person.country == "ES":  # Spain has no trunk prefix
            styles = [f"{nsn[:3]} {nsn[3:5]} {nsn[5:7]} {nsn[7:]}", f"+34 {nsn}", f"0034{nsn}"]
    if international:
        styles = [style for style in styles if style.startswith(("+", "00"))]
    return rng.choice(styles)


def write_email(rng: random.Random, email: str) -> str:
    """An email as typed into a form: mostly as is, sometimes in capitals or with stray whitespace."""
    roll = rng.random()
    if roll < 0.08:
        return email.upper()
    if roll < 0.14:
        return f" {email} "
    if roll < 0.18:
        return email.capitalize()
    return email


def write_name(rng: random.Random, name: str) -> str:
    roll = rng.random()
    if roll < 0.05:
        return name.upper()
    if roll < 0.08:
        return name.lower()
    if roll < 0.1:
        return f"{name} "
    return name


def typo(rng: random.Random, text: str) -> str:
    """One slip of the keyboard: a swapped, doubled or dropped letter."""
    if len(text) < 4:
        return text + text[-1]
    i = rng.randrange(1, len(text) - 2)
    kind = rng.randrange(3)
    if kind == 0:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == 1:
        return text[:i] + text[i] + text[i:]
    return text[:i] + text[i + 1 :]
