"""Sync definitions: which activation model goes to which destination, how, and under which consent.

A file of the syncs folder (`TESSERA_SYNCS_DIR`, by default `reverse_etl/syncs/*.yml`) lists syncs:

    syncs:
      - name: vip_members_to_crm_file
        model: sync_segment_contacts           # a model of schema `activation`
        destination:
          type: file                           # one of DESTINATION_TYPES
          path: exports/vip_members.csv        # the destination's own settings
        mode: mirror                           # upsert, update, insert, mirror or audience
        primary_key: customer_id
        where: "segment_name = 'vip_loyalty_members'"   # optional filter on the model's rows
        mapping:
          email: email                         # destination field: model column
          source: {constant: tessera}
          full_name: {template: "{{ first_name }} {{ last_name }}"}
        consent: email_marketing               # required: a purpose, or a list of them (rows need them all)
        schedule: "0 * * * *"                  # optional, cron
        owner: crm-team@shop.example           # optional: who answers for it (an email or team:<name>)

The purposes a sync declares must include every purpose its destination's kind requires under the consent
policy (`reverse_etl/consent_policy.yml`: ads need `advertising`, email tools `email_marketing`, ...), or the
sync is refused when loaded.

Secrets never sit in these files: a setting named like a secret (token, key, password, secret) must be written
`{env: VARIABLE}`, and is read from the environment when the sync runs. Every mistake is reported with its file,
sync and field, all at once.

A sync is read by the pydantic model `SyncEntry`, and its `destination:` by the settings model its destination
declares (`Destination.settings_model`: a missing `list_id` is refused here, in a second, not after a build).
`json_schema()` describes the file for editors (`docs/schemas/syncs.schema.json`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import duckdb
import jinja2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, create_model, field_validator

from tessera.yaml_files import entries, located

CONSENT_POLICY = Path(__file__).parent / "consent_policy.yml"
MODES = ("upsert", "update", "insert", "mirror", "audience")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MODEL = re.compile(r"^sync_[a-z0-9_]+$")  # a model of schema `activation`, by its name alone
SECRET_SETTING = re.compile(r"(token|key|password|secret)", re.IGNORECASE)
# A credential written in clear inside another setting: a URL's password, a libpq password, a token parameter.
SECRET_IN_VALUE = re.compile(
    r"://[^/@\s:]+:[^/@\s]+@|(^|\s)password\s*=|[?&](token|key|api_key|apikey|secret|password|sig|signature|"
    r"access_token)=",
    re.IGNORECASE,
)
OWNER = re.compile(r"^([^@\s]+@[^@\s]+\.[^@\s]+|team:[\w.-]+)$")
CRON = re.compile(r"^\s*(\S+\s+){4}\S+\s*$")
_TEMPLATES = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)


class SyncDefinitionError(ValueError):
    """One or more sync definitions are invalid; the message lists every problem, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid sync definitions:\n" + "\n".join(f"  {problem}" for problem in problems))


def condition_problem(condition: object) -> str | None:
    """Why a sync's `where` is not one SQL condition on the model's rows (several statements, a set operation, a
    syntax error), or None. DuckDB's own expression parser decides."""
    if not isinstance(condition, str) or not condition.strip():
        return "expected a SQL condition on the model's columns, e.g. segment_name = 'vip'"
    try:
        duckdb.SQLExpression(condition)
    except duckdb.Error as error:
        return f"not one SQL condition on the model's rows: {str(error).splitlines()[0][:200]}"
    return None


class EnvSecret(BaseModel):
    """A setting read from the environment when the sync runs: `{env: VARIABLE}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    env: str = Field(description="The environment variable that holds the value.", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    def resolve(self, where: str) -> str:
        value = os.environ.get(self.env)
        if not value:
            raise SyncDefinitionError([f"{where}: environment variable {self.env} is not set"])
        return value


@dataclass(frozen=True)
class FieldMapping:
    """One destination field: a model column, a constant, or a jinja2 template over the row's columns."""

    target: str
    column: str | None = None
    constant: Any = None
    template: str | None = None

    def value(self, row: dict[str, Any]) -> Any:
        if self.column is not None:
            return row.get(self.column)
        if self.template is not None:
            return _TEMPLATES.from_string(self.template).render(**row)
        return self.constant

    def columns(self) -> set[str]:
        if self.column is not None:
            return {self.column}
        if self.template is not None:
            from jinja2 import meta

            return set(meta.find_undeclared_variables(_TEMPLATES.parse(self.template)))
        return set()


@dataclass(frozen=True)
class SyncDefinition:
    name: str
    model: str
    destination_type: str
    settings: dict[str, Any]
    mode: str
    primary_key: str
    mapping: tuple[FieldMapping, ...]
    consents: tuple[str, ...]  # the purposes a row needs, all of them
    defined_in: Path
    where: str | None = None
    schedule: str | None = None
    owner: str | None = None

    def setting(self, name: str, default: Any = None) -> Any:
        """A destination setting, with `{env: NAME}` secrets read from the environment now."""
        value = self.settings.get(name, default)
        if isinstance(value, EnvSecret):
            return value.resolve(f"{self.defined_in.name}: sync {self.name}: destination.{name}")
        return value

    def payload(self, row: dict[str, Any]) -> dict[str, Any]:
        """The destination fields of one model row, per the mapping."""
        return {mapping.target: mapping.value(row) for mapping in self.mapping}

    def mapped_columns(self) -> set[str]:
        return set().union(*(mapping.columns() for mapping in self.mapping))


@dataclass(frozen=True)
class ConsentPolicy:
    """Which consent purposes a sync must require, by destination kind (`consent_policy.yml`)."""

    requires: dict[str, tuple[str, ...]]
    defined_in: Path

    @classmethod
    def read(cls, path: Path = CONSENT_POLICY) -> ConsentPolicy:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
            requires = {str(kind): tuple(map(str, purposes or ())) for kind, purposes in document["requires"].items()}
        except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as error:
            raise SyncDefinitionError(
                [f"{path.name}: expected `requires:` mapping kinds to purposes ({error})"]
            ) from None
        return cls(requires, path)


def _text(value: object, problem: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(problem)
    return value


class Constant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    constant: Any = Field(description="The same value on every row.")


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template: str = Field(description="A jinja2 template over the row's columns, e.g. {{ first_name }}.")


class SyncEntry(BaseModel):
    """One sync of a sync file, as written. Validation context: `purposes`, the consent purposes there are."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Unique: lowercase letters, digits and _.", pattern=NAME.pattern)
    model: str = Field(description="The activation model (schema `activation`) it reads.", pattern=MODEL.pattern)
    destination: dict[str, Any] = Field(description="`type`, and that destination's own settings.")
    mode: Literal["upsert", "update", "insert", "mirror", "audience"]
    primary_key: str = Field(description="The model column that identifies a row.")
    mapping: dict[str, str | Constant | Template] = Field(description="Destination field: model column, ...")
    consent: str | list[str] = Field(description="The consent purpose(s) each row must have, all of them.")
    where: str | None = Field(None, description="One SQL condition on the model's rows.")
    schedule: str | None = Field(None, description="When it runs (cron, UTC); default TESSERA_SYNCS_CRON.")
    owner: str | None = Field(None, description="Who answers for it: an email address or team:<name>.")

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: object) -> object:
        if not isinstance(value, str) or not NAME.match(value):
            raise ValueError(f"{value!r} is not a sync name (lowercase letters, digits and _)")
        return value

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, value: object) -> object:
        if not isinstance(value, str) or not MODEL.match(value):
            raise ValueError(f"{value!r} is not an activation model (sync_<name>)")
        return value

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: object) -> object:
        if value not in MODES:
            raise ValueError(f"{value!r} is not a mode; use one of {', '.join(MODES)}")
        return value

    @field_validator("primary_key", mode="before")
    @classmethod
    def _key(cls, value: object) -> object:
        return _text(value, "required: the model column that identifies a row")

    @field_validator("mapping", mode="before")
    @classmethod
    def _mapping(cls, value: object) -> object:
        if not isinstance(value, dict) or not value:
            raise ValueError("required: destination field -> model column, {constant: ...} or {template: ...}")
        return value

    @field_validator("consent", mode="before")
    @classmethod
    def _consent(cls, value: object, info: ValidationInfo) -> object:
        purposes = (info.context or {}).get("purposes", [])
        consents = value if isinstance(value, list) else [value]
        if not consents or any(purpose not in purposes for purpose in consents):
            raise ValueError(
                f"{value!r}: a sync needs the consent purpose(s) its rows must have ({', '.join(purposes)})"
            )
        return value

    @field_validator("where", mode="before")
    @classmethod
    def _where(cls, value: object) -> object:
        if value is not None and (problem := condition_problem(value)):
            raise ValueError(problem)
        return value

    @field_validator("schedule", mode="before")
    @classmethod
    def _schedule(cls, value: object) -> object:
        if value is not None and not (isinstance(value, str) and CRON.match(value)):
            raise ValueError(f"{value!r} is not a cron schedule (five fields)")
        return value.strip() if isinstance(value, str) else value

    @field_validator("owner", mode="before")
    @classmethod
    def _owner(cls, value: object) -> object:
        if value is not None and not (isinstance(value, str) and OWNER.match(value)):
            raise ValueError(f"{value!r} is not an owner (an email address or team:<name>)")
        return value


def _words(problem: dict) -> str | None:
    """Today's words for what pydantic says otherwise."""
    if problem["type"] == "missing" and problem["loc"] == ("primary_key",):
        return "required: the model column that identifies a row"
    if problem["type"] == "missing" and problem["loc"] == ("mapping",):
        return "required: destination field -> model column, {constant: ...} or {template: ...}"
    if problem["type"] == "missing" and problem["loc"] == ("consent",):
        return "required: the consent purpose(s) its rows must have"
    return None


def _reported_by_reader(problem: dict) -> bool:
    """The destination and the mapping's entries are checked by the reader, in better words."""
    loc = problem["loc"]
    return loc[:1] == ("destination",) or (loc[:1] == ("mapping",) and len(loc) > 1)


def load_definitions(
    folder: Path,
    *,
    destination_types: dict[str, tuple[str, ...]],
    purposes: list[str],
    categories: dict[str, str] | None = None,
    policy: ConsentPolicy | None = None,
    settings_models: dict[str, type[BaseModel]] | None = None,
) -> list[SyncDefinition]:
    """Every sync of `folder/*.yml`, validated. `destination_types` maps each type to the modes it supports,
    `categories` each type to its kind, whose purposes `policy` requires, `settings_models` each type to the
    model of its settings."""
    problems: list[str] = []
    syncs: list[SyncDefinition] = []
    if policy is not None:
        problems += [
            f"{policy.defined_in.name}: requires.{kind}: {purpose!r} is not a consent purpose ({', '.join(purposes)})"
            for kind, required in policy.requires.items()
            for purpose in required
            if purpose not in purposes
        ]
    reader = _Reader(destination_types, purposes, categories or {}, policy, settings_models or {}, problems)
    for path in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
        for where, item in entries(path, "syncs", path.name, problems):
            if (sync := reader.sync(path, where, item)) is not None:
                syncs.append(sync)
    names: dict[str, Path] = {}
    for sync in syncs:
        if sync.name in names:
            problems.append(f"{sync.defined_in.name}: sync {sync.name!r} is also defined in {names[sync.name].name}")
        names.setdefault(sync.name, sync.defined_in)
    if problems:
        raise SyncDefinitionError(problems)
    return syncs


@dataclass
class _Reader:
    types: dict[str, tuple[str, ...]]
    purposes: list[str]
    categories: dict[str, str]
    policy: ConsentPolicy | None
    models: dict[str, type[BaseModel]]
    problems: list[str]

    def sync(self, path: Path, where: str, item: object) -> SyncDefinition | None:
        before = len(self.problems)
        if not isinstance(item, dict):
            self.problems.append(f"{path.name}: {where}: expected a mapping")
            return None
        if isinstance(item.get("name"), str) and NAME.match(item["name"]):
            where = f"{where} ({item['name']})"
        place = f"{path.name}: {where}"
        try:
            entry = SyncEntry.model_validate(item, context={"purposes": self.purposes})
        except ValidationError as error:
            self.problems += located(error, place, _words, skip=_reported_by_reader)
            entry = None
        destination = item.get("destination")
        settings: dict[str, Any] = {}
        if not isinstance(destination, dict) or destination.get("type") not in self.types:
            self.problems.append(f"{place}.destination.type: use one of {', '.join(sorted(self.types))}")
            destination = None
        else:
            settings = self.settings(f"{place}.destination", destination, item.get("mode"))
        mapping = self.mapping(f"{place}.mapping", item.get("mapping"))
        if entry is None or destination is None or len(self.problems) > before:
            return None
        kind = destination["type"]
        consents = tuple(entry.consent) if isinstance(entry.consent, list) else (entry.consent,)
        if entry.mode not in self.types[kind]:
            self.problems.append(
                f"{place}.mode: {kind} does not support {entry.mode}; it supports {', '.join(self.types[kind])}"
            )
        self.check_policy(place, kind, consents)
        if len(self.problems) > before:
            return None
        return SyncDefinition(
            name=entry.name,
            model=entry.model,
            destination_type=kind,
            settings=settings,
            mode=entry.mode,
            primary_key=entry.primary_key,
            mapping=mapping,
            consents=consents,
            defined_in=path,
            where=entry.where,
            schedule=entry.schedule,
            owner=entry.owner,
        )

    def check_policy(self, place: str, destination_type: str, consents: tuple[str, ...]) -> None:
        kind = self.categories.get(destination_type)
        if self.policy is None or kind is None:
            return
        missing = [purpose for purpose in self.policy.requires.get(kind, ()) if purpose not in consents]
        if missing:
            self.problems.append(
                f"{place}.consent: a {destination_type} destination ({kind}) requires consent {', '.join(missing)} "
                f"under {self.policy.defined_in.name}; this sync declares {', '.join(map(str, consents))}"
            )

    def settings(self, place: str, destination: dict, mode: object) -> dict[str, Any]:
        """The destination's settings: secrets only from the environment, no credential in clear, then its own
        model (types, required settings, unknown ones)."""
        kind = destination["type"]
        values: dict[str, Any] = {}
        refused = False
        for key, value in destination.items():
            if key == "type":
                continue
            if isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str):
                values[key] = EnvSecret(env=value["env"])
            elif SECRET_SETTING.search(str(key)):
                self.problems.append(f"{place}.{key}: secrets come from the environment: write {{env: VARIABLE_NAME}}")
                refused = True
            elif isinstance(value, str) and SECRET_IN_VALUE.search(value):
                self.problems.append(
                    f"{place}.{key}: holds a credential in clear (a password or token in it): put the whole value in "
                    "the environment or a secrets file, and write {env: VARIABLE_NAME}"
                )
                refused = True
            else:
                values[key] = value
        model = self.models.get(kind)
        if model is None or refused:
            return values
        try:
            model.model_validate(values, context={"mode": mode})
        except ValidationError as error:
            known = ", ".join(model.model_fields)

            def words(problem: dict) -> str | None:
                if problem["type"] == "missing":
                    return f"required for a {kind} destination"
                if problem["type"] == "extra_forbidden":
                    return f"not a setting of a {kind} destination; its settings: {known}"
                if problem["loc"] == ():
                    return f"{str(problem['msg']).removeprefix('Value error, ')} for a {kind} destination"
                return None

            self.problems += located(error, place, words, depth=1)  # a flat model: the setting is the place
        return values

    def mapping(self, place: str, mapping: object) -> tuple[FieldMapping, ...]:
        if not isinstance(mapping, dict) or not mapping:
            return ()
        fields = []
        for target, source in mapping.items():
            if isinstance(source, str):
                fields.append(FieldMapping(str(target), column=source))
            elif isinstance(source, dict) and set(source) == {"constant"}:
                fields.append(FieldMapping(str(target), constant=source["constant"]))
            elif isinstance(source, dict) and set(source) == {"template"} and isinstance(source["template"], str):
                try:
                    _TEMPLATES.parse(source["template"])
                except jinja2.TemplateSyntaxError as error:
                    self.problems.append(f"{place}.{target}.template: not a valid jinja2 template: {error.message}")
                    continue
                fields.append(FieldMapping(str(target), template=source["template"]))
            else:
                self.problems.append(
                    f"{place}.{target}: expected a column name, {{constant: ...}} or {{template: ...}}"
                )
        return tuple(fields)


def json_schema(settings_models: dict[str, type[BaseModel]]) -> dict[str, Any]:
    """The JSON Schema of a sync file, each destination's settings by its `type` (for editors: a YAML language
    server reads it from `# yaml-language-server: $schema=...`)."""
    destinations = {
        kind: create_model(f"{model.__name__}Destination", __base__=model, type=(Literal[kind], ...))  # type: ignore[valid-type]
        for kind, model in sorted(settings_models.items())
    }
    union = Annotated[Union[tuple(destinations.values())], Field(discriminator="type")]  # noqa: UP007
    entry = create_model("Sync", __base__=SyncEntry, destination=(union, ...))
    document = create_model("SyncFile", __config__=ConfigDict(extra="forbid"), syncs=(list[entry], ...))
    schema = document.model_json_schema()
    schema["title"] = "Tessera sync definitions"
    return schema
