from __future__ import annotations

import calendar
import datetime as dt
import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitgoeul.analytics import cycles
from bitgoeul.analytics.cycles import (
    BillingCycle,
    billing_cycle_for,
    billing_cycles,
    cycle_by_label,
    shift_cycle,
)

reading_days = st.integers(min_value=1, max_value=31)
dates = st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2200, 12, 31))


def test_examples_in_docstrings_run() -> None:
    assert doctest.testmod(cycles).failed == 0


def test_billing_cycle_for_matches_kepco_example_period() -> None:
    # docs/kepco-tariff-and-dr.md §1.7: reading day 11 -> cycle 2022-03-11 .. 2022-04-10.
    cycle = billing_cycle_for(dt.date(2022, 3, 25), 11)
    assert (cycle.start, cycle.end, cycle.days) == (dt.date(2022, 3, 11), dt.date(2022, 4, 10), 31)


def test_label_is_month_of_closing_reading() -> None:
    # Reading day 1: the "August" bill (8월분) is July's usage (CBS 노컷뉴스 2016, KEPCO notice).
    august = cycle_by_label("2025-08", 1)
    assert (august.start, august.end) == (dt.date(2025, 7, 1), dt.date(2025, 7, 31))
    # Reading day 15: 15 July .. 14 August is the August bill.
    assert billing_cycle_for(dt.date(2025, 7, 15), 15).label == "2025-08"
    assert billing_cycle_for(dt.date(2025, 7, 14), 15).label == "2025-07"


def test_reading_day_past_month_end_clamps_to_last_day() -> None:
    feb = cycle_by_label("2025-02", 31)
    assert (feb.start, feb.end, feb.days) == (dt.date(2025, 1, 31), dt.date(2025, 2, 27), 28)
    mar = cycle_by_label("2025-03", 31)
    assert (mar.start, mar.end, mar.days) == (dt.date(2025, 2, 28), dt.date(2025, 3, 30), 31)
    leap = cycle_by_label("2024-03", 30)
    assert (leap.start, leap.end) == (dt.date(2024, 2, 29), dt.date(2024, 3, 29))


def test_reading_day_one_gives_calendar_months() -> None:
    for cycle in billing_cycles(dt.date(2024, 1, 1), dt.date(2024, 12, 31), 1):
        assert cycle.start.day == 1
        assert cycle.end.day == calendar.monthrange(cycle.end.year, cycle.end.month)[1]


def test_billing_cycles_lists_overlapping_cycles_in_order() -> None:
    got = billing_cycles(dt.date(2025, 1, 10), dt.date(2025, 3, 9), 10)
    assert [c.label for c in got] == ["2025-02", "2025-03"]
    got = billing_cycles(dt.date(2025, 1, 10), dt.date(2025, 3, 10), 10)
    assert [c.label for c in got] == ["2025-02", "2025-03", "2025-04"]


@pytest.mark.parametrize("bad", [0, 32, -1])
def test_reading_day_out_of_range_is_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="reading_day"):
        billing_cycle_for(dt.date(2025, 1, 1), bad)


@pytest.mark.parametrize("label", ["2025-13", "2025-8", "202508", "2025-00", "Aug 2025"])
def test_bad_label_is_refused(label: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        cycle_by_label(label, 5)


def test_billing_cycle_for_refuses_datetimes() -> None:
    with pytest.raises(TypeError, match="local date"):
        billing_cycle_for(dt.datetime(2025, 1, 1, 12), 5)  # type: ignore[arg-type]


def test_cycle_end_before_start_is_refused() -> None:
    with pytest.raises(ValueError, match="before its start"):
        BillingCycle("2025-01", dt.date(2025, 1, 10), dt.date(2025, 1, 9), 10)


@given(day=dates, reading_day=reading_days)
def test_cycle_contains_its_day_and_lasts_28_to_31_days(day: dt.date, reading_day: int) -> None:
    cycle = billing_cycle_for(day, reading_day)
    assert cycle.contains(day)
    assert 28 <= cycle.days <= 31
    assert cycle.days == (cycle.end - cycle.start).days + 1
    closing = cycle.end + dt.timedelta(days=1)
    assert cycle.label == f"{closing.year:04d}-{closing.month:02d}"
    # Both ends are nominal reading dates: the reading day clamped to the month's end.
    for reading in (cycle.start, closing):
        last = calendar.monthrange(reading.year, reading.month)[1]
        assert reading.day == min(reading_day, last)


@given(start=dates, span=st.integers(min_value=0, max_value=800), reading_day=reading_days)
def test_consecutive_cycles_tile_the_calendar(start: dt.date, span: int, reading_day: int) -> None:
    end = start + dt.timedelta(days=span)
    got = billing_cycles(start, end, reading_day)
    assert got[0].contains(start)
    assert got[-1].contains(end)
    for before, after in zip(got, got[1:], strict=False):
        assert after.start == before.end + dt.timedelta(days=1)
        assert after.label > before.label
    assert len({c.label for c in got}) == len(got)


@given(day=dates, reading_day=reading_days, n=st.integers(min_value=-30, max_value=30))
def test_label_round_trips_and_shifts(day: dt.date, reading_day: int, n: int) -> None:
    cycle = billing_cycle_for(day, reading_day)
    assert cycle_by_label(cycle.label, reading_day) == cycle
    moved = shift_cycle(cycle, n)
    assert shift_cycle(moved, -n) == cycle
    if n == 1:
        assert moved.start == cycle.end + dt.timedelta(days=1)
