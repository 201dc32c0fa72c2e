from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitgoeul.errors import TariffError
from bitgoeul.tariff import compute_bill, load_tariffs, tier_status
from bitgoeul.tariff.book import TariffBook

BOOK = load_tariffs()
D = dt.date


# -- published vectors (docs/kepco-tariff-and-dr.md §1.8 and §5) ----------------------------
VECTORS = [
    # id, kWh, start, end, contract, expected won fields
    ("V1", 1000, D(2022, 8, 1), D(2022, 8, 31), "residential-low",
     {"basic_won": 7300, "energy_won": 210405, "climate_won": 7300, "fuel_won": 5000,
      "vat_won": 23001, "fund_won": 8510, "total_won": 261510}),
    ("V2", 307, D(2022, 12, 1), D(2022, 12, 31), "residential-low",
     {"basic_won": 1600, "energy_won": 41006, "climate_won": 2241, "fuel_won": 1535,
      "subtotal_won": 46382}),
    ("V3", 307, D(2023, 1, 1), D(2023, 1, 31), "residential-low",
     {"basic_won": 1600, "energy_won": 44506, "climate_won": 2763, "fuel_won": 1535,
      "subtotal_won": 50404}),
    ("V4", 332, D(2023, 10, 1), D(2023, 10, 31), "residential-low",
     {"subtotal_won": 58575, "vat_won": 5858, "fund_won": 2160, "total_won": 66590}),
    ("V5", 298, D(2023, 10, 1), D(2023, 10, 31), "residential-low",
     {"subtotal_won": 50802, "vat_won": 5080, "fund_won": 1870, "total_won": 57750}),
    ("V6", 350, D(2022, 3, 11), D(2022, 4, 10), "residential-low",
     {"energy_won": 45648, "climate_won": 2080}),
    ("A", 350, D(2025, 8, 1), D(2025, 8, 31), "residential-low",
     {"basic_won": 1600, "energy_won": 46730, "climate_won": 3150, "fuel_won": 1750,
      "subtotal_won": 53230, "vat_won": 5323, "fund_won": 1430, "total_won": 59980}),
    ("A-2024", 350, D(2024, 8, 1), D(2024, 8, 31), "residential-low",
     {"fund_won": 1700, "total_won": 60250}),
    ("B", 350, D(2025, 10, 1), D(2025, 10, 31), "residential-low",
     {"basic_won": 1600, "energy_won": 56190, "climate_won": 3150, "fuel_won": 1750,
      "subtotal_won": 62690, "vat_won": 6269, "fund_won": 1690, "total_won": 70640}),
    ("C", 1100, D(2026, 1, 1), D(2026, 1, 31), "residential-low",
     {"basic_won": 7300, "energy_won": 324920, "climate_won": 9900, "fuel_won": 5500,
      "subtotal_won": 347620, "vat_won": 34762, "fund_won": 9380, "total_won": 391760}),
    ("D", 350, D(2025, 8, 1), D(2025, 8, 31), "residential-high",
     {"basic_won": 1260, "energy_won": 40200, "climate_won": 3150, "fuel_won": 1750,
      "subtotal_won": 46360, "vat_won": 4636, "fund_won": 1250, "total_won": 52240}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kwh", "start", "end", "contract", "expected"),
    [v[1:] for v in VECTORS],
    ids=[v[0] for v in VECTORS],
)
def test_compute_bill_reproduces_published_vectors(
    kwh: int, start: dt.date, end: dt.date, contract: str, expected: dict[str, int]
) -> None:
    bill = compute_bill(kwh, start, end, contract=contract)
    assert {k: getattr(bill, k) for k in expected} == expected


def test_v6_lines_follow_kepco_proration_example() -> None:
    bill = compute_bill(350, D(2022, 3, 11), D(2022, 4, 10))
    # (1단계) 200 x 88.3 x 21/31 + 200 x 93.2 x 10/31 = 17,976.13;
    # (2단계) 150 x 182.9 x 21/31 + 150 x 187.8 x 10/31 = 27,672.10
    tier1 = sum(line.won for line in bill.lines if line.label == "tier 1")
    tier2 = sum(line.won for line in bill.lines if line.label == "tier 2")
    assert tier1 == Decimal("17976.13")
    assert tier2 == Decimal("27672.10")
    assert [(line.start, line.end) for line in bill.lines][::2] == [
        (D(2022, 3, 11), D(2022, 3, 31)),
        (D(2022, 4, 1), D(2022, 4, 10)),
    ]
    assert any("2 pricing segments" in note for note in bill.notes)
    assert sum(line.kwh for line in bill.lines) == pytest.approx(350, abs=Decimal("0.005"))


def test_compute_bill_without_proration_has_no_notes_or_warnings() -> None:
    bill = compute_bill(350, D(2025, 10, 1), D(2025, 10, 31))
    assert bill.notes == () and bill.warnings == ()
    assert bill.tier == 2 and bill.days == 31


# -- block boundaries: exact basic and energy steps ----------------------------------------
# 2025 rates 120.0 / 214.6 / 307.3 / 736.2, basic 910 / 1,600 / 7,300
BOUNDARIES = [
    # month start, kWh, basic, energy (cut to the won)
    (D(2025, 10, 1), 200, 910, 24000), (D(2025, 10, 1), 201, 1600, 24214),
    (D(2025, 10, 1), 300, 1600, 45460), (D(2025, 10, 1), 301, 1600, 45674),
    (D(2025, 10, 1), 400, 1600, 66920), (D(2025, 10, 1), 401, 7300, 67227),
    (D(2025, 10, 1), 450, 7300, 82285), (D(2025, 10, 1), 451, 7300, 82592),
    (D(2025, 10, 1), 1000, 7300, 251300), (D(2025, 10, 1), 1001, 7300, 251607),
    (D(2025, 8, 1), 200, 910, 24000), (D(2025, 8, 1), 201, 910, 24120),
    (D(2025, 8, 1), 300, 910, 36000), (D(2025, 8, 1), 301, 1600, 36214),
    (D(2025, 8, 1), 400, 1600, 57460), (D(2025, 8, 1), 401, 1600, 57674),
    (D(2025, 8, 1), 450, 1600, 68190), (D(2025, 8, 1), 451, 7300, 68497),
    (D(2025, 8, 1), 1000, 7300, 237205), (D(2025, 8, 1), 1001, 7300, 237941),
    (D(2026, 1, 1), 200, 910, 24000), (D(2026, 1, 1), 201, 1600, 24214),
    (D(2026, 1, 1), 300, 1600, 45460), (D(2026, 1, 1), 301, 1600, 45674),
    (D(2026, 1, 1), 400, 1600, 66920), (D(2026, 1, 1), 401, 7300, 67227),
    (D(2026, 1, 1), 450, 7300, 82285), (D(2026, 1, 1), 451, 7300, 82592),
    (D(2026, 1, 1), 1000, 7300, 251300), (D(2026, 1, 1), 1001, 7300, 252036),
]  # fmt: skip


@pytest.mark.parametrize(("start", "kwh", "basic", "energy"), BOUNDARIES)
def test_compute_bill_steps_exactly_at_block_bounds(
    start: dt.date, kwh: int, basic: int, energy: int
) -> None:
    end = D(start.year, start.month, 31)
    bill = compute_bill(kwh, start, end)
    assert (bill.basic_won, bill.energy_won) == (basic, energy)


def _reference_month_bill(
    kwh: int, month: int, contract: str = "residential-low"
) -> dict[str, int]:
    """Independent bill for one whole calendar month of 2025 (Jul+ fund 2.7%), no proration."""
    bounds = {7: [300, 450, 1000], 8: [300, 450, 1000], 12: [200, 400, 1000], 1: [200, 400, 1000],
              2: [200, 400, 1000]}.get(month, [200, 400])  # fmt: skip
    if contract == "residential-low":
        rates, basics = ["120.0", "214.6", "307.3", "736.2"], [910, 1600, 7300, 7300]
    else:
        rates, basics = ["105.0", "174.0", "242.3", "601.3"], [730, 1260, 6060, 6060]
    energy, lower, tier = Fraction(0), 0, 0
    for i, upper in enumerate([*bounds, None]):
        part = kwh - lower if upper is None else min(max(kwh - lower, 0), upper - lower)
        energy += max(part, 0) * Fraction(rates[i])
        if kwh > lower:
            tier = i
        if upper is not None:
            lower = upper
    subtotal = basics[tier] + math.floor(energy) + kwh * 9 + kwh * 5
    vat = math.floor(Fraction(subtotal, 10) + Fraction(1, 2))
    fund = math.floor(subtotal * Fraction(27, 1000) / 10) * 10
    return {"subtotal_won": subtotal, "vat_won": vat, "fund_won": fund,
            "total_won": (subtotal + vat + fund) // 10 * 10}  # fmt: skip


SAMPLE_KWH = [0, 1, 150, 199, 200, 201, 299, 300, 301, 399, 400, 401, 449, 450, 451, 999, 1000,
              1001, 1500, 4321]  # fmt: skip


@pytest.mark.parametrize("contract", ["residential-low", "residential-high"])
@pytest.mark.parametrize("month", [7, 8, 9, 12])
def test_compute_bill_matches_an_independent_whole_month_bill(contract: str, month: int) -> None:
    start = D(2025, month, 1)
    end = D(2025, month, 31 if month in (7, 8, 12) else 30)
    for kwh in SAMPLE_KWH:
        bill = compute_bill(kwh, start, end, contract=contract)
        assert {
            k: getattr(bill, k) for k in ("subtotal_won", "vat_won", "fund_won", "total_won")
        } == (_reference_month_bill(kwh, month, contract)), kwh


# -- periods spanning a change --------------------------------------------------------------
def test_season_change_prorates_bounds_and_basic_by_days() -> None:
    # 2023-06-15..07-14: 16 June days (200/400) and 14 July days (300/450); fund 3.7%
    bill = compute_bill(250, D(2023, 6, 15), D(2023, 7, 14))
    # energy (16 x (200 x 120 + 50 x 214.6) + 14 x 250 x 120) / 30 = 32,522.67
    assert bill.energy_won == 32522
    # basic (16 x 1,600 + 14 x 910) / 30 = 1,278
    assert bill.basic_won == 1278
    assert (bill.climate_won, bill.fuel_won, bill.subtotal_won) == (2250, 1250, 37300)
    assert (bill.vat_won, bill.fund_won, bill.total_won) == (3730, 1380, 42410)
    assert bill.tier == 2


def test_fund_rate_change_is_prorated_by_days_by_default() -> None:
    # 2024-06-16..07-15: 15 days at 3.7% and 15 at 3.2%
    days = compute_bill(350, D(2024, 6, 16), D(2024, 7, 15))
    start = compute_bill(350, D(2024, 6, 16), D(2024, 7, 15), fund_proration="start")
    expected_rate = (Fraction(37, 1000) + Fraction(32, 1000)) / 2
    assert days.fund_won == math.floor(days.subtotal_won * expected_rate / 10) * 10
    assert start.fund_won == math.floor(start.subtotal_won * Fraction(37, 1000) / 10) * 10
    assert any("fund_proration='days'" in n for n in days.notes)


def test_fuel_change_options_days_and_start() -> None:
    # 2022-06-21..07-20: fuel 0 for 10 days, +5 for 20 days
    days = compute_bill(300, D(2022, 6, 21), D(2022, 7, 20))
    start = compute_bill(300, D(2022, 6, 21), D(2022, 7, 20), fuel_proration="start")
    assert days.fuel_won == 1000  # 300 x 5 x 20/30
    assert start.fuel_won == 0
    assert any("fuel_proration='start'" in n for n in start.notes)


def test_negative_fuel_adjustment_is_cut_towards_zero() -> None:
    # 2021-01: fuel -3.0; 100.5 kWh x -3 = -301.5 -> -301 (절사 of the magnitude)
    assert compute_bill(Decimal("100.5"), D(2021, 1, 1), D(2021, 1, 31)).fuel_won == -301


def test_essential_use_deduction_history() -> None:
    # Jan 2021, 150 kWh: basic 910 + energy 13,245 + climate 795 - fuel 450 = 14,500 -> 4,000
    jan = compute_bill(150, D(2021, 1, 1), D(2021, 1, 31))
    assert (jan.basic_won, jan.energy_won, jan.climate_won, jan.fuel_won) == (910, 13245, 795, -450)
    assert jan.deduction_won == 4000 and jan.subtotal_won == 10500
    assert compute_bill(150, D(2021, 8, 1), D(2021, 8, 31)).deduction_won == 2000
    assert compute_bill(150, D(2022, 8, 1), D(2022, 8, 31)).deduction_won == 0
    assert compute_bill(201, D(2021, 8, 1), D(2021, 8, 31)).deduction_won == 0
    # a tiny usage: min(limit, charges - 1,000) leaves 1,000 won
    tiny = compute_bill(10, D(2021, 8, 1), D(2021, 8, 31))
    assert tiny.subtotal_won == 1000
    # across the abolition, the limit is prorated by days: 2022-06-16..07-15 -> 2,000 x 15/30
    assert compute_bill(150, D(2022, 6, 16), D(2022, 7, 15)).deduction_won == 1000


def test_irregular_period_length_is_noted() -> None:
    bill = compute_bill(100, D(2025, 10, 1), D(2025, 10, 10))
    assert any("10 days" in note for note in bill.notes)


def test_bill_to_dict_is_json_ready() -> None:
    bill = compute_bill(Decimal("350.25"), D(2022, 3, 11), D(2022, 4, 10))
    data = json.loads(json.dumps(bill.to_dict()))
    assert data["total_won"] == bill.total_won and isinstance(data["total_won"], int)
    assert data["start"] == "2022-03-11" and data["kwh"] == "350.250"
    assert data["lines"][0]["rate_won_per_kwh"] == "88.3"


# -- errors ---------------------------------------------------------------------------------
def test_compute_bill_rejects_bad_arguments() -> None:
    with pytest.raises(TariffError, match="unknown contract"):
        compute_bill(100, D(2025, 1, 1), D(2025, 1, 31), contract="residential")
    with pytest.raises(TariffError, match="begin on 2021-01-01"):
        compute_bill(100, D(2020, 12, 15), D(2021, 1, 14))
    with pytest.raises(ValueError, match="before start"):
        compute_bill(100, D(2025, 1, 31), D(2025, 1, 1))
    with pytest.raises(ValueError, match="is 396 days: a bill covers one meter-reading cycle"):
        compute_bill(350, D(2026, 7, 1), D(2027, 7, 31))
    assert compute_bill(350, D(2026, 7, 1), D(2026, 8, 31)).total_won > 0  # 62 days: two cycles
    with pytest.raises(ValueError, match=">= 0 kWh"):
        compute_bill(-1, D(2025, 1, 1), D(2025, 1, 31))
    with pytest.raises(ValueError, match="finite"):
        compute_bill(float("nan"), D(2025, 1, 1), D(2025, 1, 31))
    for energy in (Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity")):
        with pytest.raises(ValueError, match="finite"):  # not decimal.InvalidOperation
            compute_bill(energy, D(2025, 1, 1), D(2025, 1, 31))
    for energy in (Decimal("1e300"), 1e300, 10**24):
        with pytest.raises(ValueError, match="below 1e24 kWh"):
            compute_bill(energy, D(2025, 1, 1), D(2025, 1, 31))
    exact = compute_bill(Decimal("9.99e23"), D(2025, 1, 1), D(2025, 1, 31))
    assert exact.kwh == Decimal("9.99e23")
    with pytest.raises(TypeError, match="number of kWh"):
        compute_bill(True, D(2025, 1, 1), D(2025, 1, 31))
    with pytest.raises(TypeError, match=r"datetime\.date"):
        compute_bill(1, dt.datetime(2025, 1, 1), D(2025, 1, 31))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fuel_proration"):
        compute_bill(1, D(2025, 1, 1), D(2025, 1, 31), fuel_proration="month")  # type: ignore[arg-type]


def test_compute_bill_refuses_tou_contracts_without_interval_data() -> None:
    with pytest.raises(TariffError, match="compute_tou_bill"):
        compute_bill(1000, D(2025, 1, 1), D(2025, 1, 31), contract="industrial-a2-high-a-1")


# -- tier status ----------------------------------------------------------------------------
def test_tier_status_reports_next_bound_jump_and_marginal_price() -> None:
    s = tier_status(195, D(2025, 10, 1), D(2025, 10, 31))
    assert (s.tier, s.next_boundary_kwh, s.kwh_to_boundary) == (1, 200, 5)
    assert s.basic_jump_won == 690
    assert s.marginal_won_per_kwh == Decimal("151.0180")  # 134 x 1.127
    s = tier_status(401, D(2025, 8, 1), D(2025, 8, 31))
    assert (s.tier, s.next_boundary_kwh, s.basic_jump_won) == (2, 450, 5700)
    s = tier_status(999, D(2026, 1, 1), D(2026, 1, 31))
    assert (s.tier, s.next_boundary_kwh, s.basic_jump_won) == (3, 1000, 0)
    assert s.marginal_won_per_kwh == Decimal("321.3") * Decimal("1.127")  # still block 3
    s = tier_status(1200, D(2025, 10, 1), D(2025, 10, 31))
    assert (s.tier, s.next_boundary_kwh, s.kwh_to_boundary) == (3, None, None)
    s = tier_status(1200, D(2026, 1, 1), D(2026, 1, 31))
    assert s.tier == 4
    assert s.marginal_won_per_kwh == (Decimal("736.2") + 9 + 5) * Decimal("1.127")


def test_tier_status_marginal_price_equals_the_change_of_the_unrounded_total() -> None:
    # at exactly 200 kWh the next kWh crosses the bound: energy 214.6 + climate 9 + fuel 5,
    # plus the basic jump 690, all x (1 + 10% + 2.7%)
    s = tier_status(200, D(2025, 10, 1), D(2025, 10, 31))
    assert s.kwh_to_boundary == 0
    assert s.marginal_won_per_kwh == (Decimal("214.6") + 9 + 5 + 690) * Decimal("1.127")


def test_tier_status_prorates_bounds_across_a_season_change() -> None:
    s = tier_status(250, D(2023, 6, 15), D(2023, 7, 14))
    assert s.boundaries_kwh == (200, 300, 400, 450, 1000)
    assert (s.tier, s.next_boundary_kwh, s.kwh_to_boundary) == (2, 300, 50)
    assert s.basic_jump_won == Decimal("322.00")  # 690 x 14/30 (July share)
    # energy rate is the day-weighted mix: (16 x 214.6 + 14 x 120) / 30
    rate = (16 * Decimal("214.6") + 14 * Decimal("120.0")) / 30 + 14
    assert s.marginal_won_per_kwh == (rate * Decimal("1.137")).quantize(Decimal("0.0001"))
    assert json.loads(json.dumps(s.to_dict()))["next_boundary_kwh"] == "300"


def test_tier_status_marginal_price_is_zero_under_the_deduction_floor() -> None:
    # 2021-08, 10 kWh: the essential-use deduction keeps the subtotal at 1,000 won
    assert tier_status(10, D(2021, 8, 1), D(2021, 8, 31)).marginal_won_per_kwh == 0


# -- properties -----------------------------------------------------------------------------
CONTRACTS = st.sampled_from(["residential-low", "residential-high"])
PERIOD_STARTS = st.dates(min_value=D(2021, 1, 1), max_value=D(2026, 12, 31))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    contract=CONTRACTS,
    start=st.dates(min_value=D(2021, 10, 1), max_value=D(2026, 12, 31)),
    length=st.integers(1, 62),
    a=st.decimals(min_value=0, max_value=3000, places=3),
    b=st.decimals(min_value=0, max_value=3000, places=3),
    fuel=st.sampled_from(["days", "start"]),
)
def test_total_never_falls_when_usage_rises(
    contract: str, start: dt.date, length: int, a: Decimal, b: Decimal, fuel: str
) -> None:
    lo, hi = sorted((a, b))
    end = start + dt.timedelta(days=length - 1)
    low = compute_bill(lo, start, end, contract=contract, fuel_proration=fuel)  # type: ignore[arg-type]
    high = compute_bill(hi, start, end, contract=contract, fuel_proration=fuel)  # type: ignore[arg-type]
    assert high.total_won >= low.total_won
    assert high.subtotal_won >= low.subtotal_won


@settings(max_examples=200, deadline=None)
@given(
    contract=CONTRACTS, start=PERIOD_STARTS, length=st.integers(28, 31), kwh=st.integers(0, 2999)
)
def test_total_never_falls_for_one_more_whole_kwh_including_2021_negative_fuel(
    contract: str, start: dt.date, length: int, kwh: int
) -> None:
    # With the negative fuel adjustment of 2021 (-3 won/kWh, cut towards zero) a rise of a
    # few watt-hours can lower the subtotal by 1 won; KEPCO bills whole kWh, where it cannot.
    end = start + dt.timedelta(days=length - 1)
    low = compute_bill(kwh, start, end, contract=contract)
    high = compute_bill(kwh + 1, start, end, contract=contract)
    assert high.total_won >= low.total_won


def _per_day_reference(
    book: TariffBook, kwh: Decimal, start: dt.date, end: dt.date, contract: str
) -> dict[str, int]:
    """Split the period into single days; each day is 1/D of the period priced by that day's
    rules (looked up day by day in the book), cut to the won per day, then summed."""
    days = (end - start).days + 1
    out = {"basic_won": 0, "energy_won": 0, "climate_won": 0}
    for i in range(days):
        day = start + dt.timedelta(days=i)
        bounds = book.value_at(f"{contract}.tier_bounds_kwh", day).value[day.month - 1]
        rates = book.value_at(f"{contract}.energy_won_per_kwh", day).value
        basics = book.value_at(f"{contract}.basic_won", day).value
        climate = book.value_at("climate_won_per_kwh", day).value
        e = Fraction(kwh)
        energy, lower, tier = Fraction(0), Fraction(0), 0
        for k, upper in enumerate([*bounds, None]):
            part = (
                e - lower
                if upper is None
                else min(max(e - lower, Fraction(0)), Fraction(upper) - lower)
            )
            if part > 0:
                energy += part * Fraction(rates[k])
                tier = k
            if upper is not None:
                lower = Fraction(upper)
        out["energy_won"] += math.floor(energy / days)
        out["basic_won"] += math.floor(Fraction(basics[tier]) / days)
        out["climate_won"] += math.floor(e * Fraction(climate) / days)
    return out


@settings(max_examples=150, deadline=None)
@given(
    contract=CONTRACTS,
    start=st.sampled_from([D(2022, 3, 11), D(2022, 9, 20), D(2023, 5, 1), D(2023, 12, 17),
                           D(2024, 6, 15), D(2025, 6, 20), D(2025, 8, 10), D(2022, 12, 25)])
    | PERIOD_STARTS,
    length=st.integers(28, 31),
    kwh=st.decimals(min_value=0, max_value=2500, places=3),
)  # fmt: skip
def test_proration_agrees_with_splitting_into_days_within_one_won_per_day(
    contract: str, start: dt.date, length: int, kwh: Decimal
) -> None:
    end = start + dt.timedelta(days=length - 1)
    bill = compute_bill(kwh, start, end, contract=contract)
    reference = _per_day_reference(BOOK, kwh, start, end, contract)
    for name, split in reference.items():
        assert split <= getattr(bill, name) <= split + length, name
