"""Dashboard load time for a meter with a year of 15-minute data, beside the static report.

A real ``bitgoeul serve`` on 127.0.0.1 serves a fresh store with one synthetic meter
(35,040 readings). Debian's Chromium, driven by Playwright, times:

- the dashboard: navigation to every chart drawn (``window.bitgoeulReady``), first in a
  fresh browser profile, then with the browser's cache warm;
- the peer, in the same browser: the self-contained HTML report of the same meter
  (``bitgoeul.report.write_report``, plotly.js inline, opened from a file), navigation to
  its ``load`` event, fresh profile and warm.

Both pages compile the same 4.8 MB plotly.js; the report needs no server and no query.
It also times the JSON route alone (``GET /v1/meters/{id}/dashboard``), and DuckDB's own
daily rollup of the same readings as a floor.

Run::

    .venv/bin/python benchmarks/bench_dashboard.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
from playwright.sync_api import Browser, sync_playwright

from bitgoeul.report import write_report
from bitgoeul.services import MeterDefaults, ingest_frame
from bitgoeul.services.tenancy import create_organisation
from bitgoeul.store import open_store
from bitgoeul.synthetic import generate_readings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import HOST, Server, free_port  # the same `bitgoeul serve` runner

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
METER = "plant-main"
START = dt.datetime(2025, 11, 15, tzinfo=ZoneInfo("Asia/Seoul"))


def prepare(folder: Path) -> tuple[Path, str, Path]:
    """Return the store, an admin key and the static report of the same meter."""
    path = folder / "s.duckdb"
    store = open_store(str(path))
    try:
        key = create_organisation(store, "acme").token
        year = generate_readings(1, 35_040, interval_s=900, start=START, seed=7)
        ids = pa.array([METER] * year.num_rows, pa.string())
        year = year.set_column(year.schema.get_field_index("meter_id"), "meter_id", ids)
        defaults = MeterDefaults(org_id="acme", site_id="plant", contract_class="residential-low")
        ingest_frame(year, store, defaults=defaults)
        report = write_report(store, [METER], folder / "report.html")
        started = time.perf_counter()
        store.connection.sql(
            "SELECT date_trunc('day', ts AT TIME ZONE 'Asia/Seoul') d, sum(energy_kwh) "
            "FROM reading GROUP BY 1"
        ).fetchall()
        print(
            f"DuckDB daily rollup of the year, floor: {(time.perf_counter() - started) * 1e3:.1f} ms"
        )
    finally:
        store.close()
    return path, key, report


def dashboard_ms(browser: Browser, url: str, key: str, warm: int) -> tuple[float, list[float]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    times = []
    for visit in range(1 + warm):
        if visit == 0:
            page.goto(f"{url}/?key={key}&lang=en#meter={METER}")
        else:
            page.reload()
        deadline = time.monotonic() + 30
        ready = None
        while ready is None and time.monotonic() < deadline:
            ready = page.evaluate("window.bitgoeulReady || null")
            time.sleep(0.01)
        if ready is None or ready.get("view") != "meter":
            raise SystemExit(f"the dashboard did not draw: {ready}")
        times.append(float(ready["at_ms"]))
    context.close()
    return times[0], times[1:]


def report_ms(browser: Browser, report: Path, warm: int) -> tuple[float, list[float]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    times = []
    for visit in range(1 + warm):
        if visit == 0:
            page.goto(report.as_uri(), wait_until="load")
        else:
            page.reload(wait_until="load")
        times.append(
            float(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
        )
    context.close()
    return times[0], times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh-profile visits of each page")
    parser.add_argument("--warm", type=int, default=3, help="warm reloads after each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        folder = Path(tmp)
        store, key, report = prepare(folder)
        with Server(store, port=free_port()) as server:
            url = f"http://{HOST}:{server.port}"
            route = []
            for _ in range(args.repeats):
                request = urllib.request.Request(
                    f"{url}/v1/meters/{METER}/dashboard", headers={"X-API-Key": key}
                )
                started = time.perf_counter()
                with urllib.request.urlopen(request, timeout=30) as response:
                    size = len(response.read())
                route.append((time.perf_counter() - started) * 1e3)
            rows = {"dashboard": ([], []), "static report (peer)": ([], [])}
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                for _ in range(args.repeats):
                    first, warm = dashboard_ms(browser, url, key, args.warm)
                    rows["dashboard"][0].append(first)
                    rows["dashboard"][1].extend(warm)
                    first, warm = report_ms(browser, report, args.warm)
                    rows["static report (peer)"][0].append(first)
                    rows["static report (peer)"][1].extend(warm)
                browser.close()
    print(
        f"JSON route, median of {args.repeats}: {statistics.median(route):.0f} ms ({size:,} bytes)"
    )
    print("| page | first visit, median [ms] | warm, median [ms] |")
    print("|---|---:|---:|")
    for name, (first, warm) in rows.items():
        print(f"| {name} | {statistics.median(first):.0f} | {statistics.median(warm):.0f} |")
    dash, peer = rows["dashboard"], rows["static report (peer)"]
    ratio_first = statistics.median(dash[0]) / statistics.median(peer[0])
    ratio_warm = statistics.median(dash[1]) / statistics.median(peer[1])
    print(f"dashboard / report: first visit {ratio_first:.2f}x, warm {ratio_warm:.2f}x")


if __name__ == "__main__":
    main()
