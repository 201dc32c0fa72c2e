"""Parquet files, Arrow tables and pandas or Polars DataFrames in long or wide form."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bitgoeul.errors import IngestError
from bitgoeul.ingest.csv import (
    _METER_NAMES,
    _TS_NAMES,
    _VALUE_NAMES,
    CsvOptions,
    _emit,
    _find,
    _hint,
    _invalid_meter_ids,
    _parse_numbers,
    _parse_timestamps,
    _refuse_beyond_limit,
    _RowErrors,
    _unit_from_name,
    _zones_for,
)
from bitgoeul.ingest.source import ParsedSource

__all__ = ["read_frame", "read_parquet", "to_arrow"]


def to_arrow(frame: Any) -> pa.Table:
    """Return an Arrow table for a pandas or Polars DataFrame or an Arrow table/batch."""
    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pa.RecordBatch):
        return pa.Table.from_batches([frame])
    module = type(frame).__module__
    if module.startswith("polars"):
        return frame.to_arrow()
    if module.startswith("pandas"):
        return pa.Table.from_pandas(frame, preserve_index=False)
    if hasattr(frame, "__arrow_c_stream__"):
        return pa.table(frame)
    raise TypeError(
        f"cannot ingest a {type(frame).__name__}: "
        "pass a pandas or Polars DataFrame or an Arrow table"
    )


def read_parquet(path: str | os.PathLike[str], options: CsvOptions | None = None) -> ParsedSource:
    """Parse a Parquet file of readings (long: meter, ts, value; or one meter with ``meter_id``).

    Row groups are streamed, so memory does not grow with the file.
    """
    file = Path(path)
    if not file.is_file():
        raise IngestError("no such file", source=str(path))
    try:
        pf = pq.ParquetFile(file)
    except (pa.ArrowInvalid, OSError) as exc:
        raise IngestError(f"not a readable Parquet file: {exc}", source=str(path)) from exc
    if pf.metadata.num_rows == 0:
        raise IngestError("the Parquet file holds no rows", source=str(path))
    options = options or CsvOptions()
    if (
        options.meter_id is None
        and _find(pf.schema_arrow.names, _METER_NAMES) is None
        and options.meter_col is None
    ):
        from dataclasses import replace

        options = replace(options, meter_id=file.stem)
    parsed = ParsedSource(source=str(path), raw=iter(()), meters={})
    parsed.raw = _stream_batches(
        pf.iter_batches(batch_size=1_000_000), pf.schema_arrow.names, options, parsed
    )
    return parsed


def read_frame(
    frame: Any, options: CsvOptions | None = None, *, name: str = "<frame>"
) -> ParsedSource:
    """Parse an in-memory table (pandas, Polars or Arrow) of readings in long form.

    Row numbers in errors are 1-based positions in the frame.
    """
    table = to_arrow(frame)
    if table.num_rows == 0:
        raise IngestError("the frame has no rows", source=name)
    parsed = ParsedSource(source=name, raw=iter(()), meters={})
    parsed.raw = _stream_batches(
        iter(table.to_batches(max_chunksize=1_000_000)),
        table.column_names,
        options or CsvOptions(),
        parsed,
    )
    return parsed


def _stream_batches(
    batches: Iterator[pa.RecordBatch], names: list[str], options: CsvOptions, parsed: ParsedSource
) -> Iterator[pa.RecordBatch]:
    ts_col = options.ts_col or _find(names, _TS_NAMES)
    value_col = options.value_col or _find(names, _VALUE_NAMES)
    meter_col = None if options.meter_id else (options.meter_col or _find(names, _METER_NAMES))
    for col, what in ((ts_col, "timestamp"), (value_col, "value")):
        if col is None or col not in names:
            raise IngestError(
                f"cannot find the {what} column among {names}; name it with the matching option",
                source=parsed.source,
            )
    if meter_col is None and options.meter_id is None:
        raise IngestError(
            f"no meter column among {names}: pass meter_col or meter_id", source=parsed.source
        )
    if ts_col is None or value_col is None:  # checked above; narrows the types
        raise IngestError("missing timestamp or value column", source=parsed.source)
    unit = options.unit or _unit_from_name(value_col) or "kWh"
    errors = _RowErrors(parsed.source, options.skip_bad_rows)
    parsed.rejected = errors.rejected
    zones_known: Mapping[str, str] = dict(options.meter_zones or {})
    done = 0
    for batch in batches:
        n = batch.num_rows
        lines = np.arange(done + 1, done + n + 1, dtype=np.int64)
        done += n
        bad_id = np.zeros(n, dtype=bool)
        if meter_col is not None:
            meters = batch.column(meter_col).cast(pa.string())
            present = [m for m in pc.unique(meters).to_pylist() if m is not None]
            bad_id, distinct = _invalid_meter_ids(meters, present, lines, meter_col, errors)
        else:
            meters = pa.array(np.full(n, options.meter_id, dtype=object), pa.string())
            distinct = [str(options.meter_id)]
        zones = _zones_for(meters, distinct, dict(zones_known), options.timezone)
        ts, bad_ts = _timestamps(batch.column(ts_col), lines, ts_col, zones, options, errors)
        values, bad_v = _values(batch.column(value_col), lines, value_col, errors, unit)
        null_meter = np.asarray(pc.is_null(meters).to_numpy(zero_copy_only=False), dtype=bool)
        if null_meter.any():
            errors.add(
                lines[null_meter], meter_col or "meter_id", lambda i: "the meter id is missing"
            )
        for m in distinct:
            _hint(parsed, m, unit, options, options.interval_s)
        yield from _emit(
            meters,
            ts,
            values,
            lines,
            bad_ts | bad_v | null_meter | bad_id,
            options,
            parsed,
            value_col,
        )


def _timestamps(
    column: pa.ChunkedArray | pa.Array,
    lines: np.ndarray,
    field: str,
    zones: np.ndarray | None,
    options: CsvOptions,
    errors: _RowErrors,
) -> tuple[pa.Array, np.ndarray]:
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return _parse_timestamps(
            arr.cast(pa.string()), lines, field, zones, options.timezone, options.ts_format, errors
        )
    if not pa.types.is_timestamp(arr.type):
        raise IngestError(
            f"column {field!r} has type {arr.type}, not a timestamp",
            source=errors.source,
            field=field,
        )
    arr = arr.cast(pa.timestamp("us", tz=arr.type.tz))
    if arr.type.tz is None:
        localised = None
        if zones is None:
            try:
                localised = pc.assume_timezone(
                    arr, timezone=options.timezone, ambiguous="raise", nonexistent="raise"
                )
            except pa.ArrowInvalid:
                localised = None  # ambiguous or non-existent local times: find the rows below
        if localised is None:
            text = pc.strftime(arr, format="%Y-%m-%dT%H:%M:%S")
            return _parse_timestamps(text, lines, field, zones, options.timezone, None, errors)
        arr = localised
    arr = arr.cast(pa.timestamp("us", tz="UTC"))
    bad = np.asarray(pc.is_null(arr).to_numpy(zero_copy_only=False), dtype=bool)
    if bad.any():
        errors.add(lines[bad], field, lambda i: "the timestamp is missing")
    return arr, bad


def _values(
    column: pa.ChunkedArray | pa.Array,
    lines: np.ndarray,
    field: str,
    errors: _RowErrors,
    unit: str,
) -> tuple[pa.Array, np.ndarray]:
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return _parse_numbers(arr.cast(pa.string()), lines, field, errors, unit)
    if not (
        pa.types.is_floating(arr.type)
        or pa.types.is_integer(arr.type)
        or pa.types.is_decimal(arr.type)
    ):
        raise IngestError(
            f"column {field!r} has type {arr.type}, not a number", source=errors.source, field=field
        )
    values = arr.cast(pa.float64())
    finite = pc.fill_null(pc.is_finite(values), True)
    bad = ~np.asarray(finite.to_numpy(zero_copy_only=False), dtype=bool)
    if bad.any():
        raw = values.filter(pa.array(bad)).to_pylist()
        errors.add(lines[bad], field, lambda i: f"{raw[i]!r} is not a finite number")
        values = pc.if_else(pa.array(bad), pa.scalar(None, pa.float64()), values)
    return _refuse_beyond_limit(values, values, bad, lines, field, errors, unit)
