"""The walls of the house: the layers hold (import-linter), importing writes nothing, every knob is one typed
setting documented in the README, a mistake in a sync is found when it is read (by `tessera segments compile`
and by `dagster definitions validate`, naming the field), and a sync's `schedule:` is what runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tessera.settings import PROJECT_DIR, Settings, SettingsError, settings, shown

BIN = Path(sys.executable).parent
MISSING_LIST_ID = """
syncs:
  - name: vips_to_mailchimp
    model: sync_segment_members
    destination: {type: mailchimp, api_key: {env: MC_KEY}}
    mode: upsert
    primary_key: membership_id
    mapping: {email: email}
    consent: email_marketing
"""


def test_the_layers_hold() -> None:
    result = subprocess.run([BIN / "lint-imports"], capture_output=True, text=True, cwd=PROJECT_DIR, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_every_setting_is_in_the_readme_with_its_default_and_profiles_yml_falls_back_to_the_same() -> None:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(TESSERA_[A-Z_]+)` \| ([^|]*) \|", readme, re.MULTILINE))
    defaults = Settings.model_construct()  # the defaults, whatever the environment says (CI sets some)
    for name in Settings.model_fields:
        variable = f"TESSERA_{name.upper()}"
        assert variable in rows, f"{variable} is not in the README's table of settings"
        value = getattr(defaults, name)
        written = shown(value) if isinstance(value, Path) else str(value).lower() if isinstance(value, bool) else value
        assert rows[variable].strip() == ("" if value is None else f"`{written}`"), variable
    assert set(rows) == {f"TESSERA_{name.upper()}" for name in Settings.model_fields}, "no stale row"
    profile = (PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8")
    fallbacks = dict(re.findall(r"env_var\('(TESSERA_[A-Z_]+)', '([^']*)'\)", profile))
    assert fallbacks["TESSERA_DBT_TARGET"] == defaults.dbt_target
    assert fallbacks["TESSERA_DUCKDB_MEMORY_LIMIT"] == defaults.duckdb_memory_limit
    assert PROJECT_DIR / fallbacks["TESSERA_WAREHOUSE"] == defaults.warehouse


def test_a_setting_that_does_not_fit_is_named_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_STEP_RETRIES", "twice")
    monkeypatch.setenv("TESSERA_PIPELINE_CRON", "daily")
    with pytest.raises(SettingsError) as raised:
        settings()
    assert "TESSERA_STEP_RETRIES='twice'" in str(raised.value) and "TESSERA_PIPELINE_CRON='daily'" in str(raised.value)
    result = subprocess.run([BIN / "tessera", "run"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "TESSERA_STEP_RETRIES": "twice"})  # fmt: skip
    assert result.returncode == 2 and "TESSERA_STEP_RETRIES='twice'" in result.stderr, result.stderr


def test_the_published_schemas_of_sync_and_segment_files_are_current() -> None:
    from orchestration.prepare import schemas

    for name, schema in schemas().items():
        published = json.loads((PROJECT_DIR / "docs" / "schemas" / name).read_text(encoding="utf-8"))
        assert published == json.loads(json.dumps(schema)), f"{name}: run `tessera schemas` and commit docs/schemas/"


@pytest.fixture
def broken_syncs(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "syncs").mkdir()
    (tmp_path / "syncs" / "crm.yml").write_text(MISSING_LIST_ID, encoding="utf-8")
    return {**os.environ, "TESSERA_SYNCS_DIR": str(tmp_path / "syncs"), "TESSERA_WAREHOUSE": str(tmp_path / "w.duckdb")}


def test_a_missing_destination_setting_fails_segments_compile_naming_the_field(broken_syncs: dict[str, str]) -> None:
    result = subprocess.run([BIN / "tessera", "segments", "compile"], capture_output=True, text=True, timeout=120,
                            env=broken_syncs, cwd=PROJECT_DIR)  # fmt: skip
    assert result.returncode == 1
    assert "crm.yml: syncs[0] (vips_to_mailchimp).destination.list_id: required for a mailchimp destination" in (
        result.stderr
    ), result.stdout + result.stderr


def test_a_missing_destination_setting_fails_dagster_definitions_validate_naming_the_field(
    broken_syncs: dict[str, str],
) -> None:
    command = [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "orchestration.definitions"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=broken_syncs, cwd=PROJECT_DIR)
    assert result.returncode != 0
    assert "(vips_to_mailchimp).destination.list_id: required for a mailchimp destination" in (
        result.stdout + result.stderr
    )


def test_a_sync_runs_on_its_own_schedule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dagster as dg

    from orchestration.defs import definitions
    from orchestration.prepare import prepare

    folder = tmp_path / "syncs"
    folder.mkdir()
    document = yaml.safe_load((PROJECT_DIR / "reverse_etl" / "syncs" / "demo.yml").read_text(encoding="utf-8"))
    [sync] = document["syncs"]
    nightly = {**sync, "name": "vip_members_nightly", "schedule": "30 2 * * *"}
    (folder / "demo.yml").write_text(yaml.safe_dump({"syncs": [sync, nightly]}), encoding="utf-8")
    monkeypatch.setenv("TESSERA_SYNCS_DIR", str(folder))
    prepare()
    defs = definitions()
    own = defs.resolve_schedule_def("syncs_30_2_x_x_x_schedule")
    assert own.cron_schedule == "30 2 * * *"
    nightly_job = defs.resolve_job_def(own.job_name)
    hourly_job = defs.resolve_job_def(defs.resolve_schedule_def("syncs_schedule").job_name)
    assert nightly_job.asset_layer.executable_asset_keys == {dg.AssetKey(["reverse_etl", "vip_members_nightly"])}
    assert dg.AssetKey(["reverse_etl", "vip_members_file"]) in hourly_job.asset_layer.executable_asset_keys
    assert dg.AssetKey(["reverse_etl", "vip_members_nightly"]) not in hourly_job.asset_layer.executable_asset_keys
    monkeypatch.delenv("TESSERA_SYNCS_DIR")
    prepare()  # the project's own exposures again
