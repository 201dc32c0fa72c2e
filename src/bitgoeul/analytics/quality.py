"""Data-quality findings over one meter's stored readings.

:func:`find_data_issues` returns a list of :class:`~bitgoeul.model.DataIssue`
records, one per contiguous stretch of suspect readings, sorted by start
time. Each record has ``start``/``end`` in UTC (``end`` exclusive), a sentence
with local times that a person can act on, and counts and values in ``data``.

====================  ========================================================================
code                  meaning (``data`` keys)
====================  ========================================================================
``gap``               Intervals on the meter's grid with no reading (NaN counts as none),
                      merged into ranges; only between readings unless ``period_start`` /
                      ``period_end`` are given (``missing_intervals``, ``interval_s``).
``clock_jump``        Readings whose timestamps are off the meter's interval grid, e.g. a
                      clock running 5 minutes late (``count``; ``offset_s``: the most common
                      offset from the grid [s], in -interval/2 .. interval/2; ``offsets_s``:
                      all distinct offsets, most common first; ``interval_s``).
``negative_energy``   Negative interval energy on a one-directional meter, grid import or
                      grid export (``count``, ``min_kwh``, ``total_kwh``).
``stuck_value``       The same non-zero value on consecutive intervals for at least
                      ``stuck_min_s`` (default 12 h): a frozen register or a copied
                      estimate (``count``, ``value_kwh``).
``zero_run``          Exact zeros on consecutive intervals for at least ``zero_run_min_s``:
                      an outage, a disconnected meter or a communication fault (``count``).
``spike``             Implausibly high readings (``count``, ``max_kwh``, ``reference_kwh``,
                      ``ratio``, ``after_outage``); rule below.
====================  ========================================================================

The grid
    Readings are expected every ``interval_s`` seconds on a fixed phase. The
    phase is the most common one in the data (``ts`` modulo ``interval_s``),
    so 15-minute data at :00/:15/:30/:45 and hourly data at :30 (a zone with a
    half-hour offset) are both "on grid". For sub-daily intervals the grid is
    in elapsed (UTC) time; for daily or longer intervals it is in the meter's
    local wall-clock time, so days of 23 or 25 hours (DST) are not gaps.
Zero runs by meter kind
    ``zero_run_min_s`` defaults to 6 h on grid-import meters and 48 h on
    generation meters (longer than any night); zeros are normal on grid-export
    and appliance meters, so they are only reported there when
    ``zero_run_min_s`` is given.
Spike rule
    The reference level of a reading is about the 3rd-highest positive reading
    in a centred window around it (default 28 days): the ``1 - 3 / N``
    quantile of the positive readings in the window, where ``N`` is the number
    of intervals a full window holds (the whole series' quantile when the
    window holds less than 2 days of positive readings). A reading is a spike
    when it exceeds ``spike_ratio`` (default 2) times its reference, or
    ``after_outage_ratio`` (default 1.25) times it when it is the first
    reading after missing, zero or negative readings: a meter that catches up
    after an outage delivers the energy of the missing intervals in one
    reading. Normal peaks, daily or occasional (an oven, a heater, a hot
    summer afternoon), recur within four weeks and set the reference
    themselves. On the shared real data (3 CNU buildings hourly, 7 SGSC
    households half-hourly, 2012-2022) the defaults flag a single reading: a
    household's 1.8 kWh half hour right after 14 hours of zeros, the highest
    of its two months. A z-score on the median absolute deviation was
    rejected: it flags every weekday peak of a building whose nights are flat.

The module also holds the input checks shared by the analytics functions:
:func:`check_readings` and :func:`infer_interval_s`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from bitgoeul.model import DataIssue, MeterKind, check_timezone

__all__ = [
    "ISSUE_CODES",
    "check_interval_s",
    "check_readings",
    "find_data_issues",
    "infer_interval_s",
]

ISSUE_CODES: tuple[str, ...] = (
    "clock_jump",
    "gap",
    "negative_energy",
    "spike",
    "stuck_value",
    "zero_run",
)
"""Every code :func:`find_data_issues` can return."""

_NS = 1_000_000_000
_DAY_S = 86_400
_ZERO_RUN_DEFAULT_S: dict[MeterKind, int | None] = {
    MeterKind.GRID_IMPORT: 6 * 3600,
    MeterKind.GENERATION: 48 * 3600,
    MeterKind.GRID_EXPORT: None,
    MeterKind.APPLIANCE: None,
}
_SPIKE_RANK = 3


def check_readings(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the readings of one meter as ``ts`` (UTC) and ``energy_kwh`` (float64), sorted.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``ts`` (timezone-aware datetime64, interval start) and
        ``energy_kwh`` [kWh per interval]; other columns are dropped.

    Returns
    -------
    pandas.DataFrame
        A new frame with a fresh RangeIndex, ``ts`` converted to UTC and
        sorted (stable), ``energy_kwh`` as float64 (NaN kept).

    Raises
    ------
    TypeError
        If ``frame`` is not a DataFrame or ``ts`` is not timezone-aware.
    ValueError
        If a column is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"ts": pd.to_datetime(["2025-01-01 01:00", "2025-01-01 00:00"], utc=True),
    ...                   "energy_kwh": [2, 1]})
    >>> check_readings(f)["energy_kwh"].tolist()
    [1.0, 2.0]
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"readings must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in ("ts", "energy_kwh") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"readings lack the column(s) {missing}: pass a frame with 'ts' (UTC, interval start) "
            "and 'energy_kwh' [kWh per interval]"
        )
    ts = frame["ts"]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise TypeError(
            f"column 'ts' must be timezone-aware datetime64 (got {ts.dtype}); localise naive "
            "timestamps with Series.dt.tz_localize(zone) and convert with .dt.tz_convert('UTC')"
        )
    out = pd.DataFrame(
        {
            "ts": ts.dt.tz_convert("UTC"),
            "energy_kwh": pd.to_numeric(frame["energy_kwh"]).astype("float64"),
        }
    )
    return out.sort_values("ts", kind="stable").reset_index(drop=True)


def check_interval_s(interval_s: int, what: str = "interval_s") -> int:
    """Return ``interval_s`` if it is a positive whole number of seconds, else raise ValueError.

    Examples
    --------
    >>> check_interval_s(900)
    900
    """
    if isinstance(interval_s, bool) or not isinstance(interval_s, int | np.integer):
        raise ValueError(f"{what} must be a positive whole number of seconds, got {interval_s!r}")
    if interval_s <= 0:
        raise ValueError(f"{what} must be a positive whole number of seconds, got {interval_s!r}")
    return int(interval_s)


def _as_ns(ts: pd.Series) -> npt.NDArray[np.int64]:
    """Integer nanoseconds of a datetime Series (UTC instants or naive wall times)."""
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        naive = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    else:
        naive = ts
    values: npt.NDArray[np.int64] = naive.astype("datetime64[ns]").to_numpy().view("int64")
    return values


def infer_interval_s(frame: pd.DataFrame) -> int:
    """Return the nominal interval of readings: the most common step between timestamps [s].

    Parameters
    ----------
    frame : pandas.DataFrame
        Readings with a timezone-aware ``ts`` column, at least two distinct times.

    Returns
    -------
    int
        The modal positive difference between consecutive timestamps [s].

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.date_range("2025-01-01", periods=5, freq="15min", tz="UTC")
    >>> infer_interval_s(pd.DataFrame({"ts": ts, "energy_kwh": 0.1}))
    900
    """
    ns = np.unique(_as_ns(check_readings(frame)["ts"]))
    steps = np.diff(ns)
    if steps.size == 0:
        raise ValueError(
            "cannot infer the interval from fewer than two distinct timestamps: pass interval_s"
        )
    values, counts = np.unique(steps, return_counts=True)
    step_ns = int(values[np.argmax(counts)])
    return max(1, round(step_ns / _NS))


def _runs(mask: npt.NDArray[np.bool_], joined: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Half-open row ranges ``[i, j)`` where ``mask`` holds and each row joins the previous one.

    ``joined[k]`` says row ``k`` continues row ``k - 1`` (``joined[0]`` is ignored).
    """
    runs: list[tuple[int, int]] = []
    start = -1
    for k in range(mask.size):
        if mask[k] and start >= 0 and joined[k]:
            continue
        if start >= 0:
            runs.append((start, k))
            start = -1
        if mask[k]:
            start = k
    if start >= 0:
        runs.append((start, mask.size))
    return runs


def _fmt_duration(seconds: float) -> str:
    """Format a duration for people: '15 min', '7 h', '94.5 days'."""
    if seconds < 3600:
        return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"
    if seconds < 2 * _DAY_S:
        return f"{seconds / 3600:g} h"
    return f"{round(seconds / _DAY_S, 1):g} days"


class _Finder:
    """Shared state of one :func:`find_data_issues` call."""

    def __init__(
        self, readings: pd.DataFrame, meter_id: str, interval_s: int, timezone: str
    ) -> None:
        self.meter_id = meter_id
        self.interval_s = interval_s
        self.timezone = timezone
        self.ts: pd.Series = readings["ts"]
        self.energy: npt.NDArray[np.float64] = readings["energy_kwh"].to_numpy(dtype="float64")
        self.step_ns = interval_s * _NS
        self.local_axis = interval_s >= _DAY_S
        if self.local_axis:
            wall = self.ts.dt.tz_convert(timezone).dt.tz_localize(None)
            self.axis = _as_ns(wall)
        else:
            self.axis = _as_ns(self.ts)
        self.issues: list[DataIssue] = []

    # -- time helpers -------------------------------------------------------------------------
    def axis_to_utc(self, axis_ns: int) -> dt.datetime:
        """Turn a position on the grid axis into a UTC datetime."""
        stamp = pd.Timestamp(axis_ns, unit="ns")
        if self.local_axis:
            stamp = stamp.tz_localize(self.timezone, ambiguous=True, nonexistent="shift_forward")
        else:
            stamp = stamp.tz_localize("UTC")
        return stamp.tz_convert("UTC").to_pydatetime()

    def row_start(self, k: int) -> dt.datetime:
        return self.axis_to_utc(int(self.axis[k]))

    def row_end(self, k: int) -> dt.datetime:
        return self.axis_to_utc(int(self.axis[k]) + self.step_ns)

    def local(self, when: dt.datetime) -> str:
        return pd.Timestamp(when).tz_convert(self.timezone).strftime("%Y-%m-%d %H:%M %Z")

    def span(self, start: dt.datetime, end: dt.datetime) -> str:
        return f"from {self.local(start)} to {self.local(end)}"

    def add(
        self, code: str, start: dt.datetime, end: dt.datetime, message: str, **data: Any
    ) -> None:
        self.issues.append(DataIssue(code, self.meter_id, start, end, message, dict(data)))

    # -- checks -------------------------------------------------------------------------------
    def grid(self) -> npt.NDArray[np.bool_]:
        """Flag off-grid readings as clock jumps; return the on-grid mask."""
        n = self.axis.size
        if n == 0:
            return np.zeros(0, dtype=bool)
        phase = np.mod(self.axis, self.step_ns)
        values, counts = np.unique(phase, return_counts=True)
        grid_phase = int(values[np.argmax(counts)])
        on: npt.NDArray[np.bool_] = np.asarray(phase == grid_phase, dtype=bool)
        joined = np.ones(n, dtype=bool)
        offset = np.mod(phase - grid_phase, self.step_ns)
        offset = np.where(offset > self.step_ns // 2, offset - self.step_ns, offset)
        for i, j in _runs(~on, joined):
            seconds, seen = np.unique(offset[i:j] // _NS, return_counts=True)
            offsets = [int(o) for o in seconds[np.argsort(-seen, kind="stable")]]
            count = j - i
            start, end = self.row_start(i), self.row_end(j - 1)
            shown = ", ".join(f"{o:+d} s" for o in offsets[:3])
            self.add(
                "clock_jump",
                start,
                end,
                f"{count} reading(s) {self.span(start, end)} are off the "
                f"{_fmt_duration(self.interval_s)} grid by {shown}; check the meter clock "
                "or the source's time zone.",
                count=count,
                offset_s=offsets[0],
                offsets_s=offsets,
                interval_s=self.interval_s,
            )
        return on

    def gaps(
        self,
        on: npt.NDArray[np.bool_],
        period_start: dt.datetime | None,
        period_end: dt.datetime | None,
    ) -> None:
        points: list[int] = np.unique(self.axis[on]).tolist()
        if points:
            phase = points[0] % self.step_ns
        elif period_start is not None:
            phase = self._to_axis(period_start) % self.step_ns
        else:
            return
        if period_start is not None:
            first = self._ceil_to_grid(self._to_axis(period_start), phase)
            points = [first - self.step_ns, *[p for p in points if p >= first]]
        if period_end is not None:
            last = self._ceil_to_grid(self._to_axis(period_end), phase)
            points = [*[p for p in points if p < last], last]
        for prev, nxt in itertools.pairwise(points):
            missing = (nxt - prev) // self.step_ns - 1
            if missing <= 0:
                continue
            start = self.axis_to_utc(prev + self.step_ns)
            end = self.axis_to_utc(nxt)
            self.add(
                "gap",
                start,
                end,
                f"No readings for {missing} interval(s) of {_fmt_duration(self.interval_s)} "
                f"{self.span(start, end)}; re-import the source for this period.",
                missing_intervals=int(missing),
                interval_s=self.interval_s,
            )

    def _to_axis(self, when: dt.datetime) -> int:
        stamp = pd.Timestamp(when)
        if stamp.tzinfo is None:
            raise ValueError(f"period bounds must be timezone-aware datetimes, got {when!r}")
        if self.local_axis:
            stamp = stamp.tz_convert(self.timezone).tz_localize(None)
        else:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return int(stamp.as_unit("ns").value)

    def _ceil_to_grid(self, axis_ns: int, phase: int) -> int:
        return axis_ns + (phase - axis_ns) % self.step_ns

    def contiguous(self) -> npt.NDArray[np.bool_]:
        """``joined[k]``: row k is exactly one interval after row k - 1."""
        joined = np.zeros(self.axis.size, dtype=bool)
        if self.axis.size > 1:
            joined[1:] = np.diff(self.axis) == self.step_ns
        return joined

    def negatives(self, joined: npt.NDArray[np.bool_]) -> None:
        neg = np.isfinite(self.energy) & (self.energy < 0)
        for i, j in _runs(neg, joined):
            values = self.energy[i:j]
            start, end = self.row_start(i), self.row_end(j - 1)
            self.add(
                "negative_energy",
                start,
                end,
                f"{j - i} negative reading(s) {self.span(start, end)} (lowest "
                f"{values.min():.4g} kWh) on a one-directional meter; check the CT orientation "
                "or the register direction of the source.",
                count=j - i,
                min_kwh=float(values.min()),
                total_kwh=float(values.sum()),
            )

    def repeats(
        self, joined: npt.NDArray[np.bool_], stuck_min_s: int, zero_min_s: int | None
    ) -> None:
        e = self.energy
        same = np.zeros(e.size, dtype=bool)
        if e.size > 1:
            same[1:] = joined[1:] & (e[1:] == e[:-1])
        finite = np.isfinite(e)
        stuck_n = max(2, math.ceil(stuck_min_s / self.interval_s))
        for i, j in _runs(finite & (e != 0), same):
            if j - i < stuck_n:
                continue
            start, end = self.row_start(i), self.row_end(j - 1)
            self.add(
                "stuck_value",
                start,
                end,
                f"The value {e[i]:.6g} kWh repeats on {j - i} consecutive intervals "
                f"{self.span(start, end)}; the register may be frozen or the source copied "
                "an estimate.",
                count=j - i,
                value_kwh=float(e[i]),
            )
        if zero_min_s is None:
            return
        zero_n = max(1, math.ceil(zero_min_s / self.interval_s))
        for i, j in _runs(finite & (e == 0), joined):
            if j - i < zero_n:
                continue
            start, end = self.row_start(i), self.row_end(j - 1)
            self.add(
                "zero_run",
                start,
                end,
                f"Zero energy on {j - i} consecutive intervals "
                f"({_fmt_duration((j - i) * self.interval_s)}) {self.span(start, end)}; an "
                "outage, a disconnected meter or a communication fault.",
                count=j - i,
            )

    def spikes(
        self,
        joined: npt.NDArray[np.bool_],
        spike_ratio: float,
        after_outage_ratio: float,
        window_s: int,
    ) -> None:
        e = self.energy
        positive = np.isfinite(e) & (e > 0)
        if positive.sum() < 10:
            return
        series = pd.Series(np.where(positive, e, np.nan), index=pd.DatetimeIndex(self.ts))
        full = max(1, window_s // self.interval_s)
        quantile = max(0.5, 1.0 - _SPIKE_RANK / full)
        min_periods = max(1, min(2 * _DAY_S, window_s // 2) // self.interval_s)
        reference = (
            series.rolling(f"{window_s}s", center=True, min_periods=min_periods)
            .quantile(quantile)
            .to_numpy(dtype="float64")
        )
        fallback = float(np.quantile(e[positive], quantile))
        reference = np.where(np.isfinite(reference), reference, fallback)
        after = np.zeros(e.size, dtype=bool)
        if e.size > 1:
            after[1:] = ~joined[1:] | ~np.isfinite(e[:-1]) | (e[:-1] <= 0)
        ratio = np.divide(e, reference, out=np.zeros_like(e), where=reference > 0)
        flagged = positive & ((ratio > spike_ratio) | (after & (ratio > after_outage_ratio)))
        for i, j in _runs(flagged, joined):
            k = i + int(np.argmax(e[i:j]))
            start, end = self.row_start(i), self.row_end(j - 1)
            outage = bool(after[i])
            hint = (
                " right after missing or zero readings: the meter may have delivered the "
                "energy of the outage in one interval"
                if outage
                else ""
            )
            self.add(
                "spike",
                start,
                end,
                f"{j - i} implausibly high reading(s) {self.span(start, end)}, up to "
                f"{e[k]:.4g} kWh, {ratio[k]:.2g} times the usual high level of "
                f"{reference[k]:.4g} kWh{hint}; check before billing or training on them.",
                count=j - i,
                max_kwh=float(e[k]),
                reference_kwh=float(reference[k]),
                ratio=float(ratio[k]),
                after_outage=outage,
            )


def find_data_issues(
    frame: pd.DataFrame,
    *,
    meter_id: str,
    interval_s: int,
    kind: MeterKind | str = MeterKind.GRID_IMPORT,
    timezone: str = "Asia/Seoul",
    period_start: dt.datetime | None = None,
    period_end: dt.datetime | None = None,
    stuck_min_s: int = 12 * 3600,
    zero_run_min_s: int | None = None,
    spike_ratio: float = 2.0,
    after_outage_ratio: float = 1.25,
    spike_window_s: int = 28 * _DAY_S,
) -> list[DataIssue]:
    """Find gaps, clock jumps, negative, stuck, zero and spiking readings of one meter.

    Parameters
    ----------
    frame : pandas.DataFrame
        Readings: ``ts`` (timezone-aware, interval start) and ``energy_kwh``
        [kWh per interval]; one row per interval, NaN values count as missing.
    meter_id : str
        Meter the readings belong to (copied into each record).
    interval_s : int
        Nominal interval of the meter [s], e.g. 900.
    kind : MeterKind or str, default MeterKind.GRID_IMPORT
        What the meter measures; selects the negative-energy check and the
        default zero-run threshold (module docstring).
    timezone : str, default 'Asia/Seoul'
        Meter's IANA zone, for the messages and for daily grids.
    period_start, period_end : datetime.datetime, optional
        Timezone-aware bounds of the period that should be covered (end
        exclusive); when given, missing intervals before the first and after
        the last reading are reported as gaps too.
    stuck_min_s : int, default 43200
        Shortest run of one repeated non-zero value reported as stuck [s].
    zero_run_min_s : int, optional
        Shortest run of zeros reported [s]; default by meter kind.
    spike_ratio : float, default 2.0
        Multiple of the reference level above which a reading is a spike [-].
    after_outage_ratio : float, default 1.25
        The same for the first reading after missing, zero or negative
        readings [-].
    spike_window_s : int, default 2419200
        Width of the centred window for the reference level [s] (28 days).

    Returns
    -------
    list of DataIssue
        Sorted by start time, then code; empty when nothing is suspect.

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.date_range("2025-08-01", periods=8, freq="15min", tz="UTC")
    >>> frame = pd.DataFrame({"ts": ts, "energy_kwh": 0.2}).drop(index=[3, 4])
    >>> [(i.code, i.data["missing_intervals"])
    ...  for i in find_data_issues(frame, meter_id="m1", interval_s=900)]
    [('gap', 2)]
    """
    readings = check_readings(frame)
    readings = readings[readings["energy_kwh"].notna()].reset_index(drop=True)
    check_timezone(timezone)
    kind = MeterKind(kind)
    check_interval_s(interval_s)
    check_interval_s(stuck_min_s, "stuck_min_s")
    check_interval_s(spike_window_s, "spike_window_s")
    if zero_run_min_s is not None:
        check_interval_s(zero_run_min_s, "zero_run_min_s")
    if not (spike_ratio > 1 and after_outage_ratio > 1):
        raise ValueError(
            "spike_ratio and after_outage_ratio must be greater than 1 (multiples of the usual "
            f"high level), got {spike_ratio!r} and {after_outage_ratio!r}"
        )
    zero_min = zero_run_min_s if zero_run_min_s is not None else _ZERO_RUN_DEFAULT_S[kind]

    finder = _Finder(readings, meter_id, interval_s, timezone)
    on = finder.grid()
    finder.gaps(on, period_start, period_end)
    joined = finder.contiguous()
    if kind in (MeterKind.GRID_IMPORT, MeterKind.GRID_EXPORT):
        finder.negatives(joined)
    finder.repeats(joined, stuck_min_s, zero_min)
    finder.spikes(joined, spike_ratio, after_outage_ratio, spike_window_s)
    return sorted(finder.issues, key=lambda issue: (issue.start, issue.code))
