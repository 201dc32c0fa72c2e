"""KEPCO billing cycles delimited by the meter-reading day (검침일).

A KEPCO bill covers the energy used from one meter reading to the next: from
the reading date (inclusive) to the day before the next reading date
(inclusive). The tariff notes (``docs/kepco-tariff-and-dr.md`` §1.7, "The bill
covers 검침일 to 검침일") quote KEPCO's own example: a household read on the
11th has the cycle 2022-03-11 .. 2022-04-10.

Conventions
-----------
Reading dates
    The reading date in a month is ``reading_day`` of that month, or the
    month's last day when the month is shorter (reading day 29-31 in
    February, 31 in a 30-day month). Reading day 1 gives calendar months.
    These are the *nominal* dates: KEPCO may read a few days early or late
    (weekends, holidays, manual reads). A service that knows the actual read
    dates should bill from those.
Label
    A cycle is labelled ``"YYYY-MM"`` by the month of the reading that
    **closes** it, i.e. the month of ``end + 1 day``. This is how KEPCO names
    a bill (N월분): with reading day 15 the "August" bill covers
    15 July .. 14 August, and with reading day 1 it covers 1 .. 31 July.
    Source: KEPCO's 2016 summer-discount notice as reported by CBS 노컷뉴스,
    https://m.nocutnews.co.kr/news/amp/4641337 ("8월분은 요금 적용 기간이
    7월 1일~31일, 9월분은 8월 1일~31일로 검침일 전달 사용분을 검침"), for a
    household read on the 1st. The tariff notes do not state the label
    convention; they state only the period boundaries (§1.7).
Length
    A cycle lasts 28 to 31 days whatever the reading day: for reading days
    1-28 it is the length of the month it starts in; for 29-31 the clamping
    to month ends keeps it within the same bounds (e.g. reading day 31:
    31 Jan .. 27 Feb is 28 days; 28 Feb .. 30 Mar is 31 days).

All dates are local calendar dates in the meter's time zone; use
:func:`bitgoeul.analytics.compare.period_bounds_utc` to turn a cycle into a
UTC time range for selecting readings.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

__all__ = [
    "BillingCycle",
    "billing_cycle_for",
    "billing_cycles",
    "cycle_by_label",
    "shift_cycle",
]

_LABEL = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class BillingCycle:
    """One billing cycle: the local dates between two meter readings.

    Parameters
    ----------
    label : str
        ``"YYYY-MM"``, the month of the reading that closes the cycle (the
        KEPCO bill month, N월분).
    start : datetime.date
        First day, the opening reading date (inclusive).
    end : datetime.date
        Last day, the day before the closing reading date (inclusive).
    reading_day : int
        Meter-reading day 검침일 (1-31) the cycle was derived from.

    Attributes
    ----------
    days : int
        Number of days in the cycle [d], ``(end - start).days + 1``.
    """

    label: str
    start: dt.date
    end: dt.date
    reading_day: int
    days: int = field(init=False)

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"cycle end {self.end} is before its start {self.start}")
        object.__setattr__(self, "days", (self.end - self.start).days + 1)

    def contains(self, day: dt.date) -> bool:
        """Return True if the local date ``day`` falls within the cycle."""
        return self.start <= day <= self.end


def _check_reading_day(reading_day: int) -> int:
    if isinstance(reading_day, bool) or not isinstance(reading_day, int):
        raise TypeError(f"reading_day must be an int from 1 to 31, got {reading_day!r}")
    if not 1 <= reading_day <= 31:
        raise ValueError(f"reading_day must be from 1 to 31, got {reading_day}")
    return reading_day


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _reading_date(year: int, month: int, reading_day: int) -> dt.date:
    """Return the nominal reading date in a month: the reading day, clamped to its end."""
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(reading_day, last))


def _cycle_closed_in(year: int, month: int, reading_day: int) -> BillingCycle:
    """Return the cycle whose closing reading falls in ``year``-``month``."""
    closing = _reading_date(year, month, reading_day)
    prev_year, prev_month = _add_months(year, month, -1)
    opening = _reading_date(prev_year, prev_month, reading_day)
    return BillingCycle(
        label=f"{year:04d}-{month:02d}",
        start=opening,
        end=closing - dt.timedelta(days=1),
        reading_day=reading_day,
    )


def billing_cycle_for(day: dt.date, reading_day: int) -> BillingCycle:
    """Return the billing cycle that contains a local date.

    Parameters
    ----------
    day : datetime.date
        Local calendar date in the meter's zone.
    reading_day : int
        Meter-reading day 검침일, 1-31; a day past a month's end means that
        month's last day.

    Returns
    -------
    BillingCycle
        The cycle with ``start <= day <= end``.

    Examples
    --------
    >>> import datetime as dt
    >>> c = billing_cycle_for(dt.date(2025, 8, 3), 15)
    >>> (c.label, c.start.isoformat(), c.end.isoformat(), c.days)
    ('2025-08', '2025-07-15', '2025-08-14', 31)
    >>> billing_cycle_for(dt.date(2025, 7, 20), 1).label
    '2025-08'
    """
    _check_reading_day(reading_day)
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise TypeError(f"day must be a datetime.date (a local date), got {day!r}")
    if day >= _reading_date(day.year, day.month, reading_day):
        year, month = _add_months(day.year, day.month, 1)
    else:
        year, month = day.year, day.month
    return _cycle_closed_in(year, month, reading_day)


def cycle_by_label(label: str, reading_day: int) -> BillingCycle:
    """Return the billing cycle with a given bill-month label.

    Parameters
    ----------
    label : str
        ``"YYYY-MM"``: the month of the closing reading (KEPCO's N월분).
    reading_day : int
        Meter-reading day 검침일, 1-31.

    Returns
    -------
    BillingCycle

    Examples
    --------
    >>> c = cycle_by_label("2024-03", 31)
    >>> (c.start.isoformat(), c.end.isoformat(), c.days)
    ('2024-02-29', '2024-03-30', 31)
    """
    _check_reading_day(reading_day)
    match = _LABEL.match(label) if isinstance(label, str) else None
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"billing cycle label must look like '2025-08' (YYYY-MM), got {label!r}")
    year, month = int(match.group(1)), int(match.group(2))
    if (year, month) <= (1, 1):
        raise ValueError(f"billing cycle label {label!r} is too early: use a year from 0001-02")
    return _cycle_closed_in(year, month, reading_day)


def shift_cycle(cycle: BillingCycle, cycles: int) -> BillingCycle:
    """Return the cycle ``cycles`` cycles after (negative: before) ``cycle``.

    Parameters
    ----------
    cycle : BillingCycle
        Reference cycle.
    cycles : int
        Number of cycles to move; ``-1`` is the previous cycle, ``-12`` the
        same bill month last year.

    Returns
    -------
    BillingCycle

    Examples
    --------
    >>> shift_cycle(cycle_by_label("2025-01", 10), -1).label
    '2024-12'
    """
    year, month = int(cycle.label[:4]), int(cycle.label[5:])
    year, month = _add_months(year, month, cycles)
    return cycle_by_label(f"{year:04d}-{month:02d}", cycle.reading_day)


def billing_cycles(start: dt.date, end: dt.date, reading_day: int) -> list[BillingCycle]:
    """Return the billing cycles that overlap a range of local dates, in order.

    Parameters
    ----------
    start, end : datetime.date
        First and last local date of the range (both inclusive).
    reading_day : int
        Meter-reading day 검침일, 1-31.

    Returns
    -------
    list of BillingCycle
        From the cycle containing ``start`` to the cycle containing ``end``;
        consecutive cycles tile the calendar (each starts the day after the
        previous one ends).

    Examples
    --------
    >>> import datetime as dt
    >>> [c.label for c in billing_cycles(dt.date(2025, 1, 1), dt.date(2025, 3, 31), 20)]
    ['2025-01', '2025-02', '2025-03', '2025-04']
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}: pass the earlier date first")
    cycle = billing_cycle_for(start, reading_day)
    out = [cycle]
    while cycle.end < end:
        cycle = shift_cycle(cycle, 1)
        out.append(cycle)
    return out
