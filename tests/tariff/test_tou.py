from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bitgoeul.errors import TariffError
from bitgoeul.tariff import compute_tou_bill, label_load_periods

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CAMPUS = DATA / "kr_cnu_campus_buildings_hourly" / "A06_agri_life_sci_bldg3_HV_02.csv"

# Independent, explicit hour tables (hour starts), written out from the tariff notes §2.2.
# Since 2023-01-01, mainland:
HOURS_2023 = {
    "summer_spring_fall": {
        "light": [22, 23, 0, 1, 2, 3, 4, 5, 6, 7],
        "mid": [8, 9, 10, 12, 18, 19, 20, 21],
        "peak": [11, 13, 14, 15, 16, 17],
    },
    "winter": {
        "light": [22, 23, 0, 1, 2, 3, 4, 5, 6, 7],
        "mid": [8, 12, 13, 14, 15, 19, 20, 21],
        "peak": [9, 10, 11, 16, 17, 18],
    },
}
# Before 2023 (the notes' partial, unverified table; winter mid = the remaining hours):
HOURS_PRE_2023 = {
    "summer_spring_fall": {
        "light": [23, 0, 1, 2, 3, 4, 5, 6, 7, 8],
        "mid": [9, 12, 17, 18, 19, 20, 21, 22],
        "peak": [10, 11, 13, 14, 15, 16],
    },
    "winter": {
        "light": [23, 0, 1, 2, 3, 4, 5, 6, 7, 8],
        "mid": [9, 12, 13, 14, 15, 16, 20, 21],
        "peak": [10, 11, 17, 18, 19, 22],
    },
}


def _hand_period(
    ts: pd.Timestamp, holidays: set[dt.date], table: dict[str, dict[str, list[int]]]
) -> str:
    """Load period of one hour, by the explicit tables and day rules, without the package."""
    if ts.date() in holidays or ts.weekday() == 6:
        return "light"
    season = "winter" if ts.month in (11, 12, 1, 2) else "summer_spring_fall"
    period = next(p for p, hours in table[season].items() if ts.hour in hours)
    if ts.weekday() == 5 and period == "peak":
        return "mid"
    return period


def test_hand_tables_have_10_8_6_hours() -> None:
    for table in (HOURS_2023, HOURS_PRE_2023):
        for season in table.values():
            assert sorted(h for hours in season.values() for h in hours) == list(range(24))
            assert [len(season[p]) for p in ("light", "mid", "peak")] == [10, 8, 6]


@pytest.fixture(scope="module")
def campus() -> pd.Series:
    if not CAMPUS.is_file():
        pytest.skip(f"real data missing: {CAMPUS}")
    frame = pd.read_csv(CAMPUS)
    ts = pd.to_datetime(frame["date"], format="%Y-%m-%d %H:%M").dt.tz_localize("Asia/Seoul")
    return pd.Series(
        frame["energy"].to_numpy(dtype=float), index=pd.DatetimeIndex(ts), name="energy_kwh"
    )


def test_label_load_periods_matches_hand_table_on_a_real_week(campus: pd.Series) -> None:
    # Sat 2022-02-26 .. Fri 2022-03-04: a Saturday, a Sunday, 삼일절 (Tue 03-01), and the change
    # from winter (February) to spring (March); pre-2023 hours
    week = campus["2022-02-26":"2022-03-04"]
    assert len(week) == 7 * 24
    holidays = {dt.date(2022, 3, 1)}
    expected: dict[str, float] = {"light": 0.0, "mid": 0.0, "peak": 0.0}
    for ts, kwh in week.items():
        expected[_hand_period(ts, holidays, HOURS_PRE_2023)] += kwh
    labels = label_load_periods(week.index)
    got = week.groupby(labels["load_period"].to_numpy()).sum()
    for period, kwh in expected.items():
        assert got[period] == pytest.approx(kwh, rel=1e-12)
    assert labels.loc["2022-03-01", "day_type"].unique().tolist() == ["holiday"]
    assert labels.loc["2022-02-26", "day_type"].unique().tolist() == ["saturday"]
    assert labels.loc["2022-02-27", "season"].unique().tolist() == ["winter"]
    assert labels.loc["2022-03-02", "season"].unique().tolist() == ["spring_fall"]
    # Saturday has no peak hours, the holiday and Sunday are all light
    assert "peak" not in set(labels.loc["2022-02-26", "load_period"])
    assert set(labels.loc["2022-03-01", "load_period"]) == {"light"}


def _redate(values: pd.Series, start: str) -> pd.Series:
    index = pd.date_range(start, periods=len(values), freq="h", tz="Asia/Seoul")
    return pd.Series(values.to_numpy(), index=index)


def _hand_bill(energy: pd.Series, holidays: set[dt.date], rates: dict[str, str], demand_kw: int,
               fund: str) -> tuple[dict[str, Decimal], dict[str, int]]:  # fmt: skip
    """kWh per period and the won fields of a one-season month, computed by hand."""
    sums: dict[str, list[float]] = {"light": [], "mid": [], "peak": []}
    for ts, kwh in energy.items():
        sums[_hand_period(ts, holidays, HOURS_2023)].append(kwh)
    kwh_by = {p: Decimal(round(math.fsum(v) * 1000)).scaleb(-3) for p, v in sums.items()}
    total_kwh = sum(kwh_by.values(), Decimal(0))
    basic = demand_kw * 6490
    energy_won = int(sum((kwh_by[p] * Decimal(rates[p]) for p in kwh_by), Decimal(0)))
    climate = int(total_kwh * 9)
    fuel = int(total_kwh * 5)
    subtotal = basic + energy_won + climate + fuel
    vat = int((subtotal * Decimal("0.1")).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
    fund_won = int(subtotal * Decimal(fund) / 10) * 10
    won = {"basic_won": basic, "energy_won": energy_won, "climate_won": climate, "fuel_won": fuel,
           "deduction_won": 0, "subtotal_won": subtotal, "vat_won": vat, "fund_won": fund_won,
           "total_won": (subtotal + vat + fund_won) // 10 * 10}  # fmt: skip
    return kwh_by, won


def test_compute_tou_bill_matches_hand_computation_on_real_month(campus: pd.Series) -> None:
    # the building's real March 2022 hours, laid on March 2025 (Sat 03-01 삼일절 and its
    # substitute holiday Mon 03-03); 산업용(갑)II 고압A 선택I, spring rates of 2024-10-24
    energy = _redate(campus["2022-03-01":"2022-03-31"], "2025-03-01")
    assert len(energy) == 31 * 24
    kwh_by, won = _hand_bill(
        energy, {dt.date(2025, 3, 1), dt.date(2025, 3, 3)},
        {"light": "95.7", "mid": "100.5", "peak": "119.7"}, demand_kw=300, fund="0.032",
    )  # fmt: skip
    bill = compute_tou_bill(
        energy,
        dt.date(2025, 3, 1),
        dt.date(2025, 3, 31),
        contract="industrial-a2-high-a-1",
        demand_kw=300,
    )
    assert bill.won() == won
    assert {line.label.split()[1]: line.kwh for line in bill.lines} == kwh_by
    assert bill.kwh == sum(kwh_by.values())
    assert bill.tier is None and bill.demand_kw == 300
    assert any("day_rules" in w for w in bill.warnings)  # the Sunday/holiday rule is unverified


def test_quarter_hour_data_give_the_same_split_as_hourly(campus: pd.Series) -> None:
    hourly = _redate(campus["2022-03-01":"2022-03-31"], "2025-03-01")
    quarter = pd.Series(
        np.repeat(hourly.to_numpy() / 4, 4),
        index=pd.date_range("2025-03-01", periods=len(hourly) * 4, freq="15min", tz="Asia/Seoul"),
    )
    args = (dt.date(2025, 3, 1), dt.date(2025, 3, 31))
    a = compute_tou_bill(hourly, *args, contract="industrial-a2-high-a-1", demand_kw=300)
    b = compute_tou_bill(quarter, *args, contract="industrial-a2-high-a-1", demand_kw=300)
    assert a.won() == b.won() and a.lines == b.lines
    # UTC timestamps are converted to Asia/Seoul before labelling
    utc = quarter.tz_convert("UTC")
    assert (
        compute_tou_bill(utc, *args, contract="industrial-a2-high-a-1", demand_kw=300).won()
        == b.won()
    )


def test_tou_bill_spanning_a_rate_and_season_change_prices_each_hour_by_its_date() -> None:
    # 2024-10-15..11-14 at 10 kWh every hour: spring/fall rates until 10-23, the 2024-10-24
    # rates after, winter from 11-01; no public holiday in the window
    index = pd.date_range("2024-10-15", "2024-11-15", freq="h", tz="Asia/Seoul", inclusive="left")
    energy = pd.Series(10.0, index=index)
    old = {"spring_fall": {"light": "87.2", "mid": "92.0", "peak": "111.2"},
           "winter": {"light": "94.6", "mid": "111.5", "peak": "140.9"}}  # fmt: skip
    new = {"spring_fall": {"light": "95.7", "mid": "100.5", "peak": "119.7"},
           "winter": {"light": "103.1", "mid": "120.0", "peak": "149.4"}}  # fmt: skip
    expected = Decimal(0)
    for ts in index:
        table = new if ts.date() >= dt.date(2024, 10, 24) else old
        season = "winter" if ts.month == 11 else "spring_fall"
        expected += 10 * Decimal(table[season][_hand_period(ts, set(), HOURS_2023)])
    bill = compute_tou_bill(
        energy,
        dt.date(2024, 10, 15),
        dt.date(2024, 11, 14),
        contract="industrial-a2-high-a-1",
        demand_kw=100,
    )
    assert bill.energy_won == int(expected)
    assert bill.basic_won == 649000
    assert {line.label for line in bill.lines} == {
        f"{s} {p}" for s in ("spring_fall", "winter") for p in ("light", "mid", "peak")
    }


def test_seasonal_contract_bills_one_rate_per_season() -> None:
    index = pd.date_range("2025-05-20", "2025-06-20", freq="h", tz="Asia/Seoul", inclusive="left")
    bill = compute_tou_bill(
        pd.Series(2.0, index=index), dt.date(2025, 5, 20), dt.date(2025, 6, 19),
        contract="industrial-a1-low", demand_kw=20,
    )  # fmt: skip
    assert [(line.label, line.kwh) for line in bill.lines] == [
        ("spring_fall", Decimal("576.000")),
        ("summer", Decimal("912.000")),
    ]
    assert bill.energy_won == int(576 * Decimal("94.4") + 912 * Decimal("116.2"))
    assert bill.basic_won == 20 * 5550


def test_missing_and_outside_intervals_are_reported() -> None:
    index = pd.date_range("2025-03-31", "2025-05-02", freq="h", tz="Asia/Seoul", inclusive="left")
    energy = pd.Series(1.0, index=index).drop(index[100:110])
    bill = compute_tou_bill(
        energy,
        dt.date(2025, 4, 1),
        dt.date(2025, 4, 30),
        contract="industrial-a2-high-a-1",
        demand_kw=1,
    )
    assert any("48 interval(s) outside" in n for n in bill.notes)
    assert any("10 of 720 intervals of 60 min are missing" in w for w in bill.warnings)
    assert bill.kwh == 710


def test_compute_tou_bill_rejects_bad_input() -> None:
    index = pd.date_range("2025-04-01", "2025-05-01", freq="h", tz="Asia/Seoul", inclusive="left")
    good = pd.Series(1.0, index=index)
    args = (dt.date(2025, 4, 1), dt.date(2025, 4, 30))
    tou = {"contract": "industrial-a2-high-a-1", "demand_kw": 10}
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_tou_bill(good.tz_localize(None), *args, **tou)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NaN"):
        compute_tou_bill(good.where(good.index != index[3]), *args, **tou)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        compute_tou_bill(good * -1, *args, **tou)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hourly or finer"):
        compute_tou_bill(good.resample("2h").sum(), *args, **tou)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="pandas Series"):
        compute_tou_bill(good.to_frame(), *args, **tou)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="demand_kw"):
        compute_tou_bill(good, *args, contract="industrial-a2-high-a-1", demand_kw=-5)
    with pytest.raises(TariffError, match="compute_bill"):
        compute_tou_bill(good, *args, contract="residential-low", demand_kw=1)
    with pytest.raises(TariffError, match="begin on 2024-01-01"):
        compute_tou_bill(good, dt.date(2023, 4, 1), dt.date(2023, 4, 30), **tou)  # type: ignore[arg-type]
    with pytest.raises(TariffError, match="energy_won_per_kwh from 2024-10-24 is not known"):
        compute_tou_bill(good, *args, contract="industrial-b-high-a-2", demand_kw=1)
    earlier = good.set_axis(good.index - pd.Timedelta(days=365))
    with pytest.raises(TariffError, match="basic_won_per_kw from 2023-05-16 is not known"):
        compute_tou_bill(
            earlier,
            dt.date(2024, 4, 1),
            dt.date(2024, 4, 30),
            contract="industrial-b-high-a-2",
            demand_kw=1,
        )
    with pytest.raises(ValueError, match="before start"):
        compute_tou_bill(good, args[1], args[0], **tou)  # type: ignore[arg-type]
