from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from bitgoeul.model import Meter, Organisation, Site
from bitgoeul.services import MeterDefaults, ingest_frame
from bitgoeul.services.dashboard import (
    DAILY_DAYS,
    LAST_YEAR_DAYS,
    MONTHLY_MONTHS,
    curve_resolution_s,
    fleet_row,
    meter_dashboard,
)
from bitgoeul.store import DuckDBStore

SEOUL = ZoneInfo("Asia/Seoul")
RESIDENTIAL = MeterDefaults(site_id="home", reading_day=1, contract_class="residential-low")


def _ingest_constant(
    store: DuckDBStore,
    *,
    start: dt.datetime,
    end: dt.datetime,
    interval_s: int = 900,
    power_kw: float = 1.0,
    meter_id: str = "m1",
    drop: slice | None = None,
) -> pd.DataFrame:
    """A meter drawing ``power_kw`` on average: every number on the dashboard is known.

    Readings alternate 10 % above and below (a constant would be flagged as a stuck
    meter), so every hour of sub-hourly data and every day of hourly data is exact.
    """
    ts = pd.date_range(start, end, freq=f"{interval_s}s", inclusive="left")
    wiggle = np.where(np.arange(len(ts)) % 2 == 0, 1.1, 0.9)
    energy = power_kw * interval_s / 3600 * wiggle
    frame = pd.DataFrame({"meter_id": meter_id, "ts": ts, "energy_kwh": energy})
    if drop is not None:
        frame = frame.drop(frame.index[drop])
    ingest_frame(frame, store, defaults=RESIDENTIAL)
    return frame


@pytest.mark.parametrize(
    ("interval_s", "expected"),
    [(60, 900), (300, 900), (900, 900), (1800, 1800), (3600, 3600), (7200, 3600), (None, 3600)],
)
def test_curve_resolution_s_keeps_15_and_30_minutes(interval_s: int | None, expected: int) -> None:
    assert curve_resolution_s(interval_s) == expected


def test_meter_dashboard_today_is_the_last_reading_day_in_kw(store: DuckDBStore) -> None:
    _ingest_constant(
        store,
        start=dt.datetime(2025, 10, 1, tzinfo=SEOUL),
        end=dt.datetime(2026, 11, 5, 14, tzinfo=SEOUL),  # last reading 13:45
        power_kw=2.0,
    )
    board = meter_dashboard(store, "m1")
    today = board["today"]
    assert today["date"] == "2026-11-05"
    assert today["last_reading"] == "2026-11-05T13:45:00+09:00"
    assert today["resolution_s"] == 900
    assert len(today["steps"]) == len(today["today_kw"]) == len(today["yesterday_kw"]) == 96
    assert today["today_kw"][:56] == [2.2, 1.8] * 28  # 00:00 .. 13:45
    assert today["today_kw"][56:] == [None] * 40  # not measured yet
    assert today["yesterday_kw"] == [2.2, 1.8] * 48
    assert today["energy_kwh"] == pytest.approx(28.0)
    assert today["yesterday_kwh"] == pytest.approx(48.0)
    assert today["peak_kw"] == 2.2
    assert board["bill"] is not None and board["forecast"] is not None


def test_meter_dashboard_bars_sit_beside_last_year(store: DuckDBStore) -> None:
    frame = _ingest_constant(
        store,
        start=dt.datetime(2025, 1, 1, tzinfo=SEOUL),
        end=dt.datetime(2026, 11, 11, tzinfo=SEOUL),
        interval_s=3600,
        power_kw=0.5,
        drop=slice(24 * 300, 24 * 301),  # 2025-10-28 is missing
    )
    board = meter_dashboard(store, "m1")
    daily = board["daily"]
    assert len(daily["dates"]) == DAILY_DAYS
    assert daily["dates"][-1] == "2026-11-10"
    ago = dt.date(2026, 11, 10) - dt.timedelta(days=LAST_YEAR_DAYS)
    assert daily["last_year_dates"][-1] == ago.isoformat()
    assert ago.weekday() == dt.date(2026, 11, 10).weekday()
    assert daily["energy_kwh"] == [12.0] * DAILY_DAYS
    missing = daily["last_year_dates"].index("2025-10-28")
    assert daily["last_year_kwh"][missing] is None
    assert [v for i, v in enumerate(daily["last_year_kwh"]) if i != missing] == [12.0] * 29

    monthly = board["monthly"]
    assert len(monthly["months"]) == MONTHLY_MONTHS
    assert monthly["months"][0] == "2025-12" and monthly["months"][-1] == "2026-11"
    assert monthly["last_year_months"][-1] == "2025-11"
    assert monthly["energy_kwh"][-1] == 120.0  # 10 days to date
    assert monthly["last_year_kwh"][-1] == 360.0  # the whole of 2025-11
    assert monthly["last_year_kwh"][-2] == 372.0 - 12.0  # 2025-10 without its missing day
    assert monthly["last_year_kwh"][0] is None  # 2024-12: before the data
    shown = [v for v in monthly["energy_kwh"] + monthly["last_year_kwh"] if v is not None]
    assert sum(shown) == pytest.approx(
        frame.loc[frame["ts"] >= pd.Timestamp("2024-12-01", tz=SEOUL), "energy_kwh"].sum()
    )
    assert board["compare"]["vs_last_year"]["change_pct"] == pytest.approx(0.0)


def test_meter_dashboard_bill_has_band_tiers_and_next_crossing(store: DuckDBStore) -> None:
    _ingest_constant(
        store,
        start=dt.datetime(2025, 9, 1, tzinfo=SEOUL),
        end=dt.datetime(2026, 11, 6, tzinfo=SEOUL),  # 5 days of the cycle measured
        power_kw=1.0,  # 24 kWh a day: 120 kWh so far, about 720 by the cycle's end
    )
    bill = meter_dashboard(store, "m1")["bill"]
    assert bill["cycle"] == {
        "label": "2026-12",
        "start": "2026-11-01",
        "end": "2026-11-30",
        "days": 30,
    }
    assert not bill["complete"]
    assert bill["energy_kwh"] == pytest.approx(120.0)
    assert bill["tier"] == 1
    assert bill["boundaries_kwh"] == [200.0, 400.0]  # November: the non-summer bounds
    band = bill["forecast"]
    assert band["p10_kwh"] <= band["p50_kwh"] <= band["p90_kwh"]
    assert band["p50_kwh"] == pytest.approx(720.0, rel=0.05)
    assert band["total_won"]["p10"] <= band["total_won"]["p50"] <= band["total_won"]["p90"]
    assert bill["total_won"] < band["total_won"]["p10"]
    # 24 kWh a day passes 200 kWh on the 9th day (216 kWh)
    assert bill["next_crossing"]["boundary_kwh"] == 200.0
    assert bill["next_crossing"]["date_p50"] == "2026-11-09"
    assert [c["boundary_kwh"] for c in bill["crossings"]] == ["200", "400"]
    path = bill["path"]
    assert len(path["dates"]) == 30
    assert path["actual_kwh"][:5] == [24.0, 48.0, 72.0, 96.0, 120.0]
    assert path["actual_kwh"][5:] == [None] * 25
    assert path["p50_kwh"][-1] == pytest.approx(band["p50_kwh"], abs=0.05)
    assert all(a <= b for a, b in zip(path["p10_kwh"], path["p90_kwh"], strict=True))


def test_meter_dashboard_forecast_against_actual(store: DuckDBStore) -> None:
    _ingest_constant(
        store,
        start=dt.datetime(2026, 7, 1, tzinfo=SEOUL),
        end=dt.datetime(2026, 11, 5, 12, tzinfo=SEOUL),
        interval_s=1800,
        power_kw=1.5,
    )
    forecast = meter_dashboard(store, "m1")["forecast"]
    assert forecast["model"] == "persistence"
    assert forecast["as_of"] == "2026-11-05T00:00:00+09:00"
    assert forecast["resolution_s"] == 1800
    assert len(forecast["ts"]) == 96  # today and tomorrow, 30-minute steps
    assert forecast["ts"][0] == "2026-11-05T00:00" and forecast["ts"][-1] == "2026-11-06T23:30"
    assert forecast["actual_kw"][:24] == [1.65, 1.35] * 12
    assert forecast["actual_kw"][24:] == [None] * 72
    assert forecast["p50_kw"] == pytest.approx([1.65, 1.35] * 48)
    assert forecast["compared"] == 24
    assert forecast["mae_kw"] == pytest.approx(0.0)
    assert forecast["coverage_pct"] == 100.0


def test_meter_dashboard_reports_quality_and_sections_it_cannot_compute(
    store: DuckDBStore,
) -> None:
    _ingest_constant(
        store,
        start=dt.datetime(2026, 10, 25, tzinfo=SEOUL),
        end=dt.datetime(2026, 11, 5, tzinfo=SEOUL),
        drop=slice(200, 260),  # a gap of 15 hours
    )
    board = meter_dashboard(store, "m1")
    quality = board["quality"]
    assert quality["status"] == "warning"
    assert quality["counts"] == {"gap": 1}
    assert quality["recent"][0]["code"] == "gap"
    assert board["standby"] is not None  # 10 days are enough


def test_meter_dashboard_of_a_meter_without_readings(store: DuckDBStore) -> None:
    store.upsert_organisation(Organisation(org_id="default"))
    store.upsert_site(Site(site_id="home", org_id="default"))
    store.upsert_meter(Meter(meter_id="empty", site_id="home", interval_s=900))
    board = meter_dashboard(store, "empty")
    assert board["today"] is None and board["bill"] is None
    assert board["quality"]["status"] == "ok"
    assert "no readings" in board["unavailable"]["today"]
    assert fleet_row(store, "empty")["today_kwh"] is None


def test_meter_dashboard_json_stays_compact_for_a_year_of_15min(store: DuckDBStore) -> None:
    _ingest_constant(
        store,
        start=dt.datetime(2025, 11, 15, tzinfo=SEOUL),
        end=dt.datetime(2026, 11, 15, tzinfo=SEOUL),
    )
    board = meter_dashboard(store, "m1")
    assert board["meter"]["readings"] == 35_040
    assert len(json.dumps(board)) < 30_000  # not 35,040 points


def test_fleet_row_gives_today_and_month_to_date(store: DuckDBStore) -> None:
    _ingest_constant(
        store,
        start=dt.datetime(2026, 10, 20, tzinfo=SEOUL),
        end=dt.datetime(2026, 11, 3, 6, tzinfo=SEOUL),
    )
    row = fleet_row(store, "m1")
    assert row["today"] == "2026-11-03"
    assert row["last_reading"] == "2026-11-03T05:45:00+09:00"
    assert row["today_kwh"] == pytest.approx(6.0)
    assert row["month_kwh"] == pytest.approx(54.0)
    assert row["quality"] == {"status": "ok", "total": 0, "counts": {}}


def test_meter_dashboard_bills_no_meter_without_a_kepco_contract(store: DuckDBStore) -> None:
    ts = pd.date_range("2026-10-01", periods=24 * 40, freq="h", tz=SEOUL)
    wiggle = np.where(np.arange(len(ts)) % 2 == 0, 1100.0, 900.0)  # a grid-scale load [kWh/h]
    frame = pd.DataFrame({"meter_id": "grid", "ts": ts, "energy_kwh": wiggle})
    ingest_frame(frame, store, defaults=MeterDefaults(site_id="grid"))
    board = meter_dashboard(store, "grid")
    assert board["bill"] is None
    assert "contract" in board["unavailable"]["bill"]
    assert board["today"]["energy_kwh"] == pytest.approx(24_000.0)


def test_a_meter_reading_every_two_hours_has_no_curve_but_its_days(store: DuckDBStore) -> None:
    _ingest_constant(
        store,
        start=dt.datetime(2026, 9, 1, tzinfo=SEOUL),
        end=dt.datetime(2026, 11, 5, 14, tzinfo=SEOUL),  # last reading 12:00
        interval_s=7200,
        power_kw=2.0,
    )
    board = meter_dashboard(store, "m1")
    today = board["today"]
    # a 2-hour reading cannot be placed in an hour: no curve rather than every other hour
    assert today["today_kw"] == today["yesterday_kw"] == [None] * 24
    assert today["energy_kwh"] == pytest.approx(4 * (4 * 1.1 + 3 * 0.9))  # 7 readings, 00-12 h
    assert today["yesterday_kwh"] == pytest.approx(48.0)
    assert board["daily"] is not None and "daily" not in board["unavailable"]


def test_a_meter_reading_monthly_keeps_its_dashboard_without_daily_charts(
    store: DuckDBStore,
) -> None:
    months = pd.date_range("2025-01-01", "2026-11-01", freq="MS", tz=SEOUL)
    frame = pd.DataFrame(
        {"meter_id": "bins", "ts": months, "energy_kwh": np.linspace(300.0, 420.0, len(months))}
    )
    ingest_frame(frame, store, defaults=RESIDENTIAL)  # the interval is inferred: 31 days
    board = meter_dashboard(store, "bins")
    assert board["daily"] is None
    assert "reads every 31 day(s): day periods are finer" in board["unavailable"]["daily"]
    assert board["monthly"] is not None and board["compare"] is not None  # months still fit
    assert board["today"]["today_kw"] == [None] * 24 and board["today"]["energy_kwh"] is None
    json.dumps(board)  # still a whole answer
