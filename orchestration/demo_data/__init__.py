"""The demo retailer's data: `generate` writes a landing folder per `docs/contracts/sources.md`.

Deterministic (the same arguments give the same bytes) and streaming (memory does not grow with the number of
customers), so the same generator serves a five-second demo and a million-customer benchmark.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from .people import Person, make_person, new_uuid
from .simulate import Simulation
from .writer import LandingWriter

DEFAULT_START = date(2026, 10, 1)
HOUSEHOLDS_PER_FLUSH = 2_500
SHARED_FAMILY_EMAIL_RATE = 0.06


@dataclass(frozen=True)
class GenerationSummary:
    out: Path
    records: Counter[str]
    malformed: Counter[str]


class LandingFolderNotEmpty(Exception):
    pass


def generate(out: Path, customers: int, days: int, seed: int, start: date = DEFAULT_START) -> GenerationSummary:
    """Write `customers` people's activity over `days` days, from `start`, into the landing folder `out`."""
    if customers < 1 or days < 1:
        raise ValueError("--customers and --days must be at least 1")
    if out.exists() and any(out.iterdir()):
        raise LandingFolderNotEmpty(
            f"{out} is not empty: generate into a new folder, so no file is mixed with old ones"
        )
    out.mkdir(parents=True, exist_ok=True)
    start_moment = datetime(start.year, start.month, start.day)
    with LandingWriter(out, start, days, seed) as writer:
        for household, first in enumerate(range(0, customers, 2)):
            rng = random.Random(f"{seed}:{first}")
            people = [make_person(rng, index, days) for index in range(first, min(first + 2, customers))]
            if len(people) == 2 and all(p.email for p in people) and rng.random() < SHARED_FAMILY_EMAIL_RATE:
                _share_family_email(rng, *people)
            Simulation(rng, start_moment, days, writer.add).run(people)
            if household % HOUSEHOLDS_PER_FLUSH == HOUSEHOLDS_PER_FLUSH - 1:
                writer.flush()
    return GenerationSummary(out, writer.written, writer.malformed)


def _share_family_email(rng: random.Random, holder: Person, partner: Person) -> None:
    """Two account holders of one family who shop with the same email: linking on it would merge them."""
    for index, person in ((holder.index, holder), (partner.index, partner)):
        if person.account_id is None:
            person.account_id = f"U-{100000 + index}"
            person.order_rate = person.order_rate or 0.02
        if not person.cookies:
            person.cookies = [new_uuid(rng)]
            person.visit_rate = 0.08
    partner.household_email = holder.email
