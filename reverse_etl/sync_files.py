"""Sync definitions: which activation model goes to which destination, how, and under which consent.

A file `reverse_etl/syncs/*.yml` lists syncs:

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
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import yaml

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


@dataclass(frozen=True)
class EnvSecret:
    """A setting read from the environment when the sync runs."""

    variable: str

    def resolve(self, where: str) -> str:
        value = os.environ.get(self.variable)
        if not value:
            raise SyncDefinitionError([f"{where}: environment variable {self.variable} is not set"])
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


def load_definitions(
    folder: Path,
    *,
    destination_types: dict[str, tuple[str, ...]],
    purposes: list[str],
    categories: dict[str, str] | None = None,
    policy: ConsentPolicy | None = None,
    required: dict[str, tuple[str, ...]] | None = None,
) -> list[SyncDefinition]:
    """Every sync of `folder/*.yml`, validated. `destination_types` maps each type to the modes it supports,
    `categories` each type to its kind, whose purposes `policy` requires."""
    problems: list[str] = []
    syncs: list[SyncDefinition] = []
    if policy is not None:
        problems += [
            f"{policy.defined_in.name}: requires.{kind}: {purpose!r} is not a consent purpose ({', '.join(purposes)})"
            for kind, required in policy.requires.items()
            for purpose in required
            if purpose not in purposes
        ]
    for path in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
        reader = _Reader(path, destination_types, purposes, problems, categories or {}, policy, required or {})
        syncs.extend(reader.read())
    names: dict[str, Path] = {}
    for sync in syncs:
        if sync.name in names:
            problems.append(f"{sync.defined_in.name}: sync {sync.name!r} is also defined in {names[sync.name].name}")
        names.setdefault(sync.name, sync.defined_in)
    if problems:
        raise SyncDefinitionError(problems)
    return syncs


class _Reader:
    def __init__(
        self,
        path: Path,
        types: dict[str, tuple[str, ...]],
        purposes: list[str],
        problems: list[str],
        categories: dict[str, str],
        policy: ConsentPolicy | None,
        required: dict[str, tuple[str, ...]],
    ):
        self.path, self.types, self.purposes, self.problems = path, types, purposes, problems
        self.categories, self.policy, self.required = categories, policy, required

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{self.path.name}: {where}: {message}")

    def read(self) -> list[SyncDefinition]:
        try:
            document = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            self.problems.append(f"{self.path.name}: not valid YAML: {error}")
            return []
        if not isinstance(document, dict) or not isinstance(document.get("syncs"), list):
            self.problems.append(f"{self.path.name}: expected a top-level `syncs:` list")
            return []
        read = (self.sync(f"syncs[{index}]", item) for index, item in enumerate(document["syncs"]))
        return [sync for sync in read if sync is not None]

    def sync(self, where: str, item: object) -> SyncDefinition | None:
        before = len(self.problems)
        if not isinstance(item, dict):
            self.problem(where, "expected a mapping")
            return None
        name = item.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            self.problem(f"{where}.name", f"{name!r} is not a sync name (lowercase letters, digits and _)")
        else:
            where = f"{where} ({name})"
        known = {"name", "model", "destination", "mode", "primary_key", "mapping", "consent", "where", "schedule",
                 "owner"}  # fmt: skip
        if unknown := sorted(set(item) - known):
            self.problem(where, f"unknown field(s) {', '.join(unknown)}")
        model = item.get("model")
        if not isinstance(model, str) or not MODEL.match(model):
            self.problem(f"{where}.model", f"{model!r} is not an activation model (sync_<name>)")
        if (condition := item.get("where")) is not None and (problem := condition_problem(condition)):
            self.problem(f"{where}.where", problem)
        if not isinstance(item.get("primary_key"), str) or not item["primary_key"]:
            self.problem(f"{where}.primary_key", "required: the model column that identifies a row")
        consent = item.get("consent")
        consents = tuple(consent) if isinstance(consent, list) else (consent,)
        if not consents or any(purpose not in self.purposes for purpose in consents):
            self.problem(
                f"{where}.consent",
                f"{consent!r}: a sync needs the consent purpose(s) its rows must have ({', '.join(self.purposes)})",
            )
        destination = item.get("destination")
        settings: dict[str, Any] = {}
        destination_type = None
        if not isinstance(destination, dict) or destination.get("type") not in self.types:
            self.problem(f"{where}.destination.type", f"use one of {', '.join(sorted(self.types))}")
        else:
            destination_type = destination["type"]
            settings = self.settings(f"{where}.destination", destination)
            self.check_policy(where, destination_type, consents)
        mode = item.get("mode")
        if mode not in MODES:
            self.problem(f"{where}.mode", f"{mode!r} is not a mode; use one of {', '.join(MODES)}")
        elif destination_type and mode not in self.types[destination_type]:
            supported = ", ".join(self.types[destination_type])
            self.problem(f"{where}.mode", f"{destination_type} does not support {mode}; it supports {supported}")
        mapping = self.mapping(f"{where}.mapping", item.get("mapping"))
        schedule = item.get("schedule")
        if schedule is not None and not (isinstance(schedule, str) and CRON.match(schedule)):
            self.problem(f"{where}.schedule", f"{schedule!r} is not a cron schedule (five fields)")
        owner = item.get("owner")
        if owner is not None and not (isinstance(owner, str) and OWNER.match(owner)):
            self.problem(f"{where}.owner", f"{owner!r} is not an owner (an email address or team:<name>)")
        if len(self.problems) > before:
            return None
        return SyncDefinition(
            name=name,
            model=model,
            destination_type=destination_type,
            settings=settings,
            mode=mode,
            primary_key=item["primary_key"],
            mapping=mapping,
            consents=consents,
            defined_in=self.path,
            where=item.get("where"),
            schedule=schedule,
            owner=owner,
        )

    def check_policy(self, where: str, destination_type: str, consents: tuple[object, ...]) -> None:
        kind = self.categories.get(destination_type)
        if self.policy is None or kind is None:
            return
        missing = [purpose for purpose in self.policy.requires.get(kind, ()) if purpose not in consents]
        if missing:
            self.problem(
                f"{where}.consent",
                f"a {destination_type} destination ({kind}) requires consent {', '.join(missing)} under "
                f"{self.policy.defined_in.name}; this sync declares {', '.join(map(str, consents))}",
            )

    def settings(self, where: str, destination: dict) -> dict[str, Any]:
        settings: dict[str, Any] = {}
        for key, value in destination.items():
            if key == "type":
                continue
            if isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str):
                settings[key] = EnvSecret(value["env"])
            elif SECRET_SETTING.search(key):
                self.problem(f"{where}.{key}", "secrets come from the environment: write {env: VARIABLE_NAME}")
            elif isinstance(value, str) and SECRET_IN_VALUE.search(value):
                self.problem(
                    f"{where}.{key}",
                    "holds a credential in clear (a password or token in it): put the whole value in the "
                    "environment or a secrets file, and write {env: VARIABLE_NAME}",
                )
            else:
                settings[key] = value
        for name in self.required.get(destination.get("type"), ()):
            if name not in settings and name not in destination:
                self.problem(f"{where}.{name}", f"required for a {destination.get('type')} destination")
        return settings

    def mapping(self, where: str, mapping: object) -> tuple[FieldMapping, ...]:
        if not isinstance(mapping, dict) or not mapping:
            self.problem(where, "required: destination field -> model column, {constant: ...} or {template: ...}")
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
                    self.problem(f"{where}.{target}.template", f"not a valid jinja2 template: {error.message}")
                    continue
                fields.append(FieldMapping(str(target), template=source["template"]))
            else:
                self.problem(f"{where}.{target}", "expected a column name, {constant: ...} or {template: ...}")
        return tuple(fields)
