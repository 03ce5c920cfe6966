"""Segments that marketers declare in YAML, without SQL: loaded and validated, with errors that say where.

A declaration file (`segments/*.yml` under the project) lists segments:

    segments:
      - name: cart_abandoners_7d
        description: Put something in their cart in the last 7 days and did not order.
        owner: crm-team@shop.example
        consent: email_marketing          # the purpose members must have granted, or `none`
        conditions:
          all:                            # all / any / not, nested as deep as needed
            - event: Product Added        # an event type of marts.customer_events
              within: 7d                  # h, d or w; all history without it
            - not:
                event: Order Placed
                within: 7d
            - trait: lifetime_value       # a column of marts.customer_profiles
              op: ">="
              value: 100

An event condition counts the customer's events of that type (optionally from one `source`, with `properties`
equal to given values) and compares the count: `at_least` (1 if nothing is said), `at_most` or `exactly`.
A trait condition's operators depend on the column's `data_type` in the profile's YAML (TRAIT_OPERATORS).
Every error of every file is reported at once, each naming the file, the segment and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tessera.settings import PROJECT_DIR, consent_purposes, shown
from tessera.yaml_files import entries

DECLARATIONS_DIR = PROJECT_DIR / "segments"
PROFILE_MODELS_YAML = PROJECT_DIR / "models" / "marts" / "customers" / "_customers__models.yml"
EVENT_SOURCES = ("web_events", "app_events", "orders", "pos_transactions", "email_events", "support_tickets")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
WINDOW = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HOURS_PER_UNIT = {"h": 1, "d": 24, "w": 24 * 7}
COUNT_KEYS = ("at_least", "at_most", "exactly")

# Which operators apply to a trait, by the kind of its data_type, and what value each takes.
TRAIT_OPERATORS: dict[str, dict[str, str]] = {
    "number": {
        "=": "number", "!=": "number", "<": "number", "<=": "number", ">": "number", ">=": "number",
        "between": "pair of numbers", "in": "list of numbers", "not_in": "list of numbers",
        "is_null": "nothing", "is_not_null": "nothing",
    },
    "text": {
        "=": "text", "!=": "text", "in": "list of texts", "not_in": "list of texts",
        "is_null": "nothing", "is_not_null": "nothing",
    },
    "boolean": {"is_true": "nothing", "is_false": "nothing"},
    "timestamp": {"within": "window", "older_than": "window", "is_null": "nothing", "is_not_null": "nothing"},
}  # fmt: skip


class SegmentDeclarationError(ValueError):
    """One or more declarations are invalid; the message lists every problem, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid segment declarations:\n" + "\n".join(f"  {problem}" for problem in problems))


@dataclass(frozen=True)
class TraitCondition:
    trait: str
    op: str
    value: Any


@dataclass(frozen=True)
class EventCondition:
    event: str
    source: str | None
    within_hours: int | None
    properties: tuple[tuple[str, str], ...]
    comparison: str  # ">=", "<=" or "="
    count: int


@dataclass(frozen=True)
class AllOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    condition: Condition


Condition = TraitCondition | EventCondition | AllOf | AnyOf | Not


@dataclass(frozen=True)
class SegmentDeclaration:
    name: str
    description: str
    owner: str
    consent: str | None
    condition: Condition
    declared_in: Path

    @property
    def model_name(self) -> str:
        return f"segment_{self.name}"


def trait_kinds(profile_models_yaml: Path = PROFILE_MODELS_YAML) -> dict[str, str]:
    """Each documented column of customer_profiles and its kind (number, text, boolean, timestamp)."""
    document = yaml.safe_load(profile_models_yaml.read_text(encoding="utf-8"))
    model = next(model for model in document["models"] if model["name"] == "customer_profiles")
    return {column["name"]: _kind(column.get("data_type", "varchar")) for column in model["columns"]}


def _kind(data_type: str) -> str:
    data_type = data_type.lower()
    if data_type.startswith(("int", "bigint", "decimal", "numeric", "double", "float", "real")):
        return "number"
    if data_type.startswith("bool"):
        return "boolean"
    if data_type.startswith("timestamp") or data_type == "date":
        return "timestamp"
    return "text"


def window_hours(text: object) -> int | None:
    """`7d` -> 168; None when the text is not a window."""
    found = WINDOW.match(str(text)) if isinstance(text, str) else None
    if not found or int(found.group(1)) == 0:
        return None
    return int(found.group(1)) * HOURS_PER_UNIT[found.group(2)]


def load_declarations(
    folder: Path = DECLARATIONS_DIR, *, traits: dict[str, str] | None = None, purposes: list[str] | None = None
) -> list[SegmentDeclaration]:
    """Every segment declared in `folder/*.yml`, validated; raises SegmentDeclarationError listing all problems."""
    declarations, problems = read_declarations(folder, traits=traits, purposes=purposes)
    if problems:
        raise SegmentDeclarationError(problems)
    return declarations


def read_declarations(
    folder: Path = DECLARATIONS_DIR, *, traits: dict[str, str] | None = None, purposes: list[str] | None = None
) -> tuple[list[SegmentDeclaration], list[str]]:
    """The valid segments of `folder/*.yml`, and a problem (with its place) for each invalid one: one broken
    segment never keeps the others out."""
    traits = trait_kinds() if traits is None else traits
    purposes = consent_purposes() if purposes is None else purposes
    problems: list[str] = []
    declarations: list[SegmentDeclaration] = []
    for path in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
        reader = _Reader(path, traits, purposes, problems)
        declarations.extend(reader.read())
    seen: dict[str, Path] = {}
    unique: list[SegmentDeclaration] = []
    for declaration in declarations:
        if declaration.name in seen:
            problems.append(
                f"{shown(declaration.declared_in)}: segment {declaration.name!r} is declared twice "
                f"(also in {shown(seen[declaration.name])}); segment names are unique"
            )
            continue
        seen[declaration.name] = declaration.declared_in
        unique.append(declaration)
    return unique, problems


class _Reader:
    """Reads one file; appends a problem per mistake (with its place) and keeps going."""

    def __init__(self, path: Path, traits: dict[str, str], purposes: list[str], problems: list[str]) -> None:
        self.path, self.traits, self.purposes, self.problems = path, traits, purposes, problems

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{shown(self.path)}: {where}: {message}")

    def read(self) -> list[SegmentDeclaration]:
        items = entries(self.path, "segments", shown(self.path), self.problems)
        segments = (self.segment(where, item) for where, item in items)
        return [segment for segment in segments if segment is not None]

    def segment(self, where: str, item: object) -> SegmentDeclaration | None:
        problems_before = len(self.problems)
        if not isinstance(item, dict):
            self.problem(where, "expected a mapping with name, description, owner, consent and conditions")
            return None
        name = item.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            self.problem(f"{where}.name", f"{name!r} is not a segment name (lowercase letters, digits and _)")
        else:
            where = f"{where} ({name})"
        unknown = sorted(set(item) - {"name", "description", "owner", "consent", "conditions"})
        if unknown:
            self.problem(where, f"unknown field(s) {', '.join(unknown)}")
        for field in ("description", "owner"):
            if not isinstance(item.get(field), str) or not item[field].strip():
                self.problem(f"{where}.{field}", "required: a non-empty text")
        consent = item.get("consent")
        if consent not in [*self.purposes, "none"]:
            self.problem(
                f"{where}.consent",
                f"{consent!r} is not a consent purpose; use one of {', '.join(self.purposes)}, or none",
            )
        if "conditions" not in item:
            self.problem(f"{where}.conditions", "required")
            return None
        condition = self.condition(f"{where}.conditions", item["conditions"])
        if condition is None or len(self.problems) > problems_before:
            return None
        return SegmentDeclaration(
            name=name,
            description=item["description"].strip(),
            owner=item["owner"].strip(),
            consent=None if consent == "none" else consent,
            condition=condition,
            declared_in=self.path,
        )

    def condition(self, where: str, item: object) -> Condition | None:
        if not isinstance(item, dict) or not item:
            self.problem(where, "expected a condition: all, any, not, an event condition or a trait condition")
            return None
        if "all" in item or "any" in item:
            key = "all" if "all" in item else "any"
            if set(item) != {key}:
                self.problem(where, f"`{key}` stands alone; nest other fields in its list")
                return None
            members = item[key]
            if not isinstance(members, list) or not members:
                self.problem(f"{where}.{key}", "expected a non-empty list of conditions")
                return None
            parsed = [self.condition(f"{where}.{key}[{index}]", member) for index, member in enumerate(members)]
            if any(member is None for member in parsed):
                return None
            return (AllOf if key == "all" else AnyOf)(tuple(parsed))
        if "not" in item:
            if set(item) != {"not"}:
                self.problem(where, "`not` stands alone; put the negated condition under it")
                return None
            negated = self.condition(f"{where}.not", item["not"])
            return Not(negated) if negated is not None else None
        if "event" in item:
            return self.event(where, item)
        if "trait" in item:
            return self.trait(where, item)
        self.problem(where, f"unknown condition with fields {', '.join(sorted(map(str, item)))}")
        return None

    def event(self, where: str, item: dict) -> EventCondition | None:
        ok = True
        unknown = sorted(set(item) - {"event", "source", "within", "properties", *COUNT_KEYS})
        if unknown:
            self.problem(where, f"unknown field(s) {', '.join(unknown)} in an event condition")
            ok = False
        if not isinstance(item["event"], str) or not item["event"].strip():
            self.problem(f"{where}.event", "expected an event type, such as Product Viewed")
            ok = False
        source = item.get("source")
        if source is not None and source not in EVENT_SOURCES:
            self.problem(f"{where}.source", f"{source!r} is not an event source; use one of {', '.join(EVENT_SOURCES)}")
            ok = False
        hours = None
        if "within" in item:
            hours = window_hours(item["within"])
            if hours is None:
                self.problem(
                    f"{where}.within",
                    f"{item['within']!r} is not a time window; write a number and a unit: 24h, 7d, 2w",
                )
                ok = False
        properties = item.get("properties", {})
        if not isinstance(properties, dict) or not all(
            isinstance(key, str) and PROPERTY.match(key) and isinstance(value, (str, int, float, bool))
            for key, value in properties.items()
        ):
            self.problem(f"{where}.properties", "expected a mapping of property names to single values")
            ok = False
        counts = [key for key in COUNT_KEYS if key in item]
        if len(counts) > 1:
            self.problem(where, f"give one of {', '.join(COUNT_KEYS)}, not {' and '.join(counts)}")
            ok = False
        key = counts[0] if counts else "at_least"
        count = item.get(key, 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            self.problem(f"{where}.{key}", f"{count!r} is not a count (a whole number, 0 or more)")
            ok = False
        if not ok:
            return None
        return EventCondition(
            event=item["event"].strip(),
            source=source,
            within_hours=hours,
            properties=tuple(sorted((key, _text(value)) for key, value in properties.items())),
            comparison={"at_least": ">=", "at_most": "<=", "exactly": "="}[key],
            count=count,
        )

    def trait(self, where: str, item: dict) -> TraitCondition | None:
        unknown = sorted(set(item) - {"trait", "op", "value"})
        if unknown:
            self.problem(where, f"unknown field(s) {', '.join(unknown)} in a trait condition")
            return None
        trait = item["trait"]
        if trait not in self.traits:
            self.problem(
                f"{where}.trait",
                f"{trait!r} is not a trait of customer_profiles; known traits: {', '.join(sorted(self.traits))}",
            )
            return None
        kind = self.traits[trait]
        operators = TRAIT_OPERATORS[kind]
        op = item.get("op")
        if op not in operators:
            self.problem(f"{where}.op", f"{op!r} does not apply to {trait} ({kind}); use one of {', '.join(operators)}")
            return None
        expected = operators[op]
        value = item.get("value")
        if not _fits(expected, value):
            shown = "no value" if expected == "nothing" else f"a {expected}"
            self.problem(f"{where}.value", f"{op} on {trait} takes {shown}, not {value!r}")
            return None
        if expected == "window":
            value = window_hours(value)
        return TraitCondition(trait=trait, op=op, value=tuple(value) if isinstance(value, list) else value)


def _fits(expected: str, value: object) -> bool:
    def number(v: object) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    return {
        "nothing": value is None,
        "number": number(value),
        "text": isinstance(value, str),
        "window": window_hours(value) is not None,
        "pair of numbers": isinstance(value, list) and len(value) == 2 and all(map(number, value)),
        "list of numbers": isinstance(value, list) and bool(value) and all(map(number, value)),
        "list of texts": isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value),
    }[expected]


def _text(value: str | int | float | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
