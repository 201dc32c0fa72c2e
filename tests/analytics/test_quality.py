from __future__ import annotations

import datetime as dt
import doctest
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitgoeul.analytics import quality
from bitgoeul.analytics.quality import (
    ISSUE_CODES,
    check_readings,
    find_data_issues,
    infer_interval_s,
)
from bitgoeul.model import DataIssue, MeterKind

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CNU_D18 = DATA / "kr_cnu_campus_buildings_hourly" / "D18_university_headquarters_HV_02.csv"
SGSC = DATA / "au_sgsc_smart_meter10" / "sgsc_households7_halfhourly.parquet"
SEOUL = "Asia/Seoul"


def office_series(days: int = 35, freq: str = "60min", seed: int = 1) -> pd.DataFrame:
    """A building-like load: nights ~50, weekday afternoons ~250, weekends ~80, with noise."""
    step = pd.Timedelta(freq)
    ts = pd.date_range("2025-03-03", periods=days * pd.Timedelta("1D") // step, freq=step, tz=SEOUL)
    hour = ts.hour + ts.minute / 60
    weekday = ts.day_of_week < 5
    day_shape = np.clip(np.sin((hour - 7) / 12 * np.pi), 0, None)
    level = 50 + np.where(weekday, 200, 30) * day_shape
    rng = np.random.default_rng(seed)
    hours = step / pd.Timedelta("1h")
    energy = level * (1 + 0.05 * rng.standard_normal(ts.size)) * hours
    return pd.DataFrame({"ts": ts.tz_convert("UTC"), "energy_kwh": energy})


def find(frame: pd.DataFrame, interval_s: int = 3600, **kwargs: object) -> list[DataIssue]:
    return find_data_issues(frame, meter_id="m1", interval_s=interval_s, **kwargs)  # type: ignore[arg-type]


def codes(issues: list[DataIssue]) -> list[str]:
    return [i.code for i in issues]


def load_cnu_d18() -> pd.DataFrame:
    raw = pd.read_csv(CNU_D18).dropna(subset=["energy"])
    ts = pd.to_datetime(raw["date"], format="%Y-%m-%d %H:%M").dt.tz_localize(SEOUL)
    return pd.DataFrame({"ts": ts.dt.tz_convert("UTC"), "energy_kwh": raw["energy"].to_numpy()})


def test_examples_in_docstrings_run() -> None:
    assert doctest.testmod(quality).failed == 0


def test_clean_building_data_has_no_issues() -> None:
    assert find(office_series()) == []
    assert find(office_series(freq="15min"), interval_s=900) == []


def test_gaps_are_merged_into_ranges() -> None:
    frame = office_series(days=3, freq="15min")
    dropped = frame.drop(index=[10, 11, 12, 50]).reset_index(drop=True)
    issues = find(dropped, interval_s=900)
    assert codes(issues) == ["gap", "gap"]
    first = issues[0]
    assert first.data == {"missing_intervals": 3, "interval_s": 900}
    assert first.start == frame["ts"][10].to_pydatetime()
    assert first.end == frame["ts"][13].to_pydatetime()
    assert "KST" in first.message
    assert issues[1].data["missing_intervals"] == 1


def test_gaps_at_period_edges_need_period_bounds() -> None:
    frame = office_series(days=2)
    inner = frame.iloc[5:-3]
    assert find(inner) == []
    issues = find(
        inner,
        period_start=frame["ts"].iloc[0].to_pydatetime(),
        period_end=(frame["ts"].iloc[-1] + pd.Timedelta("1h")).to_pydatetime(),
    )
    assert [i.data["missing_intervals"] for i in issues] == [5, 3]
    everything = find(
        frame.iloc[:0],
        period_start=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        period_end=dt.datetime(2025, 1, 2, tzinfo=dt.UTC),
    )
    assert [i.data["missing_intervals"] for i in everything] == [24]


def test_clock_jump_reports_readings_off_the_grid() -> None:
    frame = office_series(days=3, freq="15min")
    shifted = frame.copy()
    shifted.loc[20:23, "ts"] = shifted.loc[20:23, "ts"] + pd.Timedelta("5min")
    issues = find(shifted, interval_s=900)
    jump = [i for i in issues if i.code == "clock_jump"]
    assert len(jump) == 1
    assert jump[0].data["count"] == 4
    assert jump[0].data["offset_s"] == 300
    assert jump[0].start == shifted["ts"][20].to_pydatetime()
    # The on-grid slots those readings should have filled are gaps.
    assert [i.data["missing_intervals"] for i in issues if i.code == "gap"] == [4]
    late = frame.copy()
    late.loc[30, "ts"] = late.loc[30, "ts"] - pd.Timedelta("2min")
    assert [i.data["offset_s"] for i in find(late, interval_s=900) if i.code == "clock_jump"] == [
        -120
    ]


def test_daily_data_across_dst_is_on_grid() -> None:
    ts = pd.date_range("2025-03-20", "2025-04-10", freq="D", tz="Europe/Berlin")
    frame = pd.DataFrame({"ts": ts.tz_convert("UTC"), "energy_kwh": 10.0 + np.arange(ts.size)})
    assert find(frame, interval_s=86_400, timezone="Europe/Berlin") == []
    missing = frame.drop(index=[12]).reset_index(drop=True)
    issues = find(missing, interval_s=86_400, timezone="Europe/Berlin")
    assert codes(issues) == ["gap"]
    assert issues[0].start == ts[12].tz_convert("UTC").to_pydatetime()
    assert issues[0].end == ts[13].tz_convert("UTC").to_pydatetime()


def test_negative_energy_only_on_one_directional_meters() -> None:
    frame = office_series(days=2)
    frame.loc[[7, 8, 30], "energy_kwh"] = [-1.0, -2.5, -0.1]
    issues = [i for i in find(frame) if i.code == "negative_energy"]
    assert [i.data["count"] for i in issues] == [2, 1]
    assert issues[0].data["min_kwh"] == -2.5
    assert issues[0].data["total_kwh"] == -3.5
    generation = find(frame, kind=MeterKind.GENERATION)
    assert "negative_energy" not in codes(generation)


def test_stuck_value_needs_twelve_hours_by_default() -> None:
    frame = office_series(days=4)
    stuck = frame.copy()
    stuck.loc[30:42, "energy_kwh"] = 123.25  # 13 hours
    issues = find(stuck)
    assert codes(issues) == ["stuck_value"]
    assert issues[0].data == {"count": 13, "value_kwh": 123.25}
    short = frame.copy()
    short.loc[30:40, "energy_kwh"] = 123.25  # 11 hours: not flagged
    assert find(short) == []
    assert codes(find(short, stuck_min_s=6 * 3600)) == ["stuck_value"]


def test_zero_runs_depend_on_meter_kind() -> None:
    frame = office_series(days=4)
    frame.loc[40:46, "energy_kwh"] = 0.0  # 7 hours
    issues = find(frame)
    assert "zero_run" in codes(issues)
    zero = next(i for i in issues if i.code == "zero_run")
    assert zero.data == {"count": 7}
    assert zero.end - zero.start == dt.timedelta(hours=7)
    assert "zero_run" not in codes(find(frame, kind=MeterKind.GENERATION))
    assert "zero_run" not in codes(find(frame, kind=MeterKind.APPLIANCE))
    assert "zero_run" in codes(find(frame, kind=MeterKind.APPLIANCE, zero_run_min_s=3600))
    brief = office_series(days=4)
    brief.loc[40:44, "energy_kwh"] = 0.0  # 5 hours: below the 6 h default
    assert "zero_run" not in codes(find(brief))


def test_isolated_spike_is_flagged_and_daily_peaks_are_not() -> None:
    frame = office_series(days=35)
    assert "spike" not in codes(find(frame))
    peak = frame["energy_kwh"].max()
    frame.loc[400, "energy_kwh"] = 2.5 * peak
    spikes = [i for i in find(frame) if i.code == "spike"]
    assert len(spikes) == 1
    assert spikes[0].start == frame["ts"][400].to_pydatetime()
    assert spikes[0].data["after_outage"] is False
    assert spikes[0].data["ratio"] > 2


def test_catch_up_after_an_outage_is_a_spike() -> None:
    frame = office_series(days=35)
    outage = list(range(300, 306))
    caught_up = float(frame.loc[outage + [306], "energy_kwh"].sum())
    frame.loc[outage, "energy_kwh"] = 0.0
    frame.loc[306, "energy_kwh"] = caught_up
    issues = find(frame)
    spikes = [i for i in issues if i.code == "spike"]
    assert len(spikes) == 1 and spikes[0].data["after_outage"] is True
    assert spikes[0].data["max_kwh"] == pytest.approx(caught_up)
    assert "outage" in spikes[0].message
    # The same catch-up after a gap instead of zeros.
    gap = frame.drop(index=outage).reset_index(drop=True)
    assert [i.data["after_outage"] for i in find(gap) if i.code == "spike"] == [True]


def test_real_building_has_zero_runs_but_no_spikes() -> None:
    frame = load_cnu_d18()
    issues = find(frame)
    assert set(codes(issues)) == {"zero_run"}
    zero = {(i.start, i.data["count"]) for i in issues}
    assert (dt.datetime(2021, 7, 10, 1, tzinfo=dt.UTC), 7) in zero  # 10:00-17:00 KST
    assert max(count for _, count in zero) > 2000  # the meter reads zero from 2022-01-08 on
    # Inject a catch-up: the energy of the 7 zero hours arrives in the next reading.
    after = frame.index[frame["ts"] == pd.Timestamp("2021-07-10 08:00", tz="UTC")][0]
    caught = frame.copy()
    caught.loc[after, "energy_kwh"] += 7 * frame.loc[after - 8, "energy_kwh"]
    spikes = [i for i in find(caught) if i.code == "spike"]
    assert len(spikes) == 1
    assert spikes[0].start == caught["ts"][after].to_pydatetime()
    assert spikes[0].data["after_outage"] is True


def test_real_households_peaks_are_not_spikes() -> None:
    raw = pd.read_parquet(SGSC)
    spikes = []
    for customer, part in raw.groupby("customer_id"):
        ts = part["reading_datetime"].dt.tz_localize(
            "Australia/Sydney", ambiguous="NaT", nonexistent="NaT"
        )
        frame = pd.DataFrame({"ts": ts, "energy_kwh": part["general_supply_kwh"].to_numpy()})
        frame = frame.dropna(subset=["ts"]).assign(ts=lambda f: f["ts"].dt.tz_convert("UTC"))
        issues = find(frame, interval_s=1800, timezone="Australia/Sydney")
        spikes += [(customer, i) for i in issues if i.code == "spike"]
    # Kettles, ovens and heaters (up to 40 times the night load) are normal; the one
    # flagged reading is a catch-up-like 1.8 kWh right after 14 hours of zeros.
    assert len(spikes) == 1
    customer, spike = spikes[0]
    assert customer == "10017994"
    assert spike.data["after_outage"] is True
    assert spike.start == dt.datetime(2013, 3, 27, 23, tzinfo=dt.UTC)


def test_stuck_value_must_be_on_consecutive_intervals() -> None:
    frame = office_series(days=4)
    frame.loc[28:42, "energy_kwh"] = 77.5
    split = frame.drop(index=[35, 36]).reset_index(drop=True)  # 13 readings over 15 hours
    assert codes(find(split)) == ["gap"]
    assert codes(find(frame)) == ["stuck_value"]


def test_issues_are_sorted_well_formed_and_json_ready() -> None:
    frame = office_series(days=10, freq="15min")
    frame.loc[100:130, "energy_kwh"] = 0.0
    frame.loc[500, "energy_kwh"] = -1.0
    frame.loc[700, "ts"] += pd.Timedelta("3min")
    frame = frame.drop(index=[900, 901]).reset_index(drop=True)
    issues = find(frame, interval_s=900)
    assert {"zero_run", "negative_energy", "clock_jump", "gap"} <= set(codes(issues))
    assert set(codes(issues)) <= set(ISSUE_CODES)
    assert issues == sorted(issues, key=lambda i: (i.start, i.code))
    for issue in issues:
        assert issue.start.utcoffset() == dt.timedelta(0)
        assert issue.end > issue.start
        assert issue.message.endswith(".")
        json.dumps(issue.to_dict())


def test_bad_arguments_are_refused() -> None:
    frame = office_series(days=1)
    with pytest.raises(ValueError, match="interval_s"):
        find(frame, interval_s=0)
    with pytest.raises(ValueError, match="time zone"):
        find(frame, timezone="Asia/Gwangju")
    with pytest.raises(ValueError, match="greater than 1"):
        find(frame, spike_ratio=0.5)
    with pytest.raises(ValueError, match="energy_kwh"):
        find(frame.rename(columns={"energy_kwh": "kwh"}))
    with pytest.raises(TypeError, match="timezone-aware"):
        check_readings(frame.assign(ts=frame["ts"].dt.tz_localize(None)))


def test_infer_interval_s_uses_the_most_common_step() -> None:
    frame = office_series(days=1, freq="30min").drop(index=[3, 4, 5])
    assert infer_interval_s(frame) == 1800
    with pytest.raises(ValueError, match="interval_s"):
        infer_interval_s(frame.iloc[:1])


@settings(max_examples=60, deadline=None)
@given(
    removed=st.sets(st.integers(min_value=0, max_value=191), max_size=60),
    freq_s=st.sampled_from([300, 900, 1800, 3600]),
)
def test_gap_counts_add_up_to_removed_intervals(removed: set[int], freq_s: int) -> None:
    ts = pd.date_range("2025-06-01", periods=192, freq=f"{freq_s}s", tz="UTC")
    frame = pd.DataFrame({"ts": ts, "energy_kwh": 1.0 + (np.arange(192) % 7) / 10})
    kept = frame.drop(index=sorted(removed))
    issues = find(
        kept,
        interval_s=freq_s,
        period_start=ts[0].to_pydatetime(),
        period_end=(ts[-1] + pd.Timedelta(seconds=freq_s)).to_pydatetime(),
        spike_ratio=1e9,
        after_outage_ratio=1e9,
    )
    gaps = [i for i in issues if i.code == "gap"]
    assert sum(i.data["missing_intervals"] for i in gaps) == len(removed)
    for a, b in zip(gaps, gaps[1:], strict=False):
        assert a.end < b.start  # separate ranges never touch
    assert codes(issues) == ["gap"] * len(gaps)
