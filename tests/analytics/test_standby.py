from __future__ import annotations

import datetime as dt
import doctest
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitgoeul.analytics import standby
from bitgoeul.analytics.standby import standby_enertalk, standby_power
from bitgoeul.model import DataIssue

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SGSC = DATA / "au_sgsc_smart_meter10" / "sgsc_households7_halfhourly.parquet"
SEOUL = "Asia/Seoul"
SYDNEY = "Australia/Sydney"


def household(
    days: int = 30, base_w: float = 150.0, seed: int = 0, glitches: bool = False
) -> pd.DataFrame:
    """15-minute household load: ``base_w`` always on (3 % noise), mornings, evenings, bursts.

    With ``glitches``, one reading a day drops to 2 Wh (8 W), like a meter glitch.
    """
    ts = pd.date_range("2025-06-01", periods=days * 96, freq="15min", tz=SEOUL)
    rng = np.random.default_rng(seed)
    power = base_w * (1 + 0.03 * rng.standard_normal(ts.size))
    active = ((ts.hour >= 7) & (ts.hour < 9)) | ((ts.hour >= 18) & (ts.hour < 23))
    power += np.where(active, rng.gamma(2.0, 300.0, ts.size), 0.0)
    power += np.where(rng.random(ts.size) < 0.05, rng.uniform(500, 2000, ts.size), 0.0)
    energy = power * 0.25 / 1000
    if glitches:
        for day in range(days):
            energy[day * 96 + int(rng.integers(0, 96))] = 0.002
    return pd.DataFrame({"ts": ts.tz_convert("UTC"), "energy_kwh": energy})


def resample(frame: pd.DataFrame, rule: str) -> pd.DataFrame:
    return (
        frame.assign(ts=frame["ts"].dt.floor(rule))
        .groupby("ts", as_index=False)["energy_kwh"]
        .sum()
    )


def load_sgsc() -> dict[str, pd.DataFrame]:
    raw = pd.read_parquet(SGSC)
    out = {}
    for customer, part in raw.groupby("customer_id"):
        ts = part["reading_datetime"].dt.tz_localize(SYDNEY, ambiguous="NaT", nonexistent="NaT")
        frame = pd.DataFrame({"ts": ts, "energy_kwh": part["general_supply_kwh"].to_numpy()})
        frame = frame.dropna(subset=["ts"])
        frame["ts"] = frame["ts"].dt.tz_convert("UTC")
        out[str(customer)] = frame.sort_values("ts").reset_index(drop=True)
    return out


def mean_of_daily_minima_w(frame: pd.DataFrame, zone: str, step_h: float) -> float:
    """ENERTALK-style reference computed independently: mean of each day's non-zero minimum."""
    positive = frame[frame["energy_kwh"] > 0]
    days = positive["ts"].dt.tz_convert(zone).dt.date
    return float(positive.groupby(days)["energy_kwh"].min().mean() * 1000 / step_h)


def test_examples_in_docstrings_run() -> None:
    assert doctest.testmod(standby).failed == 0


def test_both_methods_find_the_base_load_of_clean_data() -> None:
    frame = household()
    robust = standby_power(frame, timezone=SEOUL)
    enertalk = standby_enertalk(frame, timezone=SEOUL)
    assert robust is not None and enertalk is not None
    assert robust.power_w == pytest.approx(150, rel=0.05)
    assert enertalk.power_w == pytest.approx(150, rel=0.10)
    assert (robust.method, enertalk.method) == ("robust", "enertalk")
    assert robust.days_used == enertalk.days_used == 30
    assert robust.window_start == frame["ts"].iloc[0].to_pydatetime()
    assert robust.window_end == (frame["ts"].iloc[-1] + pd.Timedelta("15min")).to_pydatetime()


def test_glitches_drag_the_daily_minimum_but_not_the_robust_estimate() -> None:
    clean = standby_power(household(), timezone=SEOUL)
    robust = standby_power(household(glitches=True), timezone=SEOUL)
    enertalk = standby_enertalk(household(glitches=True), timezone=SEOUL)
    assert clean is not None and robust is not None and enertalk is not None
    assert robust.power_w == pytest.approx(clean.power_w, rel=0.02)
    assert enertalk.power_w < 0.2 * clean.power_w  # every day's minimum is a glitch
    assert robust.power_w >= enertalk.power_w


def test_coarser_resolution_biases_the_floor_up_but_stays_close() -> None:
    frame = household(seed=3)
    estimates = {}
    for rule in ("15min", "30min", "60min"):
        got = standby_power(resample(frame, rule), timezone=SEOUL)
        assert got is not None
        assert got.detail["interval_s"] == pd.Timedelta(rule).total_seconds()
        estimates[rule] = got.power_w
    assert 140 < estimates["15min"] <= estimates["30min"] <= estimates["60min"] < 170


def test_enertalk_refuses_data_coarser_than_15_minutes() -> None:
    with pytest.raises(ValueError, match="15-minute"):
        standby_enertalk(resample(household(), "30min"), timezone=SEOUL)


def test_enertalk_sums_finer_data_into_quarter_hours() -> None:
    frame = household(days=10)
    fine = frame.loc[frame.index.repeat(3)].reset_index(drop=True)
    fine["ts"] = fine["ts"] + pd.to_timedelta(np.tile([0, 5, 10], len(frame)), unit="min")
    fine["energy_kwh"] = fine["energy_kwh"] / 3
    a = standby_enertalk(frame, timezone=SEOUL)
    b = standby_enertalk(fine, timezone=SEOUL)
    assert a is not None and b is not None
    assert b.power_w == pytest.approx(a.power_w)


def test_enertalk_needs_seven_days_of_non_zero_readings() -> None:
    frame = household(days=8)
    assert standby_enertalk(frame.iloc[: 96 * 7 - 1], timezone=SEOUL) is None
    assert standby_enertalk(frame.iloc[: 96 * 7], timezone=SEOUL) is not None
    zeros = frame.copy()
    zeros.loc[: 96 * 2, "energy_kwh"] = 0.0  # leaves fewer than 96 x 7 non-zero readings
    assert standby_enertalk(zeros, timezone=SEOUL) is None
    some_zeros = household(days=12)
    some_zeros.loc[100:140, "energy_kwh"] = 0.0  # an outage is ignored, not a 0 W minimum
    got = standby_enertalk(some_zeros, timezone=SEOUL)
    assert got is not None and got.power_w == pytest.approx(150, rel=0.1)


def test_enertalk_uses_the_calendar_month_before_now() -> None:
    earlier = household(days=31, base_w=400.0, seed=1)
    later = household(days=61, base_w=100.0, seed=2).iloc[31 * 96 :]
    frame = pd.concat([earlier, later], ignore_index=True)  # June at 400 W, July at 100 W
    now = dt.datetime(2025, 8, 1, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    got = standby_enertalk(frame, timezone=SEOUL, now=now)
    assert got is not None
    assert got.days_used == 31
    assert got.window_start == dt.datetime(2025, 6, 30, 15, tzinfo=dt.UTC)
    assert got.power_w == pytest.approx(100, rel=0.1)
    june = standby_enertalk(frame, timezone=SEOUL, now=dt.datetime(2025, 7, 1, tzinfo=dt.UTC))
    assert june is not None and june.power_w == pytest.approx(400, rel=0.1)


def test_standby_power_ignores_excluded_ranges() -> None:
    frame = household(days=14)
    issues = []
    for day in range(14):  # a 2-hour low plateau (20 W) every day, e.g. a CT dropping out
        lo = day * 96 + 8
        frame.loc[lo : lo + 7, "energy_kwh"] = 0.005
        start = frame["ts"][lo].to_pydatetime()
        end = (frame["ts"][lo + 7] + pd.Timedelta("15min")).to_pydatetime()
        issues.append(DataIssue("stuck_value", "m1", start, end, "Low plateau."))
    fooled = standby_power(frame, timezone=SEOUL)
    fixed = standby_power(frame, timezone=SEOUL, exclude=issues)
    assert fooled is not None and fixed is not None
    assert fooled.power_w < 30
    assert fixed.power_w == pytest.approx(150, rel=0.05)


def test_a_few_bad_days_do_not_move_the_median_of_days() -> None:
    clean = standby_power(household(days=20), timezone=SEOUL)
    frame = household(days=20)
    for day in (2, 9, 15):  # a CT drop-out: 4 hours at 20 W on three days
        lo = day * 96 + 4
        frame.loc[lo : lo + 15, "energy_kwh"] = 0.005
    for day in (5, 12, 18):  # a heater left on all day: the floor is 1 kW higher
        frame.loc[day * 96 : day * 96 + 95, "energy_kwh"] += 0.25
    got = standby_power(frame, timezone=SEOUL)
    assert clean is not None
    assert got is not None
    daily = list(got.detail["daily_w"].values())
    assert min(daily) < 30  # the drop-out days have a low floor ...
    assert max(daily) > 1000  # ... and the heater days a high one,
    assert got.power_w == pytest.approx(clean.power_w, rel=0.03)  # the median ignores both
    assert abs(np.mean(daily) - clean.power_w) > 0.1 * clean.power_w  # a mean would not


def test_standby_power_needs_enough_days() -> None:
    frame = household(days=6)
    assert standby_power(frame, timezone=SEOUL) is None
    got = standby_power(frame, timezone=SEOUL, min_days=5)
    assert got is not None and got.days_used >= 5
    patchy = household(days=10)
    patchy = patchy[patchy.index % 96 < 40]  # less than half of each day
    assert standby_power(patchy, timezone=SEOUL) is None
    assert standby_power(frame.iloc[:0], timezone=SEOUL) is None


def test_bad_arguments_are_refused() -> None:
    frame = household(days=8)
    with pytest.raises(ValueError, match="quantile"):
        standby_power(frame, timezone=SEOUL, quantile=5)
    with pytest.raises(ValueError, match="smoothing"):
        standby_power(frame, timezone=SEOUL, smoothing=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        standby_power(frame, timezone=SEOUL, now=dt.datetime(2025, 6, 5))
    with pytest.raises(ValueError, match="time zone"):
        standby_enertalk(frame, timezone="Seoul")


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=10_000),
    scale=st.floats(min_value=0.25, max_value=8),
    offset_w=st.floats(min_value=0, max_value=500),
)
def test_estimates_scale_and_shift_with_the_load(seed: int, scale: float, offset_w: float) -> None:
    frame = household(days=10, seed=seed, glitches=bool(seed % 2))
    base_r = standby_power(frame, timezone=SEOUL)
    base_e = standby_enertalk(frame, timezone=SEOUL)
    scaled = frame.assign(energy_kwh=frame["energy_kwh"] * scale)
    shifted = frame.assign(energy_kwh=frame["energy_kwh"] + offset_w / 4000)
    assert base_r is not None and base_e is not None
    for fn, base in ((standby_power, base_r), (standby_enertalk, base_e)):
        s = fn(scaled, timezone=SEOUL)
        t = fn(shifted, timezone=SEOUL)
        assert s is not None and t is not None
        assert s.power_w == pytest.approx(base.power_w * scale, rel=1e-9)
        assert t.power_w == pytest.approx(base.power_w + offset_w, rel=1e-9, abs=1e-6)
    assert base_r.power_w >= base_e.power_w - 1e-9 or not seed % 2


def test_real_households_give_plausible_glitch_proof_estimates() -> None:
    now = dt.datetime(2013, 7, 1, tzinfo=dt.timezone(dt.timedelta(hours=10)))
    start = pd.Timestamp(now) - pd.Timedelta(days=30)
    rng = np.random.default_rng(7)
    households = load_sgsc()
    assert len(households) == 7
    for customer, frame in households.items():
        clean = standby_power(frame, timezone=SYDNEY, now=now)
        assert clean is not None, customer
        window = frame[(frame["ts"] >= start) & (frame["ts"] < pd.Timestamp(now))]
        power = window["energy_kwh"][window["energy_kwh"] > 0] * 2000  # 30-min kWh -> W
        assert 1 < clean.power_w < power.median(), customer
        assert clean.power_w >= power.quantile(0.005), customer
        # 30 glitches in the month: readings of 1 Wh at random times.
        glitchy = frame.copy()
        inside = np.flatnonzero((frame["ts"] >= start) & (frame["ts"] < pd.Timestamp(now)))
        glitchy.loc[rng.choice(inside, 30, replace=False), "energy_kwh"] = 0.001
        robust = standby_power(glitchy, timezone=SYDNEY, now=now)
        assert robust is not None
        reference_clean = mean_of_daily_minima_w(window, SYDNEY, 0.5)
        reference = mean_of_daily_minima_w(glitchy.iloc[inside], SYDNEY, 0.5)
        robust_drop = 1 - robust.power_w / clean.power_w
        reference_drop = 1 - reference / reference_clean
        # The mean of daily minima loses 40-75 % of its value; the robust estimate at most
        # 15 % (a household with net-metered PV and no stable floor), usually nothing.
        assert reference_drop > 0.3, customer
        assert robust_drop <= min(0.15, reference_drop / 3), customer
        assert robust.power_w >= reference, customer
