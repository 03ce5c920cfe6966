"""What a person sees, in a real browser: headless Chromium (Debian's, driven by Playwright) opens the Dagster
UI's asset graph and the catalog's page of `customer_profiles`, checks what must be there, and saves screenshots
to `logs/screenshots/` for a person to look at."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tessera.settings import PROJECT_DIR, settings

CHROMIUM = str(settings().chromium)
SCREENSHOTS = PROJECT_DIR / "logs" / "screenshots"
LAYERS = ("loaders", "staging", "identity", "profiles", "segments", "activation", "syncs")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM} (`make test` installs Debian's chromium; or set TESSERA_CHROMIUM)"
        if settings().require_services:
            pytest.fail(f"Chromium is required (TESSERA_REQUIRE_SERVICES=1): {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise TimeoutError(f"{url} did not answer within {seconds:.0f} s")


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path_factory.mktemp("ui_home")))
    command = [sys.executable, "-m", "dagster_webserver", "-m", "orchestration.definitions", "-h", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "-p", str(port)], env=env, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/server_info")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_dagster_ui_shows_every_layer_and_the_syncs(browser, dagster_ui: str) -> None:
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{dagster_ui}/asset-groups", wait_until="networkidle")
    skip = page.get_by_role("button", name="Skip")  # the community sign-up a fresh instance shows once
    if skip.count():
        skip.first.click()
    page.get_by_text("Global asset lineage").first.wait_for()
    for layer in LAYERS:
        page.get_by_text(layer, exact=True).first.wait_for()
    page.wait_for_timeout(1500)  # the graph lays itself out
    page.screenshot(path=SCREENSHOTS / "dagster_asset_graph.png")
    page.goto(f"{dagster_ui}/assets/reverse_etl/vip_members_file", wait_until="networkidle")
    page.get_by_text("Syncs activation.sync_segment_members to file").first.wait_for()
    page.screenshot(path=SCREENSHOTS / "dagster_sync_asset.png")
    assert (SCREENSHOTS / "dagster_asset_graph.png").stat().st_size > 10_000
    page.close()


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The catalog built from an empty warehouse (the pages come from the project; types would come from a
    built one) and served as `tessera docs` serves it."""
    from orchestration.catalog import build_docs, serve_command
    from orchestration.prepare import prepare

    prepare()
    site = build_docs(tmp_path_factory.mktemp("catalog") / "empty.duckdb", compile_sql=False)
    copy = tmp_path_factory.mktemp("site") / "site"
    shutil.copytree(site, copy, ignore=shutil.ignore_patterns("tessera_dbt_models-*", "run", "compiled"))
    port = free_port()
    server = subprocess.Popen(serve_command(port, site=copy), cwd=PROJECT_DIR, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/index.html", 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_catalog_page_of_customer_profiles_shows_its_description_and_columns(browser, catalog: str) -> None:
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{catalog}/index.html#!/model/model.tessera.customer_profiles", wait_until="networkidle")
    page.get_by_text("customer_profiles", exact=True).first.wait_for()
    page.get_by_text("consent_email_marketing").first.wait_for()
    page.wait_for_timeout(1000)
    page.screenshot(path=SCREENSHOTS / "catalog_customer_profiles.png", full_page=True)
    assert "One row per customer: the golden record" in page.inner_text("body")
    page.close()
