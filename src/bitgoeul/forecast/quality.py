"""Mask suspect readings before a model learns from them.

A model that trains on a meter's outage zeros or on the catch-up spike that
follows a gap learns to forecast outages and spikes. :func:`mask_flagged`
sets the intervals of data-quality findings
(:func:`bitgoeul.analytics.quality.find_data_issues`) to NaN -- missing, not
zero -- so they are neither targets nor inputs (the models are NaN-aware in
their features and drop NaN targets). :func:`find_and_mask` does both steps
per meter, reading only the data before ``as_of``.

Masked by default (``DEFAULT_MASK_CODES``): ``zero_run``, ``spike``,
``stuck_value``, ``negative_energy`` and ``clock_jump``. ``gap`` is already
missing.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bitgoeul.analytics.quality import ISSUE_CODES, check_interval_s, find_data_issues
from bitgoeul.forecast.base import check_as_of, check_history
from bitgoeul.forecast.series import infer_history_interval_s
from bitgoeul.model import DataIssue, check_timezone

__all__ = ["DEFAULT_MASK_CODES", "MaskReport", "find_and_mask", "mask_flagged"]

DEFAULT_MASK_CODES: tuple[str, ...] = (
    "zero_run",
    "spike",
    "stuck_value",
    "negative_energy",
    "clock_jump",
)
"""Data-issue codes whose intervals are masked unless told otherwise."""


@dataclass(frozen=True, slots=True)
class MaskReport:
    """How many intervals were masked, per meter and issue code.

    Parameters
    ----------
    counts : Mapping of str to Mapping of str to int
        ``counts[meter_id][code]``: readings set to NaN because of that code
        (an interval flagged by two codes counts under the first of
        ``codes``); only non-zero counts appear.
    issues : tuple of DataIssue
        The findings that were applied (their codes are among ``codes``).
    codes : tuple of str
        The codes that were masked.
    """

    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    issues: tuple[DataIssue, ...] = ()
    codes: tuple[str, ...] = DEFAULT_MASK_CODES

    @property
    def total(self) -> int:
        """Number of readings masked in all [-]."""
        return sum(sum(by_code.values()) for by_code in self.counts.values())

    def to_frame(self) -> pd.DataFrame:
        """Return the counts as rows ``meter_id, code, intervals``, sorted.

        Examples
        --------
        >>> MaskReport({"m1": {"spike": 1}}).to_frame().to_dict("records")
        [{'meter_id': 'm1', 'code': 'spike', 'intervals': 1}]
        """
        rows = [
            (meter, code, count)
            for meter, by_code in sorted(self.counts.items())
            for code, count in sorted(by_code.items())
        ]
        return pd.DataFrame(rows, columns=["meter_id", "code", "intervals"])


def _check_codes(codes: Iterable[str]) -> tuple[str, ...]:
    out = tuple(codes)
    unknown = [c for c in out if c not in ISSUE_CODES]
    if unknown:
        raise ValueError(f"unknown issue code(s) {unknown}: choose among {list(ISSUE_CODES)}")
    return out


def mask_flagged(
    history: pd.DataFrame,
    issues: Iterable[DataIssue],
    *,
    codes: Iterable[str] = DEFAULT_MASK_CODES,
) -> tuple[pd.DataFrame, MaskReport]:
    """Set the readings that data-quality findings flag to NaN.

    Parameters
    ----------
    history : pandas.DataFrame
        Long-format readings (``meter_id``, ``ts``, ``energy_kwh`` [kWh per
        interval], optional ``temp_c``; other columns are dropped).
    issues : iterable of DataIssue
        Findings, e.g. from :func:`bitgoeul.analytics.quality.find_data_issues`;
        a finding masks the rows of its meter with ``start <= ts < end``.
    codes : iterable of str, default DEFAULT_MASK_CODES
        Codes to act on; other findings are ignored.

    Returns
    -------
    tuple of (pandas.DataFrame, MaskReport)
        A copy of the checked history (sorted by meter and time, ``ts`` in
        UTC) with the flagged ``energy_kwh`` set to NaN, and the counts.

    Examples
    --------
    >>> import datetime as dt
    >>> from bitgoeul.model import DataIssue
    >>> ts = pd.date_range("2025-01-01", periods=4, freq="h", tz="UTC")
    >>> h = pd.DataFrame({"meter_id": "m1", "ts": ts, "energy_kwh": [1.0, 9.0, 1.0, 1.0]})
    >>> spike = DataIssue("spike", "m1", ts[1].to_pydatetime(), ts[2].to_pydatetime(), "")
    >>> masked, report = mask_flagged(h, [spike])
    >>> masked["energy_kwh"].tolist(), report.total
    ([1.0, nan, 1.0, 1.0], 1)
    """
    wanted = _check_codes(codes)
    frame = check_history(history)
    energy = frame["energy_kwh"].to_numpy(dtype=np.float64).copy()
    ts_ns = frame["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    meters = frame["meter_id"].to_numpy()
    bounds: dict[str, tuple[int, int]] = {}
    edges: list[int] = (
        np.flatnonzero(np.r_[True, meters[1:] != meters[:-1], True]).tolist() if meters.size else []
    )
    for a, b in itertools.pairwise(edges):
        bounds[str(meters[a])] = (int(a), int(b))
    order = {code: i for i, code in enumerate(wanted)}
    applied = sorted((i for i in issues if i.code in order), key=lambda i: (order[i.code], i.start))
    counts: dict[str, dict[str, int]] = {}
    for issue in applied:
        span = bounds.get(issue.meter_id)
        if span is None:
            continue
        a, b = span
        lo = a + int(np.searchsorted(ts_ns[a:b], _ns(issue.start), side="left"))
        hi = a + int(np.searchsorted(ts_ns[a:b], _ns(issue.end), side="left"))
        if hi <= lo:
            continue
        hit = int(np.count_nonzero(~np.isnan(energy[lo:hi])))
        energy[lo:hi] = np.nan
        if hit:
            by_code = counts.setdefault(issue.meter_id, {})
            by_code[issue.code] = by_code.get(issue.code, 0) + hit
    out = frame.copy()
    out["energy_kwh"] = energy
    return out, MaskReport(counts, tuple(applied), wanted)


def _ns(when: dt.datetime) -> int:
    stamp = pd.Timestamp(when)
    if stamp.tzinfo is None:
        raise ValueError(f"issue times must be timezone-aware, got {when!r}")
    return int(stamp.tz_convert("UTC").as_unit("ns").value)


def find_and_mask(
    history: pd.DataFrame,
    *,
    interval_s: int | None,
    timezone: str = "Asia/Seoul",
    as_of: pd.Timestamp | dt.datetime | None = None,
    codes: Iterable[str] = DEFAULT_MASK_CODES,
) -> tuple[pd.DataFrame, MaskReport]:
    """Find each meter's data issues before ``as_of`` and mask them.

    Parameters
    ----------
    history : pandas.DataFrame
        Long-format readings (package notes).
    interval_s : int or None
        Nominal interval of the meters [s]; None infers the most common step.
    timezone : str, default 'Asia/Seoul'
        IANA zone of the meters (messages of the findings).
    as_of : pandas.Timestamp or datetime.datetime, optional
        Only rows with ``ts < as_of`` are scanned and masked; later rows are
        returned unchanged. None scans everything.
    codes : iterable of str, default DEFAULT_MASK_CODES
        Issue codes to mask.

    Returns
    -------
    tuple of (pandas.DataFrame, MaskReport)
        The checked history with flagged readings set to NaN, and the counts.

    Notes
    -----
    Meters are scanned as grid-import meters (zero runs of 6 h or more, a
    spike above twice the reference level, or 1.25 times after an outage).
    The spike rule's reference is a centred 28-day window, so a reading's
    flag can depend on readings up to 14 days after it -- still before
    ``as_of``, so the as-of rule holds.

    Examples
    --------
    >>> ts = pd.date_range("2025-01-01", periods=24 * 14, freq="h", tz="UTC")
    >>> energy = 1.0 + (np.arange(ts.size) % 24) / 10
    >>> energy[100:110] = 0.0          # a 10-hour outage
    >>> h = pd.DataFrame({"meter_id": "m1", "ts": ts, "energy_kwh": energy})
    >>> masked, report = find_and_mask(h, interval_s=3600)
    >>> report.counts["m1"]["zero_run"], int(masked["energy_kwh"].isna().sum())
    (10, 10)
    """
    wanted = _check_codes(codes)
    check_timezone(timezone)
    frame = check_history(history)
    if interval_s is None:
        interval_s = infer_history_interval_s(frame)
    check_interval_s(interval_s)
    before = frame[frame["ts"] < check_as_of(as_of)] if as_of is not None else frame
    issues: list[DataIssue] = []
    for meter_id, group in before.groupby("meter_id", sort=True):
        readings = group[["ts", "energy_kwh"]]
        if readings["energy_kwh"].notna().sum() == 0:
            continue
        issues.extend(
            find_data_issues(
                readings, meter_id=str(meter_id), interval_s=interval_s, timezone=timezone
            )
        )
    if as_of is not None:
        stamp = check_as_of(as_of).to_pydatetime()
        issues = [
            DataIssue(i.code, i.meter_id, i.start, min(i.end, stamp), i.message, i.data)
            for i in issues
        ]
    return mask_flagged(frame, issues, codes=wanted)
