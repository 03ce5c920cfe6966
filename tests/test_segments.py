"""Declared segments: validation errors a marketer can act on, and the SQL they compile to."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from orchestration.segments.compile import compile_segments, render_model
from orchestration.segments.declarations import (
    AllOf,
    EventCondition,
    Not,
    SegmentDeclarationError,
    TraitCondition,
    load_declarations,
    trait_kinds,
)
from tessera.settings import PROJECT_DIR

TRAITS = {"lifetime_value": "number", "country": "text", "is_anonymous": "boolean", "last_order_at": "timestamp"}
PURPOSES = ["email_marketing", "advertising"]


def declare(tmp_path: Path, text: str, name: str = "team.yml") -> Path:
    (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


def load(folder: Path):
    return load_declarations(folder, traits=TRAITS, purposes=PURPOSES)


VALID = """
segments:
  - name: big_spenders_who_browse
    description: Spent 100 or more and viewed footwear 3 times this week, not anonymous.
    owner: crm@shop.example
    consent: email_marketing
    conditions:
      all:
        - trait: lifetime_value
          op: ">="
          value: 100
        - event: Product Viewed
          source: web_events
          within: 1w
          at_least: 3
          properties: {category: footwear}
        - not:
            trait: is_anonymous
            op: is_true
"""


def test_a_valid_declaration_loads_into_conditions(tmp_path: Path) -> None:
    [segment] = load(declare(tmp_path, VALID))
    assert segment.model_name == "segment_big_spenders_who_browse"
    assert segment.consent == "email_marketing"
    assert segment.condition == AllOf(
        (
            TraitCondition("lifetime_value", ">=", 100),
            EventCondition("Product Viewed", "web_events", 168, (("category", "footwear"),), ">=", 3),
            Not(TraitCondition("is_anonymous", "is_true", None)),
        )
    )


def test_it_compiles_to_one_where_over_profiles_and_a_count_per_event_condition(tmp_path: Path) -> None:
    [segment] = load(declare(tmp_path, VALID))
    sql = render_model(segment, tmp_path)
    assert "{{ ref('customer_profiles') }}" in sql and "{{ ref('customer_events') }}" in sql
    assert "when events.event_type = 'Product Viewed'" in sql
    assert "and events.source = 'web_events'" in sql
    assert "{{ dbt.dateadd('hour', -168, 'reference_time.as_of') }}" in sql
    assert "{{ tessera.json_text('events.properties', '$.category') }} = 'footwear'" in sql
    assert "profiles.lifetime_value >= 100" in sql
    assert "coalesce(event_counts.event_count_1, 0) >= 3" in sql
    assert "not coalesce(\n" in sql and "coalesce(profiles.is_anonymous, false)" in sql
    assert sql.rstrip().endswith("select * from members")


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (
            "trait: lifetime_vlaue\n      op: '>'\n      value: 1",
            "'lifetime_vlaue' is not a trait of customer_profiles",
        ),
        ("trait: country\n      op: '>'\n      value: FR", "'>' does not apply to country (text); use one of"),
        (
            "trait: lifetime_value\n      op: between\n      value: 5",
            "between on lifetime_value takes a pair of numbers",
        ),
        ("trait: last_order_at\n      op: within\n      value: 7 days", "within on last_order_at takes a window"),
        ("event: Product Viewed\n      within: 7 days", ".within: '7 days' is not a time window"),
        ("event: Product Viewed\n      at_least: -1", ".at_least: -1 is not a count"),
        ("event: Product Viewed\n      at_least: 1\n      at_most: 3", "give one of at_least, at_most, exactly"),
        ("event: Product Viewed\n      source: tiktok", ".source: 'tiktok' is not an event source"),
        ("event: Product Viewed\n      whithin: 7d", "unknown field(s) whithin in an event condition"),
        ("nand: []", "unknown condition with fields nand"),
    ],
)
def test_mistakes_are_named_with_file_segment_and_field(tmp_path: Path, conditions: str, expected: str) -> None:
    text = f"""
segments:
  - name: broken
    description: A broken one.
    owner: me@shop.example
    consent: none
    conditions:
      {conditions}
"""
    with pytest.raises(SegmentDeclarationError) as raised:
        load(declare(tmp_path, text))
    message = str(raised.value)
    assert f"{tmp_path / 'team.yml'}: segments[0] (broken).conditions" in message
    assert expected in message


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    declare(tmp_path, VALID, "a.yml")
    declare(
        tmp_path,
        """
        segments:
          - name: big_spenders_who_browse
            description: Same name as in a.yml.
            owner: me@shop.example
            consent: sms
            conditions: {trait: country, op: "=", value: FR}
          - name: Bad-Name
            owner: ""
        """,
        "b.yml",
    )
    with pytest.raises(SegmentDeclarationError) as raised:
        load(tmp_path)
    problems = raised.value.problems
    assert any(
        "b.yml: segments[0] (big_spenders_who_browse).consent: 'sms' is not a consent purpose" in p for p in problems
    )
    assert any("b.yml: segments[1].name: 'Bad-Name' is not a segment name" in p for p in problems)
    assert any("b.yml: segments[1].description: required" in p for p in problems)
    assert any("b.yml: segments[1].owner: required" in p for p in problems)
    assert any("segments[1].conditions: required" in p for p in problems)


def test_a_name_declared_twice_is_refused(tmp_path: Path) -> None:
    declare(tmp_path, VALID, "a.yml")
    declare(tmp_path, VALID, "b.yml")
    with pytest.raises(SegmentDeclarationError, match="declared twice"):
        load(tmp_path)


def test_a_file_that_is_not_a_segment_list_is_named(tmp_path: Path) -> None:
    declare(tmp_path, "name: lonely\n")
    with pytest.raises(SegmentDeclarationError, match=r"team\.yml: expected a top-level `segments:` list"):
        load(tmp_path)


def test_traits_are_the_documented_profile_columns_with_their_kinds() -> None:
    traits = trait_kinds()
    assert traits["lifetime_value"] == "number"
    assert traits["rfm_segment"] == "text"
    assert traits["consent_advertising"] == "boolean"
    assert traits["consent_email_marketing_at"] == "timestamp"


def test_the_generated_models_are_written_once_and_not_tracked(tmp_path: Path) -> None:
    """models/segments/declared/ and the segment list are what segments/*.yml compile to, written only on change
    (an unchanged project is not parsed again), and git-ignored: two analysts adding a segment never conflict."""
    import shutil
    import subprocess

    for name in ("dbt_project.yml", "segments", "models", "macros"):
        copy = shutil.copytree if (PROJECT_DIR / name).is_dir() else shutil.copy2
        copy(PROJECT_DIR / name, tmp_path / name)
    shutil.rmtree(tmp_path / "models" / "segments" / "declared", ignore_errors=True)
    first = compile_segments(tmp_path)
    assert first.written and compile_segments(tmp_path).written == [], "the second compile writes nothing"
    assert {"segment_cart_abandoners_7d", "segment_high_value_at_risk"} <= set(first.model_names)
    generated = [str(path.relative_to(tmp_path)) for path in first.written]
    ignored = subprocess.run(["git", "check-ignore", *generated], cwd=PROJECT_DIR, capture_output=True, text=True)
    assert sorted(ignored.stdout.split()) == sorted(generated), "every generated file is git-ignored"


def project_copy(tmp_path: Path) -> Path:
    """The files compile_segments reads and writes, in a scratch project."""
    for relative in ("dbt_project.yml", "models/marts/customers/_customers__models.yml", "segments/retail.yml"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_DIR / relative, tmp_path / relative)
    shutil.copytree(PROJECT_DIR / "models" / "segments", tmp_path / "models" / "segments")
    return tmp_path


def test_a_broken_segment_is_left_out_with_its_reason_and_the_others_compile(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    (project / "segments" / "more.yml").write_text(
        "segments:\n"
        "  - {name: typo_event, description: d, owner: team:crm, consent: none,\n"
        "     conditions: {event: Prodcut Added, within: 7d}}\n"
        "  - {name: wrong_source, description: d, owner: team:crm, consent: none,\n"
        "     conditions: {event: Product Added, source: email_events}}\n"
        "  - {name: not_yet, description: d, owner: team:crm, consent: none,\n"
        "     conditions: {event: Gift Card Redeemed}}\n"
        "  - {name: unknown_trait, description: d, owner: team:crm, consent: none,\n"
        "     conditions: {trait: shoe_size, op: '>', value: 40}}\n"
    )
    (project / "models" / "segments" / "segment_undocumented.sql").write_text("select customer_id from x\n")
    known = {
        "web_events": {"Product Added", "Product Viewed", "Order Completed"},
        "orders": {"Order Placed"},
        "email_events": {"Email Open"},
    }
    compiled = compile_segments(project, known_events=known, strict=False)
    assert {d.name for d in compiled.declared} == {
        "cart_abandoners_7d", "lapsed_store_customers", "new_subscribers_never_bought",
        "high_intent_anonymous_visitors", "not_yet",
    }  # fmt: skip
    assert compiled.warnings == [
        "more.yml: segment 'not_yet': event 'Gift Card Redeemed' was never seen in marts.customer_events yet: "
        "it matches nobody"
    ]
    problems = "\n".join(compiled.problems)
    assert (
        "segment 'typo_event': event 'Prodcut Added' was never seen in marts.customer_events; closest: "
        "'Product Added'" in problems
    )
    assert "event 'Product Added' was never seen from email_events, only from web_events" in problems
    assert "segments[3] (unknown_trait)" in problems and "shoe_size" in problems
    assert "segment_undocumented.sql: a SQL segment needs `meta.segment`" in problems
    assert "segment_undocumented" not in compiled.model_names and "segment_high_value_at_risk" in compiled.model_names
    assert not (project / "models" / "segments" / "declared" / "segment_typo_event.sql").exists()
    assert (project / "models" / "segments" / "declared" / "segment_cart_abandoners_7d.sql").exists()
    with pytest.raises(SegmentDeclarationError):
        compile_segments(project, known_events=known)


# Values a marketer (or an attacker) may type into a declaration: each must stay data.
HOSTILE_VALUES = [
    "Product Added'); drop table marts.segments; --",
    "{{ run_query('drop table marts.segments') }}",
    "{% if true %}x{% endif %}",
    "{# an opened comment",
    "it's",
    "back\\\\slash",
    "' or 1=1 or '",
]


def test_values_from_yaml_are_data_never_jinja_or_sql(tmp_path: Path) -> None:
    import duckdb
    import jinja2
    import yaml

    project = project_copy(tmp_path)
    segments = [
        {"name": f"hostile_{index}", "description": f"{value} {{% if %}} #}} -#}} {{{{ x }}}}", "owner": "team:crm",
         "consent": "none", "conditions": {"any": [{"event": value, "properties": {"category": value}},
                                                   {"trait": "city", "op": "=", "value": value}]}}
        for index, value in enumerate(HOSTILE_VALUES)
    ]  # fmt: skip
    (project / "segments" / "hostile.yml").write_text(yaml.safe_dump({"segments": segments}))
    compiled = compile_segments(project)
    assert compiled.problems == []

    def no_code(*args: object, **kwargs: object) -> str:
        raise AssertionError(f"a value ran as code: {args}")

    def stub(*args: object, **kwargs: object) -> str:
        return "stub"

    macros = type("Macros", (), {"json_text": staticmethod(lambda column, path: f"({column} ->> '{path}')")})
    functions = type("Dbt", (), {"dateadd": staticmethod(lambda *a: "now()")})
    dbt_like = jinja2.Environment(undefined=jinja2.StrictUndefined)
    for index, value in enumerate(HOSTILE_VALUES):
        model = (project / "models" / "segments" / "declared" / f"segment_hostile_{index}.sql").read_text()
        rendered = dbt_like.from_string(model).render(
            ref=stub, tessera=macros, dbt=functions, run_query=no_code, config=stub
        )
        literals = [line.split("= ", 1)[1].strip() for line in rendered.splitlines()
                    if "events.event_type = " in line or "profiles.city = " in line]  # fmt: skip
        assert literals, rendered
        for literal in literals:
            assert duckdb.execute(f"select {literal}").fetchone()[0] == value, literal
    properties = yaml.safe_load((project / "models" / "segments" / "declared" / "_declared__models.yml").read_text())
    descriptions = {model["name"]: model["description"] for model in properties["models"]}
    for segment in segments:
        shown = dbt_like.from_string(descriptions[f"segment_{segment['name']}"]).render()
        assert shown == segment["description"], "a description is shown as written, never run"
