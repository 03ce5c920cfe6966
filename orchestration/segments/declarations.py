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
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from tessera.settings import PROJECT_DIR, consent_purposes, shown
from tessera.yaml_files import entries, located

DECLARATIONS_DIR = PROJECT_DIR / "segments"
PROFILE_MODELS_YAML = PROJECT_DIR / "models" / "marts" / "customers" / "_customers__models.yml"
EventSource = Literal["web_events", "app_events", "orders", "pos_transactions", "email_events", "support_tickets"]
EVENT_SOURCES = get_args(EventSource)
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
        declarations.extend(read_file(path, traits, purposes, problems))
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


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


class _Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _alone(key: str, hint: str):
    @model_validator(mode="before")
    @classmethod
    def check(cls, value: object) -> object:
        _check(isinstance(value, dict) and set(value) == {key}, f"`{key}` stands alone; {hint}")
        return value

    return check


def _members(value: object) -> object:
    _check(isinstance(value, list) and bool(value), "expected a non-empty list of conditions")
    return value


class AllOfModel(_Condition):
    """Every condition holds."""

    all: list[ConditionModel] = Field(min_length=1)
    _alone = _alone("all", "nest other fields in its list")
    _list = field_validator("all", mode="before")(_members)


class AnyOfModel(_Condition):
    """At least one condition holds."""

    any: list[ConditionModel] = Field(min_length=1)
    _alone = _alone("any", "nest other fields in its list")
    _list = field_validator("any", mode="before")(_members)


class NotModel(_Condition):
    """The condition does not hold."""

    not_: ConditionModel = Field(alias="not")
    _alone = _alone("not", "put the negated condition under it")


class EventConditionModel(_Condition):
    """How many of the customer's events of a type (from one source, with some properties) in a window."""

    event: str = Field(description="An event type of marts.customer_events, such as Product Viewed.")
    source: EventSource | None = Field(None, description="Only the events of this source.")
    within: str | None = Field(
        None, description="A window: 24h, 7d, 2w; all history without it.", pattern=WINDOW.pattern
    )
    properties: dict[str, str | int | float | bool] = Field(default_factory=dict)
    at_least: int | None = Field(None, ge=0)
    at_most: int | None = Field(None, ge=0)
    exactly: int | None = Field(None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _fields(cls, value: object) -> object:
        if isinstance(value, dict):
            unknown = sorted(set(value) - {"event", "source", "within", "properties", *COUNT_KEYS})
            _check(not unknown, f"unknown field(s) {', '.join(unknown)} in an event condition")
            counts = [key for key in COUNT_KEYS if key in value]
            _check(len(counts) <= 1, f"give one of {', '.join(COUNT_KEYS)}, not {' and '.join(counts)}")
        return value

    @field_validator("event", mode="before")
    @classmethod
    def _event(cls, value: object) -> object:
        _check(isinstance(value, str) and bool(value.strip()), "expected an event type, such as Product Viewed")
        return value.strip()

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: object) -> object:
        _check(value is None or value in EVENT_SOURCES,
               f"{value!r} is not an event source; use one of {', '.join(EVENT_SOURCES)}")  # fmt: skip
        return value

    @field_validator("within", mode="before")
    @classmethod
    def _within(cls, value: object) -> object:
        _check(
            window_hours(value) is not None, f"{value!r} is not a time window; write a number and a unit: 24h, 7d, 2w"
        )
        return value

    @field_validator("properties", mode="before")
    @classmethod
    def _properties(cls, value: object) -> object:
        single = isinstance(value, dict) and all(
            isinstance(key, str) and PROPERTY.match(key) and isinstance(one, (str, int, float, bool))
            for key, one in value.items()
        )
        _check(single, "expected a mapping of property names to single values")
        return value

    @field_validator(*COUNT_KEYS, mode="before")
    @classmethod
    def _count(cls, value: object) -> object:
        _check(not isinstance(value, bool) and isinstance(value, int) and value >= 0,
               f"{value!r} is not a count (a whole number, 0 or more)")  # fmt: skip
        return value

    def condition(self) -> EventCondition:
        key = next((key for key in COUNT_KEYS if getattr(self, key) is not None), "at_least")
        return EventCondition(
            event=self.event,
            source=self.source,
            within_hours=window_hours(self.within) if self.within else None,
            properties=tuple(sorted((key, _text(value)) for key, value in self.properties.items())),
            comparison={"at_least": ">=", "at_most": "<=", "exactly": "="}[key],
            count=getattr(self, key) if getattr(self, key) is not None else 1,
        )


class TraitConditionModel(_Condition):
    """A column of marts.customer_profiles compared: the operators depend on its data type (TRAIT_OPERATORS)."""

    trait: str = Field(description="A documented column of marts.customer_profiles.")
    op: str = Field(description="An operator for the trait's kind: number, text, boolean or timestamp.")
    value: Any = Field(None, description="What the operator takes: a number, a text, a list, a window, or none.")

    @model_validator(mode="before")
    @classmethod
    def _fields(cls, value: object) -> object:
        if isinstance(value, dict):
            unknown = sorted(set(value) - {"trait", "op", "value"})
            _check(not unknown, f"unknown field(s) {', '.join(unknown)} in a trait condition")
        return value

    @field_validator("trait", mode="before")
    @classmethod
    def _trait(cls, value: object, info: ValidationInfo) -> object:
        traits = info.context["traits"]
        _check(value in traits,
               f"{value!r} is not a trait of customer_profiles; known traits: {', '.join(sorted(traits))}")  # fmt: skip
        return value

    @field_validator("op", mode="before")
    @classmethod
    def _op(cls, value: object, info: ValidationInfo) -> object:
        if "trait" in info.data:
            trait = info.data["trait"]
            kind = info.context["traits"][trait]
            operators = TRAIT_OPERATORS[kind]
            _check(
                value in operators, f"{value!r} does not apply to {trait} ({kind}); use one of {', '.join(operators)}"
            )
        return value

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, value: object, info: ValidationInfo) -> object:
        if "trait" in info.data and "op" in info.data:
            trait, op = info.data["trait"], info.data["op"]
            expected = TRAIT_OPERATORS[info.context["traits"][trait]][op]
            shown_as = "no value" if expected == "nothing" else f"a {expected}"
            _check(_fits(expected, value), f"{op} on {trait} takes {shown_as}, not {value!r}")
        return value

    def condition(self, kind: str) -> TraitCondition:
        value = window_hours(self.value) if TRAIT_OPERATORS[kind][self.op] == "window" else self.value
        return TraitCondition(trait=self.trait, op=self.op, value=tuple(value) if isinstance(value, list) else value)


class UnknownCondition(_Condition):
    @model_validator(mode="before")
    @classmethod
    def _unknown(cls, value: object) -> object:
        if not isinstance(value, dict) or not value:
            raise ValueError("expected a condition: all, any, not, an event condition or a trait condition")
        raise ValueError(f"unknown condition with fields {', '.join(sorted(map(str, value)))}")


def _condition_kind(value: object) -> str:
    if isinstance(value, dict):
        return next((f"@{key}" for key in ("all", "any", "not", "event", "trait") if key in value), "@unknown")
    return "@unknown"


ConditionModel = Annotated[
    Annotated[AllOfModel, Tag("@all")]
    | Annotated[AnyOfModel, Tag("@any")]
    | Annotated[NotModel, Tag("@not")]
    | Annotated[EventConditionModel, Tag("@event")]
    | Annotated[TraitConditionModel, Tag("@trait")]
    | Annotated[UnknownCondition, Tag("@unknown")],
    Discriminator(_condition_kind),
]
for _model in (AllOfModel, AnyOfModel, NotModel):
    _model.model_rebuild()


class SegmentEntry(BaseModel):
    """One declared segment. Validation context: `traits` (column -> kind) and `purposes` (consent purposes)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Unique: lowercase letters, digits and _.", pattern=NAME.pattern)
    description: str = Field(description="What the segment is, for the people who use it.")
    owner: str = Field(description="Who answers for it: an email address or team:<name>.")
    consent: str = Field(description="The consent purpose members must have granted, or none.")
    conditions: ConditionModel

    @model_validator(mode="before")
    @classmethod
    def _fields(cls, value: object) -> object:
        _check(isinstance(value, dict), "expected a mapping with name, description, owner, consent and conditions")
        unknown = sorted(set(value) - {"name", "description", "owner", "consent", "conditions"})
        _check(not unknown, f"unknown field(s) {', '.join(unknown)}")
        return value

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: object) -> object:
        _check(
            isinstance(value, str) and bool(NAME.match(value)),
            f"{value!r} is not a segment name (lowercase letters, digits and _)",
        )
        return value

    @field_validator("description", "owner", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        _check(isinstance(value, str) and bool(value.strip()), "required: a non-empty text")
        return value.strip()

    @field_validator("consent", mode="before")
    @classmethod
    def _consent(cls, value: object, info: ValidationInfo) -> object:
        purposes = info.context["purposes"]
        _check(
            value in [*purposes, "none"],
            f"{value!r} is not a consent purpose; use one of {', '.join(purposes)}, or none",
        )
        return value


def _words(problem: dict) -> str | None:
    if problem["type"] == "missing" and problem["loc"][-1:] in (("description",), ("owner",)):
        return "required: a non-empty text"
    return None


def _declaration(entry: SegmentEntry, path: Path, traits: dict[str, str]) -> SegmentDeclaration:
    def convert(model: BaseModel) -> Condition:
        if isinstance(model, AllOfModel):
            return AllOf(tuple(map(convert, model.all)))
        if isinstance(model, AnyOfModel):
            return AnyOf(tuple(map(convert, model.any)))
        if isinstance(model, NotModel):
            return Not(convert(model.not_))
        if isinstance(model, EventConditionModel):
            return model.condition()
        return model.condition(traits[model.trait])

    return SegmentDeclaration(
        name=entry.name,
        description=entry.description,
        owner=entry.owner,
        consent=None if entry.consent == "none" else entry.consent,
        condition=convert(entry.conditions),
        declared_in=path,
    )


def read_file(path: Path, traits: dict[str, str], purposes: list[str], problems: list[str]) -> list[SegmentDeclaration]:
    """The valid segments of one file; a problem (with its place) appended for each mistake."""
    declarations = []
    for where, item in entries(path, "segments", shown(path), problems):
        if isinstance(item, dict) and isinstance(item.get("name"), str) and NAME.match(item["name"]):
            where = f"{where} ({item['name']})"
        try:
            entry = SegmentEntry.model_validate(item, context={"traits": traits, "purposes": purposes})
        except ValidationError as error:
            problems += located(error, f"{shown(path)}: {where}", _words)
            continue
        declarations.append(_declaration(entry, path, traits))
    return declarations


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a segment file, for editors."""
    document = create_model("SegmentFile", __config__=ConfigDict(extra="forbid"), segments=(list[SegmentEntry], ...))
    schema = document.model_json_schema(by_alias=True)
    schema["title"] = "Tessera declared segments"
    return schema


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
