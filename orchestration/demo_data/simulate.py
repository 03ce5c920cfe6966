"""What the demo retailer's customers do, day by day, as each source system records it.

`simulate_household` turns one or two people (a household may share an email and a tablet) into records for
every source, each tagged with the day file it lands in and the person it truly belongs to. Behaviour follows a
retailer's shape: most visitors browse anonymously, a minority buys, some shop only in stores, email engagement
decays with every campaign, and some people churn.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .people import (
    JUNK_EMAILS,
    JUNK_PHONES,
    Person,
    format_phone,
    kiosk_email,
    new_uuid,
    typo,
    write_email,
    write_name,
)

CAMPAIGN_EVERY_DAYS = 3
PRODUCTS = [
    ("SKU-1001", "Linen shirt", "apparel", "39.90"),
    ("SKU-1002", "Denim jacket", "apparel", "89.00"),
    ("SKU-2001", "Running shoes", "footwear", "119.00"),
    ("SKU-2002", "Leather boots", "footwear", "159.00"),
    ("SKU-3001", "Canvas tote", "accessories", "24.50"),
    ("SKU-3002", "Wool scarf", "accessories", "34.00"),
    ("SKU-4001", "Scented candle", "home", "18.90"),
    ("SKU-4002", "Ceramic mug", "home", "12.00"),
    ("SKU-5001", "Face serum", "beauty", "42.00"),
]
TICKET_SUBJECTS = [
    "Where is my order?",
    "Refund request",
    "Wrong size, exchange please",
    'Item arrived damaged, "urgent"',
    "Cannot log in, password reset",
    "Loyalty points missing",
]


@dataclass(frozen=True)
class Record:
    """One record for one day's file of one source; `person_id` is None for records nobody can be tied to."""

    source: str
    day: int
    values: dict
    record_id: str | None
    person_id: str | None


Emit = Callable[[Record], None]


def iso(moment: datetime, style: int = 0) -> str:
    """Timestamps as different systems write them: with `Z`, with a `+01:00` offset, or with none (UTC)."""
    if style == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if style == 1:
        return (moment + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+01:00")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class Simulation:
    """Everything that happens to the people of one household over the simulated days."""

    def __init__(self, rng: random.Random, start: datetime, days: int, emit: Emit) -> None:
        self.rng, self.start, self.days, self.emit = rng, start, days, emit
        self.enrolled: set[str] = set()
        self.bannered: set[str] = set()

    # -- helpers -------------------------------------------------------------------------------------------

    def moment(self, day: int, earliest_hour: int = 7) -> datetime:
        seconds = self.rng.randrange(earliest_hour * 3600, 23 * 3600)
        return self.start + timedelta(days=day, seconds=seconds, microseconds=self.rng.randrange(1_000_000))

    def record(self, source: str, day: int, values: dict, record_id: str | None, person: Person | None) -> None:
        self.emit(Record(source, day, values, record_id, person.person_id if person else None))

    def active(self, person: Person, day: int, rate: float) -> bool:
        if person.churn_day is not None and day >= person.churn_day:
            rate *= 0.05
        return self.rng.random() < rate

    def phone_or_none(self, person: Person, probability: float = 0.8, international: bool = False) -> str | None:
        if person.phone_nsn and self.rng.random() < probability:
            return format_phone(self.rng, person, international)
        return None

    # -- the household -------------------------------------------------------------------------------------

    def run(self, people: list[Person]) -> None:
        family_tablet = new_uuid(self.rng) if len(people) == 2 and all(p.account_id for p in people) else None
        for person in people:
            self.crm(person)
            if person.is_subscriber:
                self.subscribe(person)
            unsubscribed = False
            seen_cookies: set[str] = set()
            for day in range(self.days):
                if person.is_online and self.active(person, day, person.visit_rate):
                    cookie = family_tablet if family_tablet and self.rng.random() < 0.2 else None
                    self.web_session(person, day, cookie or self.rng.choice(person.cookies), seen_cookies)
                if person.device_id and self.active(person, day, person.visit_rate):
                    self.app_session(person, day, first=day == 0)
                if person.home_store and self.active(person, day, person.store_rate):
                    self.store_visit(person, day)
                if person.is_subscriber and not unsubscribed and day % CAMPAIGN_EVERY_DAYS == 0:
                    unsubscribed = self.campaign(person, day)
                if self.rng.random() < 0.0015:
                    self.support_ticket(person, day)
                if self.rng.random() < 0.0002:
                    self.erasure_request(person, day)

    # -- sources -------------------------------------------------------------------------------------------

    def crm(self, person: Person) -> None:
        if not person.is_in_crm:
            return
        rng = self.rng
        backfilled = rng.random() < 0.6
        day = 0 if backfilled else rng.randrange(self.days)
        created = self.start - timedelta(days=rng.randrange(1, 700)) if backfilled else self.moment(day)
        stage = "customer" if person.account_id or person.loyalty_card else rng.choice(["subscriber", "lead", "other"])
        contact = self.contact_values(person, f"C{person.index:08d}", created, stage)
        self.record("crm_contacts", day, contact, contact["contact_id"], person)
        if person.has_crm_duplicate:
            duplicate = self.contact_values(person, f"C{person.index:08d}-D", created + timedelta(days=3), stage)
            duplicate["last_name"] = typo(rng, person.last_name)
            if person.phone_nsn and person.email and rng.random() < 0.5:
                # a mistyped email: only the phone still ties this duplicate to its person
                duplicate["email"] = typo(rng, person.email)
                duplicate["phone"] = format_phone(rng, person)
            self.record("crm_contacts", day, duplicate, duplicate["contact_id"], person)
        if rng.random() < 0.15 and day + 1 < self.days:  # a later export carries a newer version
            later = rng.randrange(day + 1, self.days)
            contact = dict(contact, lifecycle_stage="customer", updated_at=iso(self.moment(later), 2))
            self.record("crm_contacts", later, contact, None, person)

    def contact_values(self, person: Person, contact_id: str, created: datetime, stage: str) -> dict:
        rng = self.rng
        phone = self.phone_or_none(person, 0.7)
        if phone is None and rng.random() < 0.05:
            phone = rng.choice(JUNK_PHONES)
        return {
            "contact_id": contact_id,
            "first_name": write_name(rng, person.first_name),
            "last_name": write_name(rng, person.last_name),
            "email": write_email(rng, person.email) if person.email else "",
            "phone": phone or "",
            "company": rng.choice(["", "", "Acme Corp", "Globex"]),
            "street": person.street,
            "city": person.city,
            "postal_code": person.postal_code,
            "country": person.country if rng.random() < 0.85 else "",
            "lifecycle_stage": stage,
            "created_at": iso(created, 2),
            "updated_at": iso(created, 2),
        }

    def subscribe(self, person: Person) -> None:
        day = self.rng.randrange(self.days)
        subject = {"email": write_email(self.rng, person.email or "")}
        if person.account_id:
            subject["user_id"] = person.account_id
        self.consent(person, day, subject, "email_marketing", "granted", self.rng.choice(["preference_center", "crm"]))

    def consent(self, person: Person, day: int, subject: dict, purpose: str, status: str, origin: str) -> None:
        event_id = new_uuid(self.rng)
        values = {
            "event_id": event_id,
            "subject": subject,
            "purpose": purpose,
            "status": status,
            "source": origin,
            "occurred_at": iso(self.moment(day), 0),
        }
        self.record("consent_events", day, values, event_id, person)

    def segment_message(
        self, kind: str, at: datetime, anonymous_id: str, user_id: str | None, context: dict, **fields
    ) -> dict:
        """One Segment Spec call, with the ids and times a Segment library would add."""
        sent = at + timedelta(milliseconds=self.rng.randrange(5, 900))
        message = {
            "type": kind,
            "messageId": new_uuid(self.rng),
            "anonymousId": anonymous_id,
            "userId": user_id,
            "timestamp": iso(at),
            "sentAt": iso(sent),
            "receivedAt": iso(sent + timedelta(milliseconds=self.rng.randrange(10, 400))),
        }
        message.update(fields, context=context)
        return message

    def web_session(self, person: Person, day: int, cookie: str, seen_cookies: set[str]) -> None:
        rng = self.rng
        moment = self.moment(day)
        context = {
            "ip": f"81.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
            "userAgent": rng.choice(
                ["Mozilla/5.0 (Macintosh)", "Mozilla/5.0 (Windows NT 10.0)", "Mozilla/5.0 (iPhone)"]
            ),
            "page": {"url": "https://shop.example/", "path": "/", "referrer": "", "title": "Shop"},
        }
        if rng.random() < 0.3:
            context["campaign"] = {
                "source": rng.choice(["google", "newsletter", "facebook"]),
                "medium": "cpc",
                "name": "autumn",
            }
        if person.is_subscriber and rng.random() < 0.2:
            context["campaign"] = {
                "source": "newsletter",
                "medium": "email",
                "name": f"C{day - day % CAMPAIGN_EVERY_DAYS:03d}",
            }
        if cookie not in self.bannered:
            self.bannered.add(cookie)
            self.cookie_banner(person, day, cookie)
        user_id = None
        messages: list[dict] = []

        def send(kind: str, at: datetime, page_context: dict = context, **fields) -> None:
            messages.append(self.segment_message(kind, at, cookie, user_id, page_context, **fields))

        identifies = person.is_known_online and (cookie not in seen_cookies or rng.random() < 0.25)
        if identifies:
            seen_cookies.add(cookie)
            user_id = person.account_id
            if user_id and not seen_cookies - {cookie} and rng.random() < 0.15:  # signs up on this visit
                send("track", moment, event="Signed Up", properties={})
                send("alias", moment, previousId=cookie)
            email = person.household_email or person.email or ""
            traits = {"email": write_email(rng, email), "firstName": person.first_name, "lastName": person.last_name}
            if person.phone_nsn and rng.random() < 0.3:
                traits["phone"] = format_phone(rng, person, international=True)
            if user_id:
                send("track", moment, event="Logged In", properties={})
            send("identify", moment, traits=traits)
        for product in rng.sample(PRODUCTS, rng.randrange(1, 4)):
            moment += timedelta(seconds=rng.randrange(10, 300))
            path = f"/p/{product[0].lower()}"
            page = dict(context["page"], path=path, url=f"https://shop.example{path}", title=product[1])
            send("page", moment, dict(context, page=page), name=product[1], properties={"path": path})
            send(
                "track",
                moment,
                dict(context, page=page),
                event="Product Viewed",
                properties=_product_properties(product),
            )
        if rng.random() < 0.25:
            product = rng.choice(PRODUCTS)
            send("track", moment, event="Product Added", properties=_product_properties(product))
            if rng.random() < 0.5:
                send("track", moment, event="Checkout Started", properties={"currency": person.currency})
        if person.order_rate and self.active(person, day, person.order_rate * 6):
            order = self.order(person, day, moment)
            properties = {"order_id": order["order_id"], "total": float(order["total"]), "currency": order["currency"]}
            send("track", moment, event="Order Completed", properties=properties)
        for message in messages:
            if message["userId"] is None:
                del message["userId"]
            self.record("web_events", day, message, message["messageId"], person)

    def cookie_banner(self, person: Person, day: int, cookie: str) -> None:
        """The consent banner on a browser's first visit; some later withdraw advertising consent."""
        accepts_all = self.rng.random() < 0.6
        for purpose in ("analytics", "advertising", "personalization"):
            status = "granted" if accepts_all or (purpose == "analytics" and self.rng.random() < 0.5) else "denied"
            self.consent(person, day, {"anonymous_id": cookie}, purpose, status, "web_banner")
        if accepts_all and self.rng.random() < 0.05 and day + 1 < self.days:
            later = self.rng.randrange(day + 1, self.days)
            subject = {"anonymous_id": cookie, **({"user_id": person.account_id} if person.account_id else {})}
            self.consent(person, later, subject, "advertising", "withdrawn", "preference_center")

    def app_session(self, person: Person, day: int, first: bool) -> None:
        rng = self.rng
        moment = self.moment(day)
        context = {
            "device": {"id": person.device_id, "advertisingId": person.advertising_id, "type": person.device_type},
            "app": {"name": "Shop", "version": rng.choice(["4.2.0", "4.3.1"])},
            "ip": f"90.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
        }
        anonymous_id = f"app-{person.device_id}"
        messages: list[dict] = []

        def send(kind: str, at: datetime, **fields) -> None:
            messages.append(self.segment_message(kind, at, anonymous_id, person.account_id, context, **fields))

        if first or rng.random() < 0.2:
            send("identify", moment, traits={"email": write_email(rng, person.email or "")})
        for product in rng.sample(PRODUCTS, rng.randrange(1, 3)):
            moment += timedelta(seconds=rng.randrange(5, 120))
            send("screen", moment, name="Product", properties={"sku": product[0]})
            send("track", moment, event="Product Viewed", properties=_product_properties(product))
        for message in messages:
            self.record("app_events", day, message, message["messageId"], person)

    def order(self, person: Person, day: int, moment: datetime) -> dict:
        rng = self.rng
        items = []
        for product in rng.sample(PRODUCTS, rng.randrange(1, 4)):
            items.append(
                {
                    "sku": product[0],
                    "product_name": product[1],
                    "category": product[2],
                    "quantity": rng.randrange(1, 3),
                    "unit_price": product[3],
                }
            )
        subtotal = sum(_cents(item["unit_price"]) * item["quantity"] for item in items)
        discount = subtotal // 10 if rng.random() < 0.2 else 0
        shipping = 0 if subtotal > 5000 else 490
        order_id = f"O-{person.index:08d}-{day:04d}-{rng.randrange(10_000):04d}"
        guest = person.account_id is None or rng.random() < 0.1
        order = {
            "order_id": order_id,
            "customer_account_id": None if guest else person.account_id,
            "email": write_email(rng, person.household_email or person.email or ""),
            "phone": self.phone_or_none(person, 0.6),
            "billing_first_name": write_name(rng, person.first_name),
            "billing_last_name": typo(rng, person.last_name) if rng.random() < 0.03 else person.last_name,
            "billing_street": person.street,
            "billing_city": person.city,
            "billing_postal_code": person.postal_code,
            "billing_country": person.country,
            "currency": person.currency,
            "subtotal": _money(subtotal),
            "discount": _money(discount),
            "shipping": _money(shipping),
            "total": _money(subtotal - discount + shipping),
            "status": rng.choices(["paid", "refunded", "cancelled"], weights=[90, 6, 4])[0],
            "created_at": moment,
            "line_items": items,
        }
        self.record("orders", day, order, order_id, person)
        return order

    def store_visit(self, person: Person, day: int) -> None:
        rng = self.rng
        card = person.loyalty_card
        if card and card not in self.enrolled:
            self.enrolled.add(card)
            self.enrol(person, day)
        moment = self.moment(day, earliest_hour=9)
        shows_card = card is not None and rng.random() < 0.8
        transaction_id = f"T-{person.home_store}-{person.index:08d}-{day:04d}"
        values = {
            "transaction_id": transaction_id,
            "store_id": person.home_store,
            "card_number": card if shows_card else "",
            "occurred_at": iso(moment, 2),
            "total_amount": _money(rng.randrange(500, 25_000)),
            "currency": person.currency,
            "item_count": rng.randrange(1, 8),
            "payment_method": rng.choices(["card", "cash", "gift_card"], weights=[70, 25, 5])[0],
        }
        self.record("pos_transactions", day, values, transaction_id if shows_card else None, person)
        if shows_card and person.phone_nsn and rng.random() < 0.05:
            subject = {"phone": format_phone(rng, person, international=True)}
            self.consent(person, day, subject, "sms_marketing", rng.choice(["granted", "denied"]), "pos")

    def enrol(self, person: Person, day: int) -> None:
        rng = self.rng
        enrolled = self.start - timedelta(days=rng.randrange(1, 900)) if day == 0 else self.moment(day)
        email = person.second_email or person.email
        if rng.random() < 0.04 and person.phone_nsn:
            email = kiosk_email(person.home_store or "S00")  # the kiosk filled in its own address
        values = {
            "card_number": person.loyalty_card,
            "email": write_email(rng, email) if email else "",
            "phone": format_phone(rng, person) if person.phone_nsn else "",
            "first_name": write_name(rng, person.first_name),
            "last_name": write_name(rng, person.last_name),
            "birth_date": person.birth_date,
            "postal_code": person.postal_code,
            "store_id": person.home_store,
            "enrolled_at": iso(enrolled, 2),
        }
        self.record("loyalty_members", day, values, person.loyalty_card, person)

    def campaign(self, person: Person, day: int) -> bool:
        """One campaign email to a subscriber; returns whether they unsubscribed."""
        rng = self.rng
        campaign_id = f"C{day:03d}"
        moment = self.start + timedelta(days=day, hours=9, seconds=rng.randrange(3600))
        sent_so_far = day // CAMPAIGN_EVERY_DAYS
        open_rate = (
            0.45 * (0.93**sent_so_far) * (0.2 if person.churn_day is not None and day >= person.churn_day else 1)
        )
        events = ["processed"]
        if rng.random() < 0.015:
            events.append(rng.choice(["bounce", "dropped"]))
        else:
            events.append("delivered")
            if rng.random() < open_rate:
                events.append("open")
                if rng.random() < 0.25:
                    events.append("click")
                if rng.random() < 0.03:
                    events.append("unsubscribe")
                elif rng.random() < 0.003:
                    events.append("spamreport")
        for event in events:
            moment += timedelta(seconds=rng.randrange(1, 7200))
            event_id = new_uuid(rng)
            values = {
                "sg_event_id": event_id,
                "email": person.email,
                "event": event,
                "timestamp": int(moment.timestamp()),
                "campaign_id": campaign_id,
            }
            if event == "click":
                values["url"] = "https://shop.example/autumn"
            if event in ("bounce", "dropped"):
                values["reason"] = rng.choice(["550 5.1.1 mailbox does not exist", "Bounced Address"])
            self.record("email_events", day, values, event_id, person)
        if "unsubscribe" in events:
            self.consent(
                person, day, {"email": person.email or ""}, "email_marketing", "withdrawn", "preference_center"
            )
            return True
        return False

    def support_ticket(self, person: Person, day: int) -> None:
        rng = self.rng
        if not (person.email or person.phone_nsn):
            return
        created = self.moment(day)
        ticket_id = f"TK-{person.index:08d}-{day:04d}"
        email = person.second_email if person.second_email and rng.random() < 0.5 else person.email
        solved = rng.random() < 0.7
        values = {
            "ticket_id": ticket_id,
            "requester_email": write_email(rng, email) if email else rng.choice(JUNK_EMAILS),
            "requester_phone": self.phone_or_none(person, 0.5, international=True) or "",
            "requester_name": f"{write_name(rng, person.first_name)} {person.last_name}",
            "subject": rng.choice(TICKET_SUBJECTS),
            "channel": rng.choice(["email", "phone", "chat"]),
            "status": rng.choice(["solved", "closed"]) if solved else rng.choice(["new", "open"]),
            "satisfaction": rng.choice(["good", "bad", ""]) if solved else "",
            "created_at": iso(created, 1),
            "solved_at": iso(created + timedelta(hours=rng.randrange(1, 72)), 1) if solved else "",
        }
        if not email:  # phone tickets from people without an email: the agent typed a placeholder
            values["requester_phone"] = format_phone(rng, person, international=True)
        self.record("support_tickets", day, values, ticket_id, person)

    def erasure_request(self, person: Person, day: int) -> None:
        if not (person.email or person.account_id):
            return
        request_id = f"ER-{person.index:08d}"
        values = {
            "request_id": request_id,
            "email": write_email(self.rng, person.email) if person.email else "",
            "phone": "",
            "user_id": person.account_id or "",
            "requested_at": iso(self.moment(day), 0),
            "type": self.rng.choice(["erase", "erase", "suppress"]),
        }
        self.record("erasure_requests", day, values, request_id, person)


def _cents(amount: str) -> int:
    whole, _, fraction = amount.partition(".")
    return int(whole) * 100 + int((fraction + "00")[:2])


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _product_properties(product: tuple[str, str, str, str]) -> dict:
    sku, name, category, price = product
    return {"product_id": sku, "sku": sku, "name": name, "category": category, "price": float(price)}
