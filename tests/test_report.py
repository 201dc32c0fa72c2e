from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from bitgoeul.demo import GREEN_BUTTON_FILE, sample_files
from bitgoeul.errors import NotFoundError
from bitgoeul.report import (
    DataSource,
    format_energy_kwh,
    format_period,
    format_power_w,
    write_report,
)
from bitgoeul.services import MeterDefaults, ingest_file, ingest_frame, list_meters, meter_peak
from bitgoeul.store import DuckDBStore, open_store

UNIT_KWH = {"[Wh]": 1e-3, "[kWh]": 1.0, "[MWh]": 1e3, "[GWh]": 1e6, "[TWh]": 1e9}
UNIT_KW = {"[W]": 1e-3, "[kW]": 1.0, "[MW]": 1e3, "[GW]": 1e6}
SOURCE = DataSource(
    name="Green Button sample <ESPI>",
    attribution="Copyright (c) 2018-2021 Green Button Alliance, Inc.",
    licence="Apache-2.0",
)


def office_frame() -> pd.DataFrame:
    """21 days of 15-minute readings, 2 kW by day and 0.5 kW by night (+-1 %), a 6-hour gap."""
    ts = pd.date_range("2025-06-02", periods=96 * 21, freq="15min", tz="Asia/Seoul")
    hours = ts.hour
    energy_kwh = np.where((hours >= 9) & (hours < 18), 0.5, 0.125)  # 2 kW, 0.5 kW
    energy_kwh = energy_kwh * np.random.default_rng(7).uniform(0.99, 1.01, ts.size)
    frame = pd.DataFrame({"meter_id": "office", "ts": ts, "energy_kwh": energy_kwh})
    gap = (frame["ts"] >= "2025-06-10 00:00+09:00") & (frame["ts"] < "2025-06-10 06:00+09:00")
    return frame[~gap]


@pytest.fixture(scope="module")
def report_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    store = open_store(str(tmp_path_factory.mktemp("report") / "store.duckdb"))
    with sample_files() as paths:
        ingest_file(
            paths[GREEN_BUTTON_FILE],
            store,
            defaults=MeterDefaults(site_id="gb", timezone="America/New_York"),
        )
    ingest_frame(office_frame(), store)
    yield store
    store.close()


@pytest.fixture(scope="module")
def meter_ids(report_store: DuckDBStore) -> list[str]:
    green = [s.meter.meter_id for s in list_meters(report_store) if s.meter.meter_id != "office"]
    return [*green, "office"]


@pytest.fixture(scope="module")
def page(
    report_store: DuckDBStore, meter_ids: list[str], tmp_path_factory: pytest.TempPathFactory
) -> str:
    out = tmp_path_factory.mktemp("html") / "nested" / "report.html"
    written = write_report(report_store, meter_ids, out, sources=[SOURCE])
    assert written == out
    return out.read_text(encoding="utf-8")


def plotted(page: str, suffix: str, index: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return the traces and layout of the index-th chart whose div id ends in suffix."""
    calls = list(re.finditer(r'Plotly\.newPlot\(\s*"([^"]+-' + suffix + r')",\s*', page))
    decoder = json.JSONDecoder()
    data, end = decoder.raw_decode(page, calls[index].end())
    rest = re.compile(r",\s*").match(page, end)
    assert rest is not None
    layout, _ = decoder.raw_decode(page, rest.end())
    return data, layout


def test_report_embeds_plotly_js_of_the_installed_package_once(page: str) -> None:
    library = get_plotlyjs()
    assert library in page
    assert page.count(library[:200]) == 1


def test_report_loads_nothing_from_the_network(page: str) -> None:
    assert re.search(r"<script\b[^>]*\bsrc\s*=", page, flags=re.IGNORECASE) is None
    assert re.search(r"<link\b", page, flags=re.IGNORECASE) is None
    assert re.search(r"<(img|iframe)\b[^>]*\bsrc\s*=\s*[\"']?(https?:)?//", page) is None
    assert "@import" not in page
    outside_library = page.replace(get_plotlyjs(), "")
    assert "cdn.plot.ly" not in outside_library
    assert "https://cdn" not in outside_library


def test_report_names_each_meter_with_bilingual_headings(page: str, meter_ids: list[str]) -> None:
    for meter_id in meter_ids:
        assert meter_id in page
    for heading in (
        "일별 사용량 / Daily energy",
        "월별 사용량 / Monthly energy",
        "하루 부하 곡선 / Typical day",
        "데이터 품질 / Data quality",
        "출처 / Data sources",
        "최대수요 / Peak demand",
        "대기전력 / Standby power",
    ):
        assert heading in page, heading


def test_report_cards_show_total_energy_peak_and_standby(page: str) -> None:
    # Green Button sample: 1,391,666 Wh in all; peak 15-minute demand 6.64 kW.
    assert "1.39 MWh" in page
    assert "1,392 kWh · 1,340 readings" in page
    assert "6.64 kW" in page
    assert "2012-03-09 08:45–09:00 EST" in page
    office = page[page.index('id="m1-office"') :]
    assert re.search(r"4\d\d W · robust, 2\d days", office)


def test_daily_chart_bars_add_up_to_the_meters_total(
    page: str, report_store: DuckDBStore, meter_ids: list[str]
) -> None:
    totals = {s.meter.meter_id: s.total_energy_kwh for s in list_meters(report_store)}
    for index, meter_id in enumerate(meter_ids):
        data, layout = plotted(page, "daily", index)
        bars = next(t for t in data if t["type"] == "bar")
        mean = next(t for t in data if t["type"] == "scatter")
        factor = UNIT_KWH[layout["yaxis"]["title"]["text"]]
        assert sum(y for y in bars["y"] if y is not None) * factor == pytest.approx(
            totals[meter_id], rel=1e-5
        )
        assert mean["y"][:6] == [None] * 6 and mean["y"][6] is not None


def test_monthly_chart_sets_each_month_beside_the_same_month_a_year_earlier(page: str) -> None:
    data, _ = plotted(page, "monthly", 0)
    this_year, last_year = data
    assert this_year["x"] == ["2012-03"]
    assert last_year["y"] == [None]


def test_profile_chart_draws_day_types_and_a_line_at_peak_demand(
    page: str, report_store: DuckDBStore
) -> None:
    data, layout = plotted(page, "profile", 1)
    names = [t["name"] for t in data]
    assert any(n.startswith("평일 / Weekday") for n in names)
    assert any(n.startswith("주말 / Weekend") for n in names)
    factor = UNIT_KW[layout["yaxis"]["title"]["text"]]
    peak = meter_peak(report_store, "office")
    assert peak is not None
    lines = [shape["y0"] * factor for shape in layout["shapes"]]
    assert len(lines) == 2
    assert peak.demand_kw == pytest.approx(lines[0])
    assert lines[1] == pytest.approx(0.5, rel=0.02)  # standby: the night-time floor


def test_report_tables_each_finding_code(page: str) -> None:
    office = page[page.index('id="m1-office"') :]
    assert "<code>gap</code>" in office
    assert "2025-06-10 00:00" in office
    green = page[: page.index('id="m1-office"')]
    assert "No findings" in green


def test_report_credits_sources_escaped_and_plotly(page: str) -> None:
    assert "Green Button sample &lt;ESPI&gt;" in page
    assert "Apache-2.0" in page
    assert "MIT licence" in page


def test_report_refuses_unknown_meter_without_writing(
    report_store: DuckDBStore, tmp_path: Path
) -> None:
    out = tmp_path / "r.html"
    with pytest.raises(NotFoundError):
        write_report(report_store, ["office", "no-such-meter"], out)
    assert not out.exists()


def test_report_needs_at_least_one_meter(report_store: DuckDBStore, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one meter"):
        write_report(report_store, [], tmp_path / "r.html")


def test_format_helpers_pick_a_readable_prefix() -> None:
    assert format_energy_kwh(6_794_643_000) == "6.79 TWh"
    assert format_energy_kwh(1391.666) == "1.39 MWh"
    assert format_energy_kwh(0.4) == "400 Wh"
    assert format_power_w(572e6) == "572 MW"
    assert format_power_w(500.0) == "500 W"
    assert format_power_w(6640.0) == "6.64 kW"
    assert format_power_w(float("nan")) == "—"
    start = pd.Timestamp("2022-10-27 23:00", tz="Asia/Seoul").to_pydatetime()
    end = pd.Timestamp("2022-10-28 00:00", tz="Asia/Seoul").to_pydatetime()
    assert format_period(start, end) == "2022-10-27 23:00–10-28 00:00 KST"
