"""Period-over-period comparisons: this period against the previous one or last year.

Periods are ranges of local calendar dates in the meter's zone, both ends
inclusive (``start <= end``). A period "to date" (e.g. 1-15 March of a
running month) is compared with the same stretch of the comparison period,
so that a half month is never compared with a whole one.

Rules
-----
Month shifts
    A date moves by whole months keeping its day, clamped to the target
    month's length (31 March -> 28 February). The *end* of a period that is
    the last day of its month moves to the last day of the target month, so
    a whole month always maps to a whole month (1-28 Feb 2025 -> 1-31 Jan 2025).
Leap days
    Last year's date for 29 February is 28 February; a period ending on
    28 February 2025 (the month's end) maps to one ending 29 February 2024.
Billing cycles
    With ``reading_day`` given, periods must start on a cycle start and move
    by whole cycles (see :mod:`bitgoeul.analytics.cycles`); a cycle-to-date
    period maps to the same number of days into the comparison cycle.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import numbers
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from bitgoeul.analytics.cycles import BillingCycle, billing_cycle_for, shift_cycle
from bitgoeul.model import check_timezone

__all__ = [
    "PeriodComparison",
    "compare_periods",
    "period_bounds_utc",
    "previous_period",
    "same_period_last_year",
]

Freq = Literal["day", "week", "month", "billing_cycle"]


@dataclass(frozen=True, slots=True)
class PeriodComparison:
    """A value for the current period set against a comparison period.

    Parameters
    ----------
    current : float
        Value in the current period (e.g. energy_kwh [kWh] or cost_won [KRW]).
    previous : float or None
        Value in the comparison period, None if unknown (no data).
    change : float or None
        ``current - previous`` in the same unit; None if ``previous`` is None.
    change_pct : float or None
        ``100 * change / previous`` [%]; 0.0 when both values are 0; None when
        ``previous`` is None or 0 while ``current`` is not (no finite ratio).
    direction : {'up', 'down', 'same'} or None
        Sign of ``change``; None if ``previous`` is None.
    """

    current: float
    previous: float | None
    change: float | None
    change_pct: float | None
    direction: Literal["up", "down", "same"] | None


def _check_number(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}: drop or fill missing data first")
    return float(value)


def compare_periods(current: float, previous: float | None) -> PeriodComparison:
    """Compare a current value with the value of a comparison period.

    Parameters
    ----------
    current : float
        Value in the current period [any unit, e.g. kWh].
    previous : float or None
        Value in the comparison period [same unit], None if there is none.

    Returns
    -------
    PeriodComparison
        Exact difference and percentage, no rounding.

    Examples
    --------
    >>> c = compare_periods(330.0, 300.0)
    >>> (c.change, c.change_pct, c.direction)
    (30.0, 10.0, 'up')
    >>> compare_periods(12.0, None).change is None
    True
    """
    cur = _check_number(current, "current")
    if previous is None:
        return PeriodComparison(cur, None, None, None, None)
    prev = _check_number(previous, "previous")
    change = cur - prev
    if prev != 0:
        pct: float | None = 100.0 * change / prev
    else:
        pct = 0.0 if cur == 0 else None
    direction: Literal["up", "down", "same"] = (
        "up" if change > 0 else "down" if change < 0 else "same"
    )
    return PeriodComparison(cur, prev, change, pct, direction)


def _check_period(start: dt.date, end: dt.date) -> None:
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise TypeError(f"{name} must be a datetime.date (a local date), got {value!r}")
    if end < start:
        raise ValueError(f"end {end} is before start {start}: pass the earlier date first")


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _shift_months(day: dt.date, months: int, *, is_end: bool) -> dt.date:
    index = day.year * 12 + (day.month - 1) + months
    year, month = index // 12, index % 12 + 1
    last = _last_day(year, month)
    if is_end and day.day == _last_day(day.year, day.month):
        return dt.date(year, month, last)
    return dt.date(year, month, min(day.day, last))


def _cycles_back(
    start: dt.date, end: dt.date, reading_day: int, cycles: int | None
) -> tuple[dt.date, dt.date]:
    """Move a cycle-aligned period back by ``cycles`` (None: by its own length in cycles)."""
    first = billing_cycle_for(start, reading_day)
    if start != first.start:
        raise ValueError(
            f"a billing-cycle period must start on a cycle start; {start} is inside the cycle "
            f"{first.label} ({first.start} .. {first.end}) for reading day {reading_day}"
        )
    last = billing_cycle_for(end, reading_day)
    if cycles is None:
        cycles = _cycle_index(last) - _cycle_index(first) + 1
    new_first: BillingCycle = shift_cycle(first, -cycles)
    new_last: BillingCycle = shift_cycle(last, -cycles)
    if end == last.end:
        return new_first.start, new_last.end
    into = (end - last.start).days
    return new_first.start, min(new_last.start + dt.timedelta(days=into), new_last.end)


def _cycle_index(cycle: BillingCycle) -> int:
    return int(cycle.label[:4]) * 12 + int(cycle.label[5:])


def previous_period(
    start: dt.date, end: dt.date, freq: Freq, *, reading_day: int | None = None
) -> tuple[dt.date, dt.date]:
    """Return the period just before a local period, of the same kind and length.

    Parameters
    ----------
    start, end : datetime.date
        The current period, local dates, both inclusive.
    freq : {'day', 'week', 'month', 'billing_cycle'}
        How to step back: 'day' by the period's length in days (yesterday for
        one day); 'week' by the smallest whole number of weeks covering it
        (keeps weekdays aligned); 'month' by the smallest whole number of
        months that puts it entirely before ``start`` (month rules in the
        module docstring); 'billing_cycle' by whole billing cycles.
    reading_day : int, optional
        Meter-reading day 검침일 (1-31); required for 'billing_cycle'.

    Returns
    -------
    tuple of datetime.date
        ``(start, end)`` of the previous period, both inclusive.

    Examples
    --------
    >>> import datetime as dt
    >>> previous_period(dt.date(2025, 3, 1), dt.date(2025, 3, 31), "month")
    (datetime.date(2025, 2, 1), datetime.date(2025, 2, 28))
    >>> previous_period(dt.date(2025, 3, 1), dt.date(2025, 3, 15), "month")
    (datetime.date(2025, 2, 1), datetime.date(2025, 2, 15))
    >>> previous_period(dt.date(2025, 7, 15), dt.date(2025, 8, 14), "billing_cycle", reading_day=15)
    (datetime.date(2025, 6, 15), datetime.date(2025, 7, 14))
    """
    _check_period(start, end)
    length = (end - start).days + 1
    if freq == "day":
        step = dt.timedelta(days=length)
        return start - step, end - step
    if freq == "week":
        step = dt.timedelta(days=7 * math.ceil(length / 7))
        return start - step, end - step
    if freq == "month":
        months = 1
        while _shift_months(end, -months, is_end=True) >= start:
            months += 1
        return (
            _shift_months(start, -months, is_end=False),
            _shift_months(end, -months, is_end=True),
        )
    if freq == "billing_cycle":
        if reading_day is None:
            raise ValueError("freq='billing_cycle' needs reading_day (the meter's 검침일, 1-31)")
        return _cycles_back(start, end, reading_day, None)
    raise ValueError(f"freq must be 'day', 'week', 'month' or 'billing_cycle', got {freq!r}")


def same_period_last_year(
    start: dt.date, end: dt.date, *, reading_day: int | None = None
) -> tuple[dt.date, dt.date]:
    """Return the same local period one year earlier (leap-day safe).

    Parameters
    ----------
    start, end : datetime.date
        The current period, local dates, both inclusive.
    reading_day : int, optional
        Meter-reading day 검침일 (1-31). When given, the period must start on
        a billing-cycle start and the result is the cycle(s) with the same
        bill-month label(s) a year earlier, to date if the period is.

    Returns
    -------
    tuple of datetime.date
        ``(start, end)`` one year earlier, both inclusive.

    Examples
    --------
    >>> import datetime as dt
    >>> same_period_last_year(dt.date(2025, 2, 1), dt.date(2025, 2, 28))
    (datetime.date(2024, 2, 1), datetime.date(2024, 2, 29))
    >>> same_period_last_year(dt.date(2024, 2, 29), dt.date(2024, 2, 29))
    (datetime.date(2023, 2, 28), datetime.date(2023, 2, 28))
    """
    _check_period(start, end)
    if reading_day is not None:
        return _cycles_back(start, end, reading_day, 12)
    return _shift_months(start, -12, is_end=False), _shift_months(end, -12, is_end=True)


def period_bounds_utc(
    start: dt.date, end: dt.date, *, timezone: str
) -> tuple[dt.datetime, dt.datetime]:
    """Return the UTC instants that bound a period of local dates.

    Parameters
    ----------
    start, end : datetime.date
        Local dates in ``timezone``, both inclusive.
    timezone : str
        IANA zone name of the meter, e.g. 'Asia/Seoul'.

    Returns
    -------
    tuple of datetime.datetime
        ``(local midnight starting start, local midnight after end)`` in UTC;
        the end is exclusive, ready for ``start <= ts < end``.

    Examples
    --------
    >>> import datetime as dt
    >>> a, b = period_bounds_utc(dt.date(2025, 8, 1), dt.date(2025, 8, 31), timezone="Asia/Seoul")
    >>> a.isoformat(), b.isoformat()
    ('2025-07-31T15:00:00+00:00', '2025-08-31T15:00:00+00:00')
    """
    _check_period(start, end)
    zone = ZoneInfo(check_timezone(timezone))
    lo = dt.datetime.combine(start, dt.time(0), tzinfo=zone)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return lo.astimezone(dt.UTC), hi.astimezone(dt.UTC)
