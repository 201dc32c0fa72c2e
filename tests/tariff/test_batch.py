from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitgoeul.errors import TariffError
from bitgoeul.tariff import compute_bill, compute_bills, load_tariffs
from bitgoeul.tariff.bill import WON_FIELDS

BOOK = load_tariffs()


def _scalar(
    kwh: float, start: np.datetime64, end: np.datetime64, contract: str, **options: str
) -> dict[str, int]:
    return compute_bill(
        kwh,
        start.astype(dt.date),
        end.astype(dt.date),
        contract=contract,
        book=BOOK,
        **options,  # type: ignore[arg-type]
    ).won()


def _random_cycles(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    kwh = rng.uniform(0, 2000, n)
    kwh[: n // 4] = rng.integers(0, 1200, n // 4)  # whole kWh too, with exact block bounds
    kwh[n // 4 : n // 4 + 20] = [200, 201, 300, 301, 400, 401, 450, 451, 1000, 1001] * 2
    start = np.datetime64("2021-01-01") + rng.integers(0, 6 * 365, n).astype("timedelta64[D]")
    end = start + (rng.integers(28, 32, n) - 1).astype("timedelta64[D]")
    contract = np.where(rng.random(n) < 0.5, "residential-low", "residential-high")
    return kwh, start, end, contract


@pytest.mark.parametrize("fuel", ["days", "start"])
@pytest.mark.parametrize("fund", ["days", "start"])
def test_compute_bills_equals_compute_bill_on_random_cycles(fuel: str, fund: str) -> None:
    kwh, start, end, contract = _random_cycles(3000, seed=7)
    won = compute_bills(
        kwh, start, end, contract=contract, book=BOOK, fuel_proration=fuel, fund_proration=fund
    )  # type: ignore[arg-type]
    assert set(won) == set(WON_FIELDS)
    for i in range(len(kwh)):
        expected = _scalar(
            float(kwh[i]),
            start[i],
            end[i],
            str(contract[i]),
            fuel_proration=fuel,
            fund_proration=fund,
        )
        assert {k: int(won[k][i]) for k in WON_FIELDS} == expected, (
            i,
            kwh[i],
            start[i],
            end[i],
            contract[i],
        )


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=5000, allow_nan=False),
            st.dates(min_value=dt.date(2021, 1, 1), max_value=dt.date(2027, 6, 30)),
            st.integers(1, 62),
            st.sampled_from(["residential-low", "residential-high"]),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_compute_bills_equals_compute_bill_property(
    rows: list[tuple[float, dt.date, int, str]],
) -> None:
    kwh = np.array([r[0] for r in rows])
    start = np.array([r[1] for r in rows], dtype="datetime64[D]")
    end = start + np.array([r[2] - 1 for r in rows]).astype("timedelta64[D]")
    won = compute_bills(kwh, start, end, contract=[r[3] for r in rows], book=BOOK)
    for i, row in enumerate(rows):
        assert {k: int(won[k][i]) for k in WON_FIELDS} == _scalar(row[0], start[i], end[i], row[3])


def test_compute_bills_accepts_integers_strings_and_one_contract() -> None:
    won = compute_bills([350, 1100], ["2025-10-01", "2026-01-01"], ["2025-10-31", "2026-01-31"])
    assert won["total_won"].tolist() == [70640, 391760]
    assert won["total_won"].dtype == np.int64
    empty = compute_bills(
        np.array([], dtype=float),
        np.array([], dtype="datetime64[D]"),
        np.array([], dtype="datetime64[D]"),
    )
    assert all(v.shape == (0,) for v in empty.values())


def test_compute_bills_accepts_decimal_objects_like_compute_bill() -> None:
    values = np.array([Decimal("350.0005"), Decimal("199.9995")], dtype=object)
    won = compute_bills(values, ["2025-10-01"] * 2, ["2025-10-31"] * 2)
    for i, v in enumerate(values):
        assert (
            int(won["total_won"][i])
            == compute_bill(v, dt.date(2025, 10, 1), dt.date(2025, 10, 31)).total_won
        )


def test_compute_bills_rejects_bad_input() -> None:
    s, e = (
        np.array(["2025-10-01"], dtype="datetime64[D]"),
        np.array(["2025-10-31"], dtype="datetime64[D]"),
    )
    with pytest.raises(ValueError, match=">= 0 kWh"):
        compute_bills(np.array([-1.0]), s, e)
    with pytest.raises(ValueError, match="finite"):
        compute_bills(np.array([np.nan]), s, e)
    with pytest.raises(ValueError, match="end is before start"):
        compute_bills(np.array([1.0]), e, s)
    with pytest.raises(ValueError, match="same length"):
        compute_bills(np.array([1.0, 2.0]), s, e)
    with pytest.raises(ValueError, match="NaT"):
        compute_bills(np.array([1.0]), np.array(["NaT"], dtype="datetime64[D]"), e)
    with pytest.raises(TariffError, match="begin on 2021-01-01"):
        compute_bills(
            np.array([1.0]),
            np.array(["2020-12-15"], dtype="datetime64[D]"),
            np.array(["2021-01-14"], dtype="datetime64[D]"),
        )
    with pytest.raises(
        ValueError, match=r"first at index 1: the period 2025-10-01 \.\. 2025-12-02 is 63"
    ):
        compute_bills(np.array([1.0, 1.0]), np.r_[s, s], np.r_[e, e + 32])
    two_cycles = compute_bills(np.array([1.0]), s, e + 30)  # 61 days: still one bill
    assert int(two_cycles["total_won"][0]) > 0
    with pytest.raises(TariffError, match="unknown contract"):
        compute_bills(np.array([1.0]), s, e, contract="nope")
    with pytest.raises(TariffError, match="compute_tou_bill"):
        compute_bills(np.array([1.0]), s, e, contract="industrial-a2-high-a-1")
    with pytest.raises(TypeError, match="booleans"):
        compute_bills(np.array([True]), s, e)
