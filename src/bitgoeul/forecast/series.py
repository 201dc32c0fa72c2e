"""Regular-grid arrays of a long-format history, and the local calendar of a grid.

The models work on one numpy array per meter: position ``i`` is the interval
starting at ``start + i * interval_s``. :func:`to_grids` builds them from a
checked history, reading only the rows before ``as_of`` (as-of discipline);
positions at or after ``as_of`` exist (so calendar features of the forecast
intervals can be computed) but hold NaN. :func:`grid_calendar` gives the local
hour, weekday, month and Korean (or other) public-holiday flags of each
position.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from bitgoeul.analytics.profile import holiday_dates
from bitgoeul.analytics.quality import infer_interval_s
from bitgoeul.model import check_timezone

__all__ = [
    "GridCalendar",
    "MeterGrid",
    "country_of_zone",
    "grid_calendar",
    "holiday_dates",
    "infer_history_interval_s",
    "steps_per_day",
    "to_grids",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_NS = 1_000_000_000
_DAY_S = 86_400


@dataclass(frozen=True, slots=True, eq=False)
class MeterGrid:
    """One meter's readings on a regular grid ending at ``start + len * interval_s``.

    Parameters
    ----------
    meter_id : str
        Meter the values belong to.
    start : pandas.Timestamp
        UTC start of the interval at position 0.
    interval_s : int
        Grid step [s].
    origin : int
        Position of ``as_of``: values at and after it are NaN (not read).
    energy_kwh : numpy.ndarray
        Energy per interval [kWh], NaN where missing, masked or not yet read.
    temp_c : numpy.ndarray or None
        Air temperature [°C] on the same grid, None if the history has none.
    """

    meter_id: str
    start: pd.Timestamp
    interval_s: int
    origin: int
    energy_kwh: FloatArray
    temp_c: FloatArray | None

    def position(self, when: pd.Timestamp) -> int:
        """Return the grid position of an instant on the grid."""
        offset_ns = int((when - self.start).value)
        return offset_ns // (self.interval_s * _NS)

    def times(self) -> pd.DatetimeIndex:
        """Return the UTC interval starts of every position."""
        return pd.date_range(
            self.start, periods=self.energy_kwh.size, freq=pd.Timedelta(seconds=self.interval_s)
        )


@dataclass(frozen=True, slots=True, eq=False)
class GridCalendar:
    """Local-time calendar of each grid position (same length as the grid).

    Attributes
    ----------
    hour : numpy.ndarray
        Local time of day of the interval start [h], e.g. 13.5.
    day_of_week : numpy.ndarray
        Monday 0 .. Sunday 6 of the local date.
    month : numpy.ndarray
        1..12.
    day : numpy.ndarray
        Local date as days since 1970-01-01 (changes at local midnight).
    is_holiday, holiday_prev_day, holiday_next_day : numpy.ndarray of bool
        The local date, the day before it, the day after it is a public holiday.
    bridge_day : numpy.ndarray of bool
        A working day (Mon-Fri, not a holiday) between two days off
        (weekend or holiday): many take it off too (징검다리 휴일).
    day_type : numpy.ndarray
        0 weekday, 1 Saturday, 2 Sunday or public holiday.
    """

    hour: FloatArray
    day_of_week: IntArray
    month: IntArray
    day: IntArray
    is_holiday: BoolArray
    holiday_prev_day: BoolArray
    holiday_next_day: BoolArray
    bridge_day: BoolArray
    day_type: IntArray


def steps_per_day(interval_s: int) -> int:
    """Return how many intervals a day holds; raise ValueError if the interval does not divide it.

    Examples
    --------
    >>> steps_per_day(3600), steps_per_day(900)
    (24, 96)
    """
    if interval_s <= 0 or _DAY_S % interval_s:
        raise ValueError(
            f"interval_s={interval_s} does not divide a day (86400 s): the forecasting models "
            "need whole intervals per day (e.g. 900, 1800, 3600)"
        )
    return _DAY_S // interval_s


def infer_history_interval_s(history: pd.DataFrame) -> int:
    """Return the most common step between consecutive readings of the same meter [s].

    Parameters
    ----------
    history : pandas.DataFrame
        Checked long-format history (``meter_id``, ``ts``).

    Returns
    -------
    int

    Examples
    --------
    >>> ts = pd.date_range("2025-01-01", periods=4, freq="30min", tz="UTC")
    >>> infer_history_interval_s(pd.DataFrame({"meter_id": "m", "ts": ts, "energy_kwh": 1.0}))
    1800
    """
    steps: list[npt.NDArray[np.int64]] = []
    for _, group in history.groupby("meter_id", sort=False):
        ns = np.unique(group["ts"].to_numpy(dtype="datetime64[ns]").view("int64"))
        if ns.size > 1:
            steps.append(np.diff(ns))
    if not steps:
        return infer_interval_s(history)  # raises the fewer-than-two-times ValueError
    values, counts = np.unique(np.concatenate(steps), return_counts=True)
    return max(1, round(int(values[np.argmax(counts)]) / _NS))


def to_grids(
    history: pd.DataFrame,
    *,
    as_of: pd.Timestamp,
    interval_s: int,
    lookback_s: int,
    horizon: int = 0,
) -> dict[str, MeterGrid]:
    """Place each meter's readings before ``as_of`` on a regular grid aligned to ``as_of``.

    Parameters
    ----------
    history : pandas.DataFrame
        Checked long-format history (:func:`bitgoeul.forecast.base.check_history`).
    as_of : pandas.Timestamp
        UTC instant; only rows with ``ts < as_of`` are read.
    interval_s : int
        Grid step [s].
    lookback_s : int
        How far back from ``as_of`` the grid reaches at most [s]; it starts at
        the meter's first reading when that is later.
    horizon : int, default 0
        Positions added after ``as_of`` (NaN) [-].

    Returns
    -------
    dict of str to MeterGrid
        One grid per meter that has a row before ``as_of`` and within the
        lookback, in the order of first appearance.

    Raises
    ------
    ValueError
        If most readings are off the grid through ``as_of``: ``as_of`` is not
        on the meters' interval boundaries.

    Notes
    -----
    Readings off the grid (a clock jump) are left out.

    Examples
    --------
    >>> ts = pd.date_range("2025-01-01", periods=6, freq="h", tz="UTC")
    >>> h = pd.DataFrame({"meter_id": "m", "ts": ts, "energy_kwh": [1.0, 2, 3, 4, 5, 6]})
    >>> g = to_grids(h, as_of=ts[4], interval_s=3600, lookback_s=86400, horizon=2)["m"]
    >>> g.energy_kwh.tolist(), g.origin
    ([1.0, 2.0, 3.0, 4.0, nan, nan], 4)
    """
    step_ns = interval_s * _NS
    as_of_ns = int(as_of.value)
    lookback_n = max(1, -(-lookback_s // interval_s))
    earliest_ns = as_of_ns - lookback_n * step_ns
    ts_ns = history["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    keep = (ts_ns < as_of_ns) & (ts_ns >= earliest_ns)
    sub_ts = ts_ns[keep]
    if sub_ts.size:
        on_grid = (as_of_ns - sub_ts) % step_ns == 0
        if on_grid.mean() < 0.5:
            raise ValueError(
                f"as_of={as_of.isoformat()} is not on the readings' {interval_s} s grid (most "
                "readings start at other offsets): pass an interval boundary, e.g. local midnight"
            )
    meters = history["meter_id"].to_numpy()[keep]
    energy = history["energy_kwh"].to_numpy(dtype=np.float64)[keep]
    has_temp = "temp_c" in history.columns
    temp = history["temp_c"].to_numpy(dtype=np.float64)[keep] if has_temp else None
    grids: dict[str, MeterGrid] = {}
    if sub_ts.size == 0:
        return grids
    bounds = np.flatnonzero(np.r_[True, meters[1:] != meters[:-1], True]).tolist()
    for a, b in itertools.pairwise(bounds):
        ts_m = sub_ts[a:b]
        back = (as_of_ns - ts_m) // step_ns  # >= 1
        on = (as_of_ns - ts_m) % step_ns == 0
        n_before = int(back[on].max()) if on.any() else 1
        size = n_before + horizon
        pos = n_before - back[on]
        values = np.full(size, np.nan)
        values[pos] = energy[a:b][on]
        temps = None
        if temp is not None:
            temps = np.full(size, np.nan)
            temps[pos] = temp[a:b][on]
        start = pd.Timestamp(as_of_ns - n_before * step_ns, unit="ns", tz="UTC")
        meter_id = str(meters[a])
        grids[meter_id] = MeterGrid(meter_id, start, interval_s, n_before, values, temps)
    return grids


@functools.cache
def _zone_countries() -> dict[str, str]:
    """IANA zone -> ISO 3166-1 country code, from the tz database's ``zone.tab`` (tzdata)."""
    table = importlib.resources.files("tzdata").joinpath("zoneinfo", "zone.tab")
    countries = {}
    for line in table.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            code, _, zone = line.split("\t")[:3]
            countries[zone] = code
    return countries


@functools.cache
def country_of_zone(timezone: str) -> str | None:
    """Return the country whose public holidays a meter in ``timezone`` keeps, or None.

    The country is the tz database's for the zone (``zone.tab``), where the
    ``holidays`` package has a calendar for it; None for zones of no one
    country (``UTC``) or of a country it lacks. The calendar is the
    country's national one: regional days (a state's, England's own) are
    not in it.

    Examples
    --------
    >>> country_of_zone("Asia/Seoul"), country_of_zone("Europe/London"), country_of_zone("UTC")
    ('KR', 'GB', None)
    """
    code = _zone_countries().get(timezone)
    if code is None:
        return None
    try:
        holiday_dates(code, range(2020, 2021))
    except ValueError:
        return None
    return code


def grid_calendar(
    start: pd.Timestamp, size: int, interval_s: int, *, timezone: str, country: str | None
) -> GridCalendar:
    """Return the local calendar of ``size`` grid positions from ``start``.

    Parameters
    ----------
    start : pandas.Timestamp
        UTC start of position 0.
    size : int
        Number of positions.
    interval_s : int
        Grid step [s].
    timezone : str
        IANA zone of the meters (local days, hours and holidays).
    country : str or None
        Code of the public holidays (ISO 3166-1 alpha-2, or ISO 3166-2 for a
        region's calendar, as in :func:`holiday_dates`); None for none.

    Returns
    -------
    GridCalendar

    Examples
    --------
    >>> start = pd.Timestamp("2022-01-30 15:00", tz="UTC")  # 2022-01-31 00:00 KST
    >>> cal = grid_calendar(start, 24 * 4, 3600, timezone="Asia/Seoul", country="KR")
    >>> cal.is_holiday[::24].tolist()  # Seollal 2022-01-31 .. 2022-02-02, then a Thursday
    [True, True, True, False]
    >>> cal.holiday_prev_day[72], cal.holiday_next_day[0], int(cal.day_type[72])
    (np.True_, np.True_, 0)
    """
    check_timezone(timezone)
    times = pd.date_range(start, periods=size, freq=pd.Timedelta(seconds=interval_s))
    local = times.tz_convert(timezone)
    wall = local.tz_localize(None)
    day = (wall.normalize().as_unit("ns").asi8 // (_DAY_S * _NS)).astype(np.int64)
    hour = (wall.hour + wall.minute / 60.0 + wall.second / 3600.0).to_numpy(dtype=np.float64)
    day_of_week = wall.day_of_week.to_numpy(dtype=np.int64)
    month = wall.month.to_numpy(dtype=np.int64)
    if size == 0:
        empty_b = np.zeros(0, dtype=bool)
        return GridCalendar(
            hour, day_of_week, month, day, empty_b, empty_b, empty_b, empty_b, day_of_week
        )
    first, last = int(day.min()) - 1, int(day.max()) + 1
    epoch = dt.date(1970, 1, 1)
    dates = [epoch + dt.timedelta(days=d) for d in range(first, last + 1)]
    off_dates = holiday_dates(country, range(dates[0].year, dates[-1].year + 1))
    hol = np.array([d in off_dates for d in dates], dtype=bool)
    weekend = np.array([d.weekday() >= 5 for d in dates], dtype=bool)
    off = hol | weekend
    idx = day - first
    is_holiday = hol[idx]
    holiday_prev = hol[idx - 1]
    holiday_next = hol[idx + 1]
    bridge = ~off[idx] & off[idx - 1] & off[idx + 1]
    day_type = np.where(is_holiday | (day_of_week == 6), 2, np.where(day_of_week == 5, 1, 0))
    return GridCalendar(
        hour,
        day_of_week,
        month,
        day,
        is_holiday,
        holiday_prev,
        holiday_next,
        bridge,
        day_type.astype(np.int64),
    )
