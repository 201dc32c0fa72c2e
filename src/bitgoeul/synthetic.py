"""Seeded synthetic smart-meter readings for tests and benchmarks.

The readings look like a fleet of residential and small commercial meters: each
meter has a base load, a daily shape (a morning and a larger evening peak in
local time, a night trough), a weekend shift and multiplicative noise. Every
meter draws from its own random stream derived from ``(seed, meter index)``, so
a meter's readings do not depend on how the fleet is split into chunks and
:func:`iter_readings` yields exactly the rows of :func:`generate_readings`.

The writers stream chunk by chunk, so a file of tens of millions of readings is
written without holding it in memory.

Examples
--------
>>> table = generate_readings(2, 4, seed=1)
>>> table.num_rows, table.column_names
(8, ['meter_id', 'ts', 'energy_kwh'])
>>> table.column("meter_id").to_pylist()[:5]
['m0001', 'm0001', 'm0001', 'm0001', 'm0002']
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bitgoeul.model import DEFAULT_TIMEZONE

__all__ = [
    "DEFAULT_START",
    "READINGS_SCHEMA",
    "generate_readings",
    "iter_readings",
    "write_csv",
    "write_parquet",
]

DEFAULT_START = dt.datetime(2025, 1, 1, tzinfo=ZoneInfo(DEFAULT_TIMEZONE))
"""First interval start of the synthetic readings (local midnight in Seoul)."""

READINGS_SCHEMA = pa.schema(
    [
        pa.field("meter_id", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("energy_kwh", pa.float64(), nullable=False),
    ]
)
"""Columns of the generated tables: interval start in UTC, energy per interval [kWh]."""

_US_PER_S = 1_000_000
# Relative load by local hour of day (night trough, morning bump, evening peak).
_HOURLY_SHAPE = np.array(
    [0.55, 0.50, 0.47, 0.45, 0.46, 0.52, 0.70, 0.95, 1.05, 0.95, 0.85, 0.82,
     0.85, 0.82, 0.80, 0.82, 0.90, 1.05, 1.30, 1.45, 1.40, 1.25, 1.00, 0.75],
)  # fmt: skip


def _check_sizes(n_meters: int, n_intervals: int, interval_s: int, chunk_meters: int) -> None:
    for name, value in (
        ("n_meters", n_meters),
        ("n_intervals", n_intervals),
        ("interval_s", interval_s),
        ("chunk_meters", chunk_meters),
    ):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if n_meters > 9999:
        raise ValueError(f"n_meters must be at most 9999 (ids are m0001..m9999), got {n_meters}")


def _meter_readings(
    index: int,
    ts_us: np.ndarray,
    local_hour: np.ndarray,
    weekend: np.ndarray,
    interval_s: int,
    seed: int,
) -> np.ndarray:
    """Energy per interval [kWh] of meter number ``index`` (0-based)."""
    rng = np.random.default_rng([seed, index])
    base_kw = rng.lognormal(mean=np.log(0.25), sigma=0.5)
    peak_kw = rng.lognormal(mean=np.log(0.8), sigma=0.6)
    phase_h = rng.normal(0.0, 1.0)
    weekend_factor = rng.uniform(0.8, 1.3)
    hour = (local_hour + phase_h) % 24.0
    lower = np.floor(hour).astype(np.int64)
    frac = hour - lower
    shape = _HOURLY_SHAPE[lower] * (1.0 - frac) + _HOURLY_SHAPE[(lower + 1) % 24] * frac
    shape = np.where(weekend, shape * weekend_factor, shape)
    noise = rng.lognormal(mean=0.0, sigma=0.25, size=len(ts_us))
    power_kw = base_kw + peak_kw * shape * noise
    energy_kwh = np.round(power_kw * (interval_s / 3600.0), 3)
    return np.maximum(energy_kwh, 0.0)


def iter_readings(
    n_meters: int,
    n_intervals: int,
    *,
    interval_s: int = 900,
    start: dt.datetime = DEFAULT_START,
    seed: int = 0,
    chunk_meters: int = 50,
) -> Iterator[pa.Table]:
    """Yield synthetic readings a few meters at a time, ordered by meter then time.

    Parameters
    ----------
    n_meters : int
        Meters in the fleet [count], at most 9999; ids are ``m0001``, ``m0002``, ...
    n_intervals : int
        Readings per meter [count].
    interval_s : int
        Interval length [s].
    start : datetime
        First interval start; must be aware. Its zone sets local time for the
        daily shape.
    seed : int
        Seed of the random streams; equal arguments give equal readings.
    chunk_meters : int
        Meters per yielded table [count]; memory use is about
        ``chunk_meters * n_intervals * 40`` bytes.

    Yields
    ------
    pyarrow.Table
        :data:`READINGS_SCHEMA`: ``meter_id``, ``ts`` (interval start, UTC),
        ``energy_kwh`` [kWh] rounded to 3 decimals, never negative.

    Raises
    ------
    ValueError
        For a naive ``start`` or sizes below 1.

    Examples
    --------
    >>> [t.num_rows for t in iter_readings(5, 10, chunk_meters=2)]
    [20, 20, 10]
    """
    _check_sizes(n_meters, n_intervals, interval_s, chunk_meters)
    if start.tzinfo is None:
        raise ValueError("start has no time zone: pass an aware datetime")
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    start_us = (start - epoch) // dt.timedelta(microseconds=1)
    ts_us = start_us + np.arange(n_intervals, dtype=np.int64) * (interval_s * _US_PER_S)
    ts = pa.array(ts_us, pa.timestamp("us", tz="UTC"))
    if isinstance(start.tzinfo, ZoneInfo):
        local = ts.cast(pa.timestamp("us", tz=start.tzinfo.key))
    else:  # a fixed offset such as datetime.timezone(timedelta(hours=9))
        offset_s = int((start.utcoffset() or dt.timedelta(0)).total_seconds())
        local = pa.array(ts_us + offset_s * _US_PER_S, pa.timestamp("us"))
    local_hour = pc.hour(local).to_numpy().astype(np.float64) + pc.minute(local).to_numpy() / 60.0
    weekend = pc.day_of_week(local).to_numpy() >= 5
    for first in range(0, n_meters, chunk_meters):
        last = min(first + chunk_meters, n_meters)
        energy = np.concatenate(
            [
                _meter_readings(i, ts_us, local_hour, weekend, interval_s, seed)
                for i in range(first, last)
            ]
        )
        ids = pa.array([f"m{i + 1:04d}" for i in range(first, last)], pa.string())
        meter_id = pc.take(ids, pa.array(np.repeat(np.arange(last - first), n_intervals)))
        yield pa.Table.from_arrays(
            [meter_id, pa.chunked_array([ts] * (last - first)), pa.array(energy, pa.float64())],
            schema=READINGS_SCHEMA,
        )


def generate_readings(
    n_meters: int,
    n_intervals: int,
    *,
    interval_s: int = 900,
    start: dt.datetime = DEFAULT_START,
    seed: int = 0,
) -> pa.Table:
    """Return synthetic readings of a fleet of meters in long format.

    Parameters
    ----------
    n_meters : int
        Meters [count], at most 9999; ids are ``m0001``, ``m0002``, ...
    n_intervals : int
        Readings per meter [count].
    interval_s : int
        Interval length [s].
    start : datetime
        First interval start (aware); default 2025-01-01 00:00 in Asia/Seoul.
    seed : int
        Seed; the same arguments always give the same table.

    Returns
    -------
    pyarrow.Table
        ``n_meters * n_intervals`` rows ordered by meter then time, with
        :data:`READINGS_SCHEMA` (``energy_kwh`` [kWh], 3 decimals, non-negative).

    Examples
    --------
    >>> t = generate_readings(1, 96, seed=3)
    >>> t.num_rows, round(sum(t.column("energy_kwh").to_pylist()), 3) > 0
    (96, True)
    """
    return pa.concat_tables(
        iter_readings(n_meters, n_intervals, interval_s=interval_s, start=start, seed=seed)
    ).combine_chunks()


def _as_tables(data: pa.Table | Iterable[pa.Table]) -> Iterator[pa.Table]:
    if isinstance(data, pa.Table):
        yield data
        return
    for table in data:
        if not isinstance(table, pa.Table):
            raise TypeError(
                f"expected pyarrow Tables, got {type(table).__name__}: pass a Table or "
                "the iterator from iter_readings"
            )
        yield table


def _iso_local(ts: pa.ChunkedArray | pa.Array, timezone: str) -> pa.ChunkedArray | pa.Array:
    """Format UTC instants as ISO 8601 local times with offset, e.g. ``...T09:00:00+09:00``."""
    local = pc.cast(ts, pa.timestamp("s", tz="UTC")).cast(pa.timestamp("s", tz=timezone))
    text = pc.strftime(local, format="%Y-%m-%dT%H:%M:%S%z")
    return pc.replace_substring_regex(text, r"([+-]\d\d)(\d\d)$", r"\1:\2")


def write_csv(
    path: str | os.PathLike[str],
    data: pa.Table | Iterable[pa.Table],
    *,
    timezone: str = DEFAULT_TIMEZONE,
) -> int:
    """Write readings as a canonical long CSV (``meter_id,ts,energy_kwh``), streaming.

    Parameters
    ----------
    path : str or path-like
        Output file (overwritten).
    data : pyarrow.Table or iterable of pyarrow.Table
        Readings in :data:`READINGS_SCHEMA`, e.g. :func:`iter_readings`; each
        table is written and released before the next is read.
    timezone : str
        IANA zone the timestamps are written in, with their offset
        (``2025-01-01T00:00:00+09:00`` for Asia/Seoul).

    Returns
    -------
    int
        Rows written [count].

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
    >>> write_csv(p, generate_readings(1, 2))
    2
    >>> p.read_text().splitlines()[:2]
    ['meter_id,ts,energy_kwh', 'm0001,2025-01-01T00:00:00+09:00,0.15']
    """
    rows = 0
    schema = pa.schema(
        [("meter_id", pa.string()), ("ts", pa.string()), ("energy_kwh", pa.float64())]
    )
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with (
        Path(path).open("wb") as sink,
        pacsv.CSVWriter(sink, schema, write_options=options) as writer,
    ):
        sink.write(b"meter_id,ts,energy_kwh\n")  # Arrow would quote the header names
        for table in _as_tables(data):
            out = pa.Table.from_arrays(
                [
                    table.column("meter_id"),
                    _iso_local(table.column("ts"), timezone),
                    table.column("energy_kwh"),
                ],
                schema=schema,
            )
            writer.write_table(out)
            rows += out.num_rows
    return rows


def write_parquet(
    path: str | os.PathLike[str],
    data: pa.Table | Iterable[pa.Table],
    *,
    compression: str = "zstd",
    row_group_rows: int = 1_000_000,
) -> int:
    """Write readings as Parquet, streaming, with UTC timestamps.

    Parameters
    ----------
    path : str or path-like
        Output file (overwritten).
    data : pyarrow.Table or iterable of pyarrow.Table
        Readings in :data:`READINGS_SCHEMA`, e.g. :func:`iter_readings`.
    compression : str
        Parquet codec ('zstd', 'snappy', 'none', ...).
    row_group_rows : int
        Rows per row group [count].

    Returns
    -------
    int
        Rows written [count].

    Examples
    --------
    >>> import tempfile, pathlib, pyarrow.parquet as pq
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.parquet"
    >>> write_parquet(p, iter_readings(3, 5, chunk_meters=2)), pq.read_metadata(p).num_rows
    (15, 15)
    """
    rows = 0
    with pq.ParquetWriter(Path(path), READINGS_SCHEMA, compression=compression) as writer:
        for table in _as_tables(data):
            writer.write_table(table.cast(READINGS_SCHEMA), row_group_size=row_group_rows)
            rows += table.num_rows
    return rows
