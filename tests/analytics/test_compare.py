from __future__ import annotations

import calendar
import datetime as dt
import doctest
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitgoeul.analytics import compare
from bitgoeul.analytics.compare import (
    compare_periods,
    period_bounds_utc,
    previous_period,
    same_period_last_year,
)
from bitgoeul.analytics.cycles import billing_cycle_for, cycle_by_label

dates = st.dates(min_value=dt.date(1901, 1, 1), max_value=dt.date(2199, 12, 31))
finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


def test_examples_in_docstrings_run() -> None:
    assert doctest.testmod(compare).failed == 0


def test_compare_periods_gives_exact_change_and_percent() -> None:
    c = compare_periods(250.0, 200.0)
    assert (c.change, c.change_pct, c.direction) == (50.0, 25.0, "up")
    c = compare_periods(150.0, 200.0)
    assert (c.change, c.change_pct, c.direction) == (-50.0, -25.0, "down")


def test_compare_periods_handles_missing_and_zero_previous() -> None:
    assert compare_periods(5.0, None).change_pct is None
    assert compare_periods(5.0, None).direction is None
    assert compare_periods(5.0, 0.0).change_pct is None
    assert compare_periods(5.0, 0.0).change == 5.0
    same = compare_periods(0.0, 0.0)
    assert (same.change_pct, same.direction) == (0.0, "same")


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_compare_periods_refuses_non_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        compare_periods(bad, 1.0)
    with pytest.raises(ValueError, match="finite"):
        compare_periods(1.0, bad)


@given(current=finite, previous=finite)
def test_change_adds_back_to_current(current: float, previous: float) -> None:
    c = compare_periods(current, previous)
    assert c.change is not None
    assert math.isclose(previous + c.change, current, rel_tol=1e-12, abs_tol=1e-6)
    if previous != 0:
        assert c.change_pct is not None
        assert math.isclose(c.change_pct, 100 * (current - previous) / previous, rel_tol=1e-12)
    assert (c.direction == "up") == (current > previous)


def test_previous_month_of_whole_and_partial_months() -> None:
    assert previous_period(dt.date(2024, 3, 1), dt.date(2024, 3, 31), "month") == (
        dt.date(2024, 2, 1),
        dt.date(2024, 2, 29),
    )
    assert previous_period(dt.date(2025, 3, 1), dt.date(2025, 3, 30), "month") == (
        dt.date(2025, 2, 1),
        dt.date(2025, 2, 28),
    )
    assert previous_period(dt.date(2025, 1, 1), dt.date(2025, 1, 31), "month") == (
        dt.date(2024, 12, 1),
        dt.date(2024, 12, 31),
    )
    # A quarter moves back by three months.
    assert previous_period(dt.date(2025, 4, 1), dt.date(2025, 6, 30), "month") == (
        dt.date(2025, 1, 1),
        dt.date(2025, 3, 31),
    )


def test_previous_day_and_week() -> None:
    day = dt.date(2025, 3, 1)
    assert previous_period(day, day, "day") == (dt.date(2025, 2, 28), dt.date(2025, 2, 28))
    monday, wednesday = dt.date(2025, 3, 3), dt.date(2025, 3, 5)
    assert previous_period(monday, wednesday, "week") == (
        dt.date(2025, 2, 24),
        dt.date(2025, 2, 26),
    )


def test_previous_billing_cycle_whole_and_to_date() -> None:
    cycle = cycle_by_label("2025-03", 31)  # 28 Feb .. 30 Mar
    assert previous_period(cycle.start, cycle.end, "billing_cycle", reading_day=31) == (
        dt.date(2025, 1, 31),
        dt.date(2025, 2, 27),
    )
    # 30 days into the March cycle -> capped at the end of the 28-day February cycle.
    to_date = previous_period(
        cycle.start, cycle.start + dt.timedelta(days=29), "billing_cycle", reading_day=31
    )
    assert to_date == (dt.date(2025, 1, 31), dt.date(2025, 2, 27))
    early = previous_period(
        cycle.start, cycle.start + dt.timedelta(days=2), "billing_cycle", reading_day=31
    )
    assert early == (dt.date(2025, 1, 31), dt.date(2025, 2, 2))


def test_billing_cycle_period_must_start_on_a_cycle_start() -> None:
    with pytest.raises(ValueError, match="cycle start"):
        previous_period(dt.date(2025, 3, 3), dt.date(2025, 3, 20), "billing_cycle", reading_day=1)
    with pytest.raises(ValueError, match="reading_day"):
        previous_period(dt.date(2025, 3, 1), dt.date(2025, 3, 31), "billing_cycle")


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="before start"):
        previous_period(dt.date(2025, 3, 2), dt.date(2025, 3, 1), "day")
    with pytest.raises(ValueError, match="freq"):
        previous_period(dt.date(2025, 3, 1), dt.date(2025, 3, 1), "fortnight")  # type: ignore[arg-type]


def test_same_period_last_year_is_leap_day_safe() -> None:
    assert same_period_last_year(dt.date(2024, 2, 29), dt.date(2024, 2, 29)) == (
        dt.date(2023, 2, 28),
        dt.date(2023, 2, 28),
    )
    assert same_period_last_year(dt.date(2025, 2, 1), dt.date(2025, 2, 28)) == (
        dt.date(2024, 2, 1),
        dt.date(2024, 2, 29),
    )
    assert same_period_last_year(dt.date(2024, 2, 1), dt.date(2024, 2, 28)) == (
        dt.date(2023, 2, 1),
        dt.date(2023, 2, 28),
    )
    assert same_period_last_year(dt.date(2025, 7, 15), dt.date(2025, 8, 14)) == (
        dt.date(2024, 7, 15),
        dt.date(2024, 8, 14),
    )


def test_same_billing_cycle_last_year_follows_labels() -> None:
    cycle = cycle_by_label("2024-03", 29)  # 29 Feb 2024 .. 28 Mar 2024
    got = same_period_last_year(cycle.start, cycle.end, reading_day=29)
    last = cycle_by_label("2023-03", 29)  # 28 Feb 2023 .. 28 Mar 2023
    assert got == (last.start, last.end)


def test_period_bounds_utc_spans_local_days() -> None:
    lo, hi = period_bounds_utc(dt.date(2024, 3, 31), dt.date(2024, 3, 31), timezone="Europe/Berlin")
    assert (hi - lo) == dt.timedelta(hours=23)  # DST starts that day
    lo, hi = period_bounds_utc(dt.date(2025, 1, 1), dt.date(2025, 1, 31), timezone="Asia/Seoul")
    assert lo == dt.datetime(2024, 12, 31, 15, tzinfo=dt.UTC)
    assert hi == dt.datetime(2025, 1, 31, 15, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="time zone"):
        period_bounds_utc(dt.date(2025, 1, 1), dt.date(2025, 1, 1), timezone="Mars/Olympus")


@given(start=dates, span=st.integers(min_value=0, max_value=400))
def test_previous_day_span_ends_the_day_before(start: dt.date, span: int) -> None:
    end = start + dt.timedelta(days=span)
    p_start, p_end = previous_period(start, end, "day")
    assert p_end == start - dt.timedelta(days=1)
    assert (p_end - p_start) == (end - start)


@given(start=dates, span=st.integers(min_value=0, max_value=120))
def test_previous_month_lies_before_and_keeps_whole_months(start: dt.date, span: int) -> None:
    end = start + dt.timedelta(days=span)
    p_start, p_end = previous_period(start, end, "month")
    assert p_start <= p_end < start
    month_end = calendar.monthrange(end.year, end.month)[1]
    if start.day == 1 and end.day == month_end:
        assert p_start.day == 1
        assert p_end.day == calendar.monthrange(p_end.year, p_end.month)[1]


@given(start=dates, span=st.integers(min_value=0, max_value=400))
def test_same_period_last_year_moves_one_year(start: dt.date, span: int) -> None:
    end = start + dt.timedelta(days=span)
    p_start, p_end = same_period_last_year(start, end)
    assert p_start <= p_end
    assert (p_start.year, p_end.year) == (start.year - 1, end.year - 1)
    assert (p_start.month, p_end.month) == (start.month, end.month)
    assert abs((end - start).days - (p_end - p_start).days) <= 1


@given(day=dates, reading_day=st.integers(min_value=1, max_value=31))
def test_previous_billing_cycle_is_adjacent(day: dt.date, reading_day: int) -> None:
    cycle = billing_cycle_for(day, reading_day)
    p_start, p_end = previous_period(
        cycle.start, cycle.end, "billing_cycle", reading_day=reading_day
    )
    assert p_end == cycle.start - dt.timedelta(days=1)
    assert billing_cycle_for(p_start, reading_day).start == p_start
