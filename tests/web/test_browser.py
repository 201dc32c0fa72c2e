"""The dashboard in a real browser (Debian's Chromium through Playwright) against a real server.

The store holds organisation ``acme`` with two sites: ``home`` (the packaged demo
household, half-hourly, on the residential contract) and ``plant`` (a synthetic
year of 15-minute readings, 35,040 values, for the load-time budget), and a
second organisation ``rival`` whose meter ``acme`` must never see. Screenshots
go to ``$BITGOEUL_ARTIFACTS`` (default ``test-artifacts/``)/``browser``.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from tests.conftest import load_bench_api

from bitgoeul.demo import HOUSEHOLD_FILE, sample_files
from bitgoeul.services import MeterDefaults, ingest_file, ingest_frame
from bitgoeul.services.tenancy import create_organisation, issue_key
from bitgoeul.store import open_store
from bitgoeul.synthetic import generate_readings

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
YEAR_OF_15MIN = 35_040
SEOUL = ZoneInfo("Asia/Seoul")
PLANT_START = dt.datetime(2025, 11, 15, tzinfo=SEOUL)
"""The plant's year ends on 2026-11-14, in the middle of a billing cycle."""

if not CHROMIUM.exists():  # CI installs chromium from Debian packages and sets the variable
    if os.environ.get("BITGOEUL_REQUIRE_BROWSER"):
        raise RuntimeError(f"{CHROMIUM} is missing but BITGOEUL_REQUIRE_BROWSER is set")
    pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium", allow_module_level=True)

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402


@dataclass(frozen=True)
class Server:
    url: str
    admin_key: str
    share_key: str
    rival_key: str
    utility_key: str


def _renamed(table: pa.Table, meter_id: str) -> pa.Table:
    ids = pa.array([meter_id] * table.num_rows, pa.string())
    return table.set_column(table.schema.get_field_index("meter_id"), "meter_id", ids)


def _prepare_store(path: Path) -> dict[str, str]:
    store = open_store(str(path))
    try:
        admin = create_organisation(store, "acme", name="Acme Buildings")
        rival = create_organisation(store, "rival")
        with sample_files() as files:
            ingest_file(
                files[HOUSEHOLD_FILE],
                store,
                defaults=MeterDefaults(
                    org_id="acme", site_id="home", reading_day=1, contract_class="residential-low"
                ),
            )
        year = generate_readings(1, YEAR_OF_15MIN, interval_s=900, start=PLANT_START, seed=7)
        ingest_frame(
            _renamed(year, "plant-main"),
            store,
            defaults=MeterDefaults(
                org_id="acme", site_id="plant", reading_day=1, contract_class="residential-low"
            ),
        )
        ingest_frame(
            _renamed(generate_readings(1, 24 * 60, interval_s=3600, seed=9), "rival-meter"),
            store,
            defaults=MeterDefaults(org_id="rival", site_id="rival-hq"),
        )
        share = issue_key(store, "acme", scopes=["read"], share=True, site_ids=["home"])
        utility = create_organisation(store, "utility")
        months = pa.array(
            [dt.datetime(2025 + m // 12, m % 12 + 1, 1, tzinfo=SEOUL) for m in range(23)],
            pa.timestamp("us", tz="Asia/Seoul"),
        )
        bins = pa.table(  # one reading a month, as a bill-based export gives
            {
                "meter_id": ["monthly-bins"] * 23,
                "ts": months,
                "energy_kwh": [300.0 + 7 * m for m in range(23)],
            }
        )
        ingest_frame(
            bins,
            store,
            defaults=MeterDefaults(
                org_id="utility", site_id="town", contract_class="residential-low"
            ),
        )
    finally:
        store.close()
    return {
        "admin": admin.token,
        "share": share.token,
        "rival": rival.token,
        "utility": utility.token,
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("dashboard")
    store_path = folder / "s.duckdb"
    keys = _prepare_store(store_path)
    bench = load_bench_api()
    with bench.Server(store_path, port=bench.free_port()) as running:
        yield Server(
            f"http://{bench.HOST}:{running.port}",
            keys["admin"],
            keys["share"],
            keys["rival"],
            keys["utility"],
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    root = Path(os.environ.get("BITGOEUL_ARTIFACTS", "test-artifacts"))
    folder = root / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _ready(page: Page) -> dict[str, Any]:
    """Wait until the page says it is drawn (polled: the page's CSP forbids eval)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        ready: dict[str, Any] | None = page.evaluate("window.bitgoeulReady || null")
        if ready is not None:
            return ready
        time.sleep(0.02)
    pytest.fail(
        f"the dashboard did not finish drawing in 15 s; status: {page.inner_text('#status')}"
    )


def _charts(page: Page) -> dict[str, int]:
    """Chart id -> points of data in its traces that hold a number."""
    counts: dict[str, int] = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.js-plotly-plot')].map(
            (div) => [div.id, div.data.reduce(
                (n, trace) => n + (trace.y || []).filter((v) => v !== null).length, 0)]))"""
    )
    return counts


def _fetch(page: Page, path: str, key: str) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(
        """async ([path, key]) => {
            const r = await fetch(path, {headers: {'X-API-Key': key}});
            return {status: r.status, body: await r.json()};
        }""",
        [path, key],
    )
    return result


def test_dashboard_draws_every_chart_with_data_for_a_year_of_15min(
    server: Server, page: Page, artifacts: Path
) -> None:
    page.goto(f"{server.url}/?key={server.admin_key}&lang=en#meter=plant-main")
    ready = _ready(page)
    assert ready["view"] == "meter"
    charts = _charts(page)
    expected = {"chart-curve", "chart-daily", "chart-monthly", "chart-bill", "chart-forecast"}
    assert set(charts) == expected
    assert all(n > 0 for n in charts.values()), charts
    first_trace = page.evaluate("document.getElementById('chart-curve').data[1].y.length")
    assert first_trace == 96  # 15-minute steps of today
    assert "key=" not in page.url  # stripped from the address bar, kept in sessionStorage
    assert page.evaluate("sessionStorage.getItem('bitgoeul.key')") == server.admin_key
    assert "2026-11-14" in page.locator("#today-note").inner_text()
    assert "Tier 1" in page.locator("#chart-bill").inner_text()
    page.screenshot(path=artifacts / "meter-en.png", full_page=True)

    # A returning visitor: plotly.js comes from the browser's cache and the key from
    # sessionStorage. How long either visit takes: benchmarks/bench_dashboard.py.
    page.reload()
    assert _ready(page)["view"] == "meter"
    assert all(n > 0 for n in _charts(page).values())


def test_language_switch_changes_text_and_is_remembered(
    server: Server, page: Page, artifacts: Path
) -> None:
    page.goto(f"{server.url}/?key={server.admin_key}#meter=demo-household")
    _ready(page)  # the browser says en-GB: English by default
    heading = page.locator("#chart-curve").locator("xpath=..").locator("h2")
    assert heading.inner_text() == "Today's power curve"
    page.click("button[data-lang=ko]")
    assert heading.inner_text() == "오늘의 전력 곡선"
    assert page.evaluate("document.documentElement.lang") == "ko"
    assert "누진 1단계" in page.locator("#chart-bill").inner_text()
    assert "오늘" in page.locator("#chart-curve").inner_text()  # legend redrawn
    ticks = page.eval_on_selector_all(
        "#chart-bill .xtick text", "els => els.map(e => e.textContent)"
    )
    assert ticks and all(t.startswith("11월 ") for t in ticks), ticks  # the cycle, in Korean
    page.screenshot(path=artifacts / "meter-ko.png", full_page=True)
    page.reload()
    _ready(page)
    assert heading.inner_text() == "오늘의 전력 곡선"
    page.click("button[data-lang=en]")
    assert heading.inner_text() == "Today's power curve"


def test_fleet_lists_the_organisation_and_opens_a_meter(
    server: Server, page: Page, artifacts: Path
) -> None:
    page.goto(f"{server.url}/?lang=en")
    assert page.locator("#key-prompt").is_visible()
    page.screenshot(path=artifacts / "key-prompt.png")
    page.fill("#key-input", server.admin_key)
    page.click("#key-form button")
    page.wait_for_selector("#fleet-table tbody tr[data-meter]")
    rows = page.locator("#fleet-table tbody tr").evaluate_all(
        "rows => rows.map((r) => r.dataset.meter)"
    )
    assert rows == ["demo-household", "plant-main"]  # never the rival's meter
    assert page.locator("#fleet .badge").count() == 2
    page.screenshot(path=artifacts / "fleet-en.png", full_page=True)
    page.evaluate("window.bitgoeulReady = undefined")
    page.click("tr[data-meter=demo-household]")
    assert _ready(page)["meter"] == "demo-household"
    assert all(n > 0 for n in _charts(page).values())
    assert _fetch(page, "/v1/meters/rival-meter/dashboard", server.admin_key)["status"] == 404


def test_share_key_sees_only_its_site(server: Server, page: Page, artifacts: Path) -> None:
    page.goto(f"{server.url}/?key={server.share_key}&lang=ko")
    ready = _ready(page)
    assert ready["meter"] == "demo-household"  # its only meter opens at once
    assert all(n > 0 for n in _charts(page).values())
    page.screenshot(path=artifacts / "share-ko.png", full_page=True)
    fleet = _fetch(page, "/v1/fleet", server.share_key)
    assert [m["meter_id"] for m in fleet["body"]["items"]] == ["demo-household"]
    other = _fetch(page, "/v1/meters/plant-main/dashboard", server.share_key)
    assert other["status"] == 404
    page.evaluate("window.bitgoeulReady = undefined")
    page.goto(f"{server.url}/#meter=plant-main")
    assert _ready(page)["status"] == 404
    assert "plant-main" in page.locator("#status").inner_text()
    assert not page.locator("#meter").is_visible()
    rival = _fetch(page, "/v1/fleet", server.rival_key)
    assert [m["meter_id"] for m in rival["body"]["items"]] == ["rival-meter"]


def test_a_monthly_meter_shows_what_its_readings_allow(
    server: Server, page: Page, artifacts: Path
) -> None:
    page.goto(f"{server.url}/?key={server.utility_key}&lang=en#meter=monthly-bins")
    ready = _ready(page)
    assert (ready["view"], ready["meter"]) == ("meter", "monthly-bins"), ready
    charts = _charts(page)
    assert charts.get("chart-monthly", 0) > 0  # one reading a month fills the months
    assert "chart-daily" not in charts
    assert "day periods are finer than its readings" in page.locator("#chart-daily").inner_text()
    page.screenshot(path=artifacts / "monthly-en.png", full_page=True)
