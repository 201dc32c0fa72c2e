"""CSV meter exports: canonical long, mapped long, wide, and Korean KPX/KEPCO layouts.

Layouts
-------
``long``
    One reading per row: a meter column, a timestamp column and a value
    column. The canonical file has the header ``meter_id,ts,energy_kwh`` with
    ISO 8601 timestamps carrying an offset, interval start.
``wide``
    A timestamp column and one column per meter.
``daily-wide``
    One row per day: a date column and 24 hour columns named ``1시``..``24시``,
    ``1``..``24`` (hour-ending, KPX/KEPCO style) or ``0``..``23`` (interval start).
``date-hour``
    One row per hour: a date column and an hour column (1..24 hour-ending, or
    0..23 interval start) and a value column, as KPX's yearly hourly files.

Parsing streams the file in blocks with Arrow's multi-threaded CSV reader,
reading every cell as text and converting it with vectorised kernels, so a bad
cell is found with its exact line and column. Cells that are empty are missing
readings (a gap, reported as an issue); a cell that does not hold a finite number
(text, ``NaN``, ``inf``) is a bad row.
"""

from __future__ import annotations

import codecs
import csv as pycsv
import datetime as dt
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from charset_normalizer import from_bytes

from bitgoeul.errors import IngestError
from bitgoeul.ingest.normalise import UNIT_TO_KILO
from bitgoeul.ingest.source import MAX_READING, RAW_SCHEMA, MeterHint, ParsedSource, RejectedRow
from bitgoeul.model import DEFAULT_TIMEZONE, DataIssue, Measurement, check_identifier, is_identifier

__all__ = [
    "CANONICAL_HEADER",
    "CsvOptions",
    "Layout",
    "detect_encoding",
    "is_canonical_csv",
    "read_csv",
]

Layout = Literal["auto", "long", "wide", "daily-wide", "date-hour"]
TsConvention = Literal["start", "end"]

MAX_HEADER_BYTES = 1 << 20
"""A first line longer than this is not a meter export's header."""

_DATE_NAMES = ("date", "날짜", "거래일자", "일자", "기준일자", "거래일", "day")
_HOUR_NAMES = ("hour", "시간", "시", "hr", "hh")
_TS_NAMES = (
    "ts",
    "timestamp",
    "datetime",
    "date_time",
    "time",
    "일시",
    "측정일시",
    "reading_datetime",
)
_METER_NAMES = ("meter_id", "meter", "customer_id", "device_id", "id", "계량기번호", "고객번호")
_VALUE_NAMES = ("energy_kwh", "value", "kwh", "energy", "usage", "consumption", "사용량")
_HOUR_COLUMN = re.compile(r"^(?:h|hour)?\s*0?(\d{1,2})\s*(?:시|h)?$", re.IGNORECASE)
_UNIT_IN_NAME = re.compile(r"[\(\[]\s*(mwh|kwh|wh|mw|kw|w)\s*[\)\]]", re.IGNORECASE)
_UNIT_SUFFIX = re.compile(r"_(mwh|kwh|wh|mw|kw|w)$", re.IGNORECASE)
_CANONICAL_UNITS = {"mwh": "MWh", "kwh": "kWh", "wh": "Wh", "mw": "MW", "kw": "kW", "w": "W"}
_TS_FALLBACK_FORMATS = (
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%d/%m/%Y %H:%M",
    "%Y%m%d%H%M",
)
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d")
_BAD_NUMBER = re.compile(r"^[+-]?(nan|inf|infinity)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CsvOptions:
    """How to read a CSV file; every field left at its default is detected.

    Parameters
    ----------
    layout : {'auto', 'long', 'wide', 'daily-wide', 'date-hour'}
        Table shape (see the module docstring).
    encoding : str, optional
        Text encoding, e.g. 'utf-8', 'cp949'; detected when None (BOM, UTF-8,
        then CP949/EUC-KR, then charset-normalizer).
    delimiter : str, optional
        Field separator; detected among ',', ';', tab and '|' when None.
    meter_col, ts_col, value_col, date_col, hour_col : str, optional
        Column names; detected from common names when None.
    meter_id : str, optional
        Meter id for single-meter layouts (wide columns are meter ids);
        defaults to the file name's stem.
    ts_format : str, optional
        strptime format of the timestamps when they are not ISO 8601.
    ts_convention : {'start', 'end'}, optional
        Whether a timestamp marks the interval's start or its end
        (hour-ending); default 'start', except hour columns 1..24 which are
        hour-ending.
    interval_s : int, optional
        Interval length [s] needed to shift hour-ending stamps; detected from
        the data when None.
    timezone : str
        Zone of naive timestamps for meters not in ``meter_zones``.
    meter_zones : mapping of str to str
        Zones of meters already known (naive timestamps use their meter's zone).
    unit : str, optional
        Unit of the values ('kWh', 'Wh', 'MWh', 'kW', 'W', 'MW'); detected from the
        header (e.g. ``전력거래량(MWh)`` or ``energy_kwh``), else 'kWh'.
    measurement : Measurement, optional
        How values are expressed; default from the unit (energy or power).
    skip_rows : int
        Lines to skip before the header (preambles).
    skip_bad_rows : bool
        Skip unreadable rows, reporting each, instead of failing the file.
    block_bytes : int
        Bytes per parsing block [B]; memory use is a small multiple of it.
    """

    layout: Layout = "auto"
    encoding: str | None = None
    delimiter: str | None = None
    meter_col: str | None = None
    ts_col: str | None = None
    value_col: str | None = None
    date_col: str | None = None
    hour_col: str | None = None
    meter_id: str | None = None
    ts_format: str | None = None
    ts_convention: TsConvention | None = None
    interval_s: int | None = None
    timezone: str = DEFAULT_TIMEZONE
    meter_zones: Mapping[str, str] | None = None
    unit: str | None = None
    measurement: Measurement | None = None
    skip_rows: int = 0
    skip_bad_rows: bool = False
    block_bytes: int = 16 << 20


# -- encoding and header ------------------------------------------------------------------
def detect_encoding(sample: bytes) -> str:
    r"""Return the encoding of a CSV sample: 'utf-8' (with or without BOM), 'cp949' or a guess.

    Parameters
    ----------
    sample : bytes
        The first bytes of the file (64 KiB is plenty).

    Examples
    --------
    >>> detect_encoding("날짜,1시".encode("cp949"))
    'cp949'
    >>> detect_encoding(b"\xef\xbb\xbfmeter_id,ts")
    'utf-8'
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("cp949")().decode(sample, final=False)
        return "cp949"
    except UnicodeDecodeError:
        pass
    best = from_bytes(sample).best()
    if best is None:
        raise ValueError("cannot tell the text encoding; pass encoding='...' explicitly")
    return str(best.encoding)


def _read_head(path: Path, options: CsvOptions) -> tuple[str, str, list[str], int]:
    """Return encoding, delimiter, header names and the header's 1-based line number."""
    with path.open("rb") as fh:
        sample = fh.read(MAX_HEADER_BYTES + 1)
    name = str(path)
    if not sample.strip(codecs.BOM_UTF8 + b" \r\n\t"):
        raise IngestError("the file is empty: it has no header and no readings", source=name)
    try:
        encoding = options.encoding or detect_encoding(sample[:65536])
    except ValueError as exc:
        raise IngestError(str(exc), source=name) from exc
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=False)
    text = text.lstrip("\ufeff")
    lines = text.splitlines(keepends=True)
    header_index = options.skip_rows
    if header_index >= len(lines) or not lines[header_index].endswith(("\n", "\r")):
        if len(sample) > MAX_HEADER_BYTES:
            raise IngestError(
                f"line {header_index + 1} is longer than {MAX_HEADER_BYTES} bytes without a "
                "line break: this is not a meter CSV export",
                source=name,
                line=header_index + 1,
            )
        raise IngestError(
            "the file ends inside its header line: it is truncated or has no data rows",
            source=name,
            line=header_index + 1,
        )
    header_line = lines[header_index]
    if options.delimiter:
        delimiter = options.delimiter
    else:
        counts = {d: header_line.count(d) for d in (",", ";", "\t", "|")}
        delimiter = max(counts, key=lambda d: counts[d])
        if counts[delimiter] == 0:
            delimiter = ","
    names = next(pycsv.reader([header_line], delimiter=delimiter))
    names = [n.strip() for n in names]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise IngestError(
            f"the header names columns more than once: {', '.join(map(repr, dupes))}",
            source=name,
            line=header_index + 1,
        )
    return encoding, delimiter, names, header_index + 1


def _find(names: list[str], wanted: tuple[str, ...]) -> str | None:
    lowered = {n.lower(): n for n in names}
    for w in wanted:
        if w in lowered:
            return lowered[w]
    return None


def _hour_columns(names: list[str]) -> dict[str, int]:
    hours: dict[str, int] = {}
    for n in names:
        m = _HOUR_COLUMN.match(n)
        if m and 0 <= int(m.group(1)) <= 24:
            hours[n] = int(m.group(1))
    return hours


def _unit_from_name(name: str) -> str | None:
    m = _UNIT_IN_NAME.search(name) or _UNIT_SUFFIX.search(name)
    return _CANONICAL_UNITS[m.group(1).lower()] if m else None


@dataclass(frozen=True, slots=True)
class _Plan:
    layout: Layout
    ts_col: str | None = None
    meter_col: str | None = None
    value_cols: tuple[str, ...] = ()
    date_col: str | None = None
    hour_col: str | None = None
    hour_cols: tuple[tuple[str, int], ...] = ()


def _plan(names: list[str], options: CsvOptions, source: str, header_line: int) -> _Plan:
    def need(col: str | None, what: str) -> str:
        if col is None:
            raise IngestError(
                f"cannot find the {what} column among {names}; name it with the matching option",
                source=source,
                line=header_line,
            )
        if col not in names:
            raise IngestError(
                f"no column {col!r} in the header {names}", source=source, line=header_line
            )
        return col

    layout = options.layout
    hours = _hour_columns(names)
    date_col = options.date_col or _find(names, _DATE_NAMES)
    hour_col = options.hour_col or _find(names, _HOUR_NAMES)
    ts_col = options.ts_col or _find(names, _TS_NAMES)
    meter_col = options.meter_col or _find(names, _METER_NAMES)
    value_col = options.value_col or _find(names, _VALUE_NAMES)
    if layout == "auto":
        if len(hours) >= 24:
            layout = "daily-wide"
        elif hour_col is not None and date_col is not None and options.ts_col is None:
            layout = "date-hour"
        elif value_col is not None or options.meter_id is not None:
            layout = "long"
        elif ts_col is not None or date_col is not None:
            layout = "wide"
        else:
            raise IngestError(
                f"cannot tell the layout from the header {names}; pass --layout and column options",
                source=source,
                line=header_line,
            )
    if layout == "daily-wide":
        cols = tuple(sorted(hours.items(), key=lambda kv: kv[1]))
        if len(cols) != 24:
            raise IngestError(
                f"a daily-wide file needs 24 hour columns, found {len(cols)}",
                source=source,
                line=header_line,
            )
        return _Plan(layout, date_col=need(date_col, "date"), hour_cols=cols)
    if layout == "date-hour":
        others = [c for c in names if c not in (date_col, hour_col) and c != meter_col]
        if value_col is None:
            with_unit = [c for c in others if _unit_from_name(c)]
            value_col = with_unit[0] if with_unit else (others[-1] if others else None)
        return _Plan(
            layout,
            date_col=need(date_col, "date"),
            hour_col=need(hour_col, "hour"),
            value_cols=(need(value_col, "value"),),
            meter_col=options.meter_col,
        )
    if layout == "long":
        return _Plan(
            layout,
            ts_col=need(ts_col or date_col, "timestamp"),
            meter_col=need(meter_col, "meter") if options.meter_id is None else None,
            value_cols=(need(value_col, "value"),),
        )
    ts = need(ts_col or date_col, "timestamp")
    meters = tuple(
        c for c in names if c != ts and c.strip() and not c.lower().startswith("unnamed")
    )
    if not meters:
        raise IngestError("a wide file needs at least one meter column", source=source)
    return _Plan("wide", ts_col=ts, value_cols=meters)


# -- conversions ----------------------------------------------------------------------
class _RowErrors:
    """Collects bad cells of one block; raises at once unless bad rows are skipped."""

    def __init__(self, source: str, skip: bool) -> None:
        self.source = source
        self.skip = skip
        self.rejected: list[RejectedRow] = []

    def add(self, lines: np.ndarray, field: str, message: Callable[[int], str]) -> np.ndarray:
        """Record bad rows at the given block positions; return their line numbers."""
        if not self.skip:
            line = int(lines[0])
            raise IngestError(message(0), source=self.source, line=line, field=field)
        for i, line in enumerate(lines.tolist()):
            self.rejected.append(RejectedRow(self.source, int(line), field, message(i)))
        return lines


def _strip(arr: pa.Array) -> pa.Array:
    return pc.utf8_trim_whitespace(arr)


def _parse_numbers(
    cells: pa.Array, lines: np.ndarray, field: str, errors: _RowErrors, unit: str | None = None
) -> tuple[pa.Array, np.ndarray]:
    """Return float64 values (null where the cell is empty) and a mask of bad rows.

    With ``unit``, the cells are readings in that unit, and one beyond
    :data:`~bitgoeul.ingest.source.MAX_READING` is a bad row too.
    """
    text = _strip(cells)
    empty = pc.fill_null(pc.equal(text, ""), True)
    text = pc.if_else(empty, pa.scalar(None, pa.string()), text)
    try:
        values = pc.cast(text, pa.float64())
        finite = pc.fill_null(pc.is_finite(values), True)
        bad = np.asarray(pc.invert(finite).to_numpy(zero_copy_only=False), dtype=bool)
    except pa.ArrowInvalid:
        values = None
        bad = np.zeros(len(text), dtype=bool)
        as_py = text.to_pylist()
        parsed: list[float | None] = []
        for i, cell in enumerate(as_py):
            if cell is None:
                parsed.append(None)
                continue
            try:
                number = (
                    float(cell.replace(",", ""))
                    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?", cell)
                    else float(cell)
                )
            except ValueError:
                number = float("nan")
            if not np.isfinite(number) or _BAD_NUMBER.match(cell):
                bad[i] = True
                parsed.append(None)
            else:
                parsed.append(number)
        values = pa.array(parsed, pa.float64())
    if bad.any():
        idx = np.flatnonzero(bad)
        raw = text.take(pa.array(idx)).to_pylist()
        errors.add(
            lines[idx],
            field,
            lambda i: f"{raw[i]!r} is not a finite number",
        )
        values = pc.if_else(pa.array(bad), pa.scalar(None, pa.float64()), values)
    if unit is None:
        return values, bad
    return _refuse_beyond_limit(values, text, bad, lines, field, errors, unit)


def _refuse_beyond_limit(
    values: pa.Array,
    shown: pa.Array,
    bad: np.ndarray,
    lines: np.ndarray,
    field: str,
    errors: _RowErrors,
    unit: str,
) -> tuple[pa.Array, np.ndarray]:
    """Mark readings beyond :data:`~bitgoeul.ingest.source.MAX_READING` as bad rows.

    ``shown`` holds the cells as the source wrote them, for the message.
    """
    limit = MAX_READING / UNIT_TO_KILO.get(unit, 1.0)
    magnitude = np.abs(np.asarray(pc.fill_null(values, 0.0).to_numpy(zero_copy_only=False)))
    beyond = (magnitude > limit) & ~bad
    if not beyond.any():
        return values, bad
    idx = np.flatnonzero(beyond)
    raw = shown.take(pa.array(idx)).to_pylist()
    errors.add(
        lines[idx],
        field,
        lambda i: (
            f"{raw[i]!r} {unit} is beyond the largest reading accepted ({limit:g} {unit}): "
            "check the value and its unit"
        ),
    )
    values = pc.if_else(pa.array(beyond), pa.scalar(None, pa.float64()), values)
    return values, bad | beyond


def _fix_24h(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Turn 'YYYY-MM-DD 24:00' into the day's 00:00 plus a flag to add a day."""
    flag = pc.fill_null(pc.match_substring_regex(text, r"[ T]24:00(:00)?$"), False)
    mask = np.asarray(flag.to_numpy(zero_copy_only=False), dtype=bool)
    if mask.any():
        text = pc.replace_substring_regex(text, r"([ T])24:00(:00)?$", r"\g<1>00:00")
    return text, mask


def _parse_timestamps(
    cells: pa.Array,
    lines: np.ndarray,
    field: str,
    zones: np.ndarray | None,
    default_zone: str,
    ts_format: str | None,
    errors: _RowErrors,
) -> tuple[pa.Array, np.ndarray]:
    """Parse timestamps to UTC; naive ones are read in each row's meter zone."""
    text = _strip(cells)
    text, add_day = _fix_24h(text)
    n = len(text)
    bad = np.zeros(n, dtype=bool)
    result: pa.Array | None = None
    if ts_format is None:
        try:
            result = pc.cast(text, pa.timestamp("us", tz="UTC"))
        except pa.ArrowInvalid:
            result = None
    if result is None:
        naive = _parse_naive(text, ts_format)
        aware = _localise(naive, zones, default_zone)
        if aware is None:
            # Mixed or ambiguous: fall back to a per-cell parse to find the exact rows.
            aware, bad = _parse_cells(text, zones, default_zone, ts_format)
        result = aware
    null = np.asarray(pc.is_null(result).to_numpy(zero_copy_only=False), dtype=bool) & ~bad
    if null.any():
        bad |= null
    if bad.any():
        idx = np.flatnonzero(bad)
        raw = text.take(pa.array(idx)).to_pylist()
        errors.add(
            lines[idx],
            field,
            lambda i: (
                f"{raw[i]!r} is not a timestamp (expected ISO 8601 such as "
                "2025-08-01T00:15:00+09:00, or pass --ts-format), or it is ambiguous or "
                "non-existent in the meter's time zone"
            ),
        )
    if add_day.any():
        days = pa.array(np.where(add_day, 86_400_000_000, 0), pa.duration("us"))
        result = pc.add(result, days)
    return result, bad


def _parse_naive(text: pa.Array, ts_format: str | None) -> pa.Array | None:
    if ts_format is not None:
        try:
            return pc.strptime(text, format=ts_format, unit="us", error_is_null=True)
        except pa.ArrowInvalid:
            return None
    try:
        return pc.cast(text, pa.timestamp("us"))
    except pa.ArrowInvalid:
        pass
    for fmt in _TS_FALLBACK_FORMATS + _DATE_FORMATS:
        parsed = pc.strptime(text, format=fmt, unit="us", error_is_null=True)
        if parsed.null_count == text.null_count:
            return parsed
    return None


def _localise(
    naive: pa.Array | None, zones: np.ndarray | None, default_zone: str
) -> pa.Array | None:
    if naive is None or naive.null_count:
        return None
    try:
        if zones is None:
            return pc.assume_timezone(
                naive, timezone=default_zone, ambiguous="raise", nonexistent="raise"
            ).cast(pa.timestamp("us", tz="UTC"))
        out = np.empty(len(naive), dtype="int64")
        for zone in np.unique(zones):
            mask = zones == zone
            part = pc.assume_timezone(
                naive.filter(pa.array(mask)),
                timezone=str(zone),
                ambiguous="raise",
                nonexistent="raise",
            )
            out[mask] = part.cast(pa.int64()).to_numpy()
        return pa.array(out, pa.timestamp("us", tz="UTC"))
    except pa.ArrowInvalid:
        return None


def _parse_cells(
    text: pa.Array, zones: np.ndarray | None, default_zone: str, ts_format: str | None
) -> tuple[pa.Array, np.ndarray]:
    from zoneinfo import ZoneInfo

    cells = text.to_pylist()
    out: list[dt.datetime | None] = []
    bad = np.zeros(len(cells), dtype=bool)
    for i, cell in enumerate(cells):
        value: dt.datetime | None = None
        if cell:
            try:
                value = (
                    dt.datetime.strptime(cell, ts_format)
                    if ts_format
                    else dt.datetime.fromisoformat(cell)
                )
            except ValueError:
                value = None
        if value is not None and value.tzinfo is None:
            zone = ZoneInfo(str(zones[i]) if zones is not None else default_zone)
            first = value.replace(tzinfo=zone, fold=0)
            second = value.replace(tzinfo=zone, fold=1)
            # Offsets differ when the wall time is ambiguous (DST fall-back) or
            # non-existent (spring-forward): refuse rather than guess.
            value = None if first.utcoffset() != second.utcoffset() else first
        if value is None:
            bad[i] = True
            out.append(None)
        else:
            out.append(value.astimezone(dt.UTC))
    return pa.array(out, pa.timestamp("us", tz="UTC")), bad


def _parse_dates(
    cells: pa.Array, lines: np.ndarray, field: str, errors: _RowErrors
) -> tuple[pa.Array, np.ndarray]:
    text = _strip(cells)
    for fmt in _DATE_FORMATS:
        parsed = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
        if parsed.null_count < len(text):
            break
    bad = np.asarray(pc.is_null(parsed).to_numpy(zero_copy_only=False), dtype=bool)
    if bad.any():
        idx = np.flatnonzero(bad)
        raw = text.take(pa.array(idx)).to_pylist()
        errors.add(lines[idx], field, lambda i: f"{raw[i]!r} is not a date (expected YYYY-MM-DD)")
    return parsed, bad


# -- the reader ---------------------------------------------------------------------
CANONICAL_HEADER = ("meter_id", "ts", "energy_kwh")


def is_canonical_csv(path: str | os.PathLike[str], options: CsvOptions | None = None) -> bool:
    r"""Return True if a file is a canonical long CSV that options do not reinterpret.

    Canonical means a UTF-8 file (BOM allowed) whose first line is exactly
    ``meter_id,ts,energy_kwh`` and whose options are all left to detection
    (the zone of naive timestamps aside). Such a file can be bulk-loaded by the
    store; the service still parses it line by line when the bulk load finds
    anything to report.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.csv"
    >>> _ = p.write_text("meter_id,ts,energy_kwh\nm1,2025-08-01T00:00:00+09:00,0.25\n")
    >>> is_canonical_csv(p), is_canonical_csv(p, CsvOptions(unit="Wh"))
    (True, False)
    """
    options = options or CsvOptions()
    reinterpreted = (
        options.layout not in ("auto", "long")
        or options.encoding not in (None, "utf-8", "utf-8-sig", "utf8")
        or options.delimiter not in (None, ",")
        or any(
            v is not None
            for v in (
                options.meter_col,
                options.ts_col,
                options.value_col,
                options.date_col,
                options.hour_col,
                options.meter_id,
                options.ts_format,
                options.interval_s,
                options.measurement,
            )
        )
        or options.ts_convention not in (None, "start")
        or options.unit not in (None, "kWh")
        or options.skip_rows
    )
    if reinterpreted:
        return False
    try:
        with Path(path).open("rb") as fh:
            first = fh.readline(256)
    except OSError:
        return False
    return (
        first.removeprefix(codecs.BOM_UTF8).rstrip(b"\r\n") == ",".join(CANONICAL_HEADER).encode()
    )


def read_csv(path: str | os.PathLike[str], options: CsvOptions | None = None) -> ParsedSource:
    r"""Parse a CSV meter export into long-format readings, streaming.

    Parameters
    ----------
    path : str or path-like
        The CSV file.
    options : CsvOptions, optional
        Layout, columns, encoding, units and time conventions; detected when absent.

    Returns
    -------
    ParsedSource
        ``raw`` is an iterator of record batches (consume it once); ``meters``,
        ``issues`` and ``rejected`` are complete once it is exhausted.

    Raises
    ------
    IngestError
        For an unreadable file or, unless ``skip_bad_rows``, the first bad row,
        naming the file, line and column.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.csv"
    >>> _ = p.write_text("meter_id,ts,energy_kwh\nm1,2025-08-01T00:00:00+09:00,0.25\n")
    >>> parsed = read_csv(p)
    >>> [b.num_rows for b in parsed.iter_batches()], list(parsed.meters)
    ([1], ['m1'])
    """
    options = options or CsvOptions()
    file = Path(path)
    source = str(path)
    if not file.is_file():
        raise IngestError("no such file", source=source)
    encoding, delimiter, names, header_line = _read_head(file, options)
    plan = _plan(names, options, source, header_line)
    parsed = ParsedSource(source=source, raw=iter(()), meters={})
    parsed.raw = _stream(file, options, encoding, delimiter, names, header_line, plan, parsed)
    return parsed


def _default_meter_id(file: Path, options: CsvOptions) -> str:
    meter_id = options.meter_id or re.sub(r"[^A-Za-z0-9가-힣_.\-]+", "_", file.stem).strip("_")
    try:
        return check_identifier(meter_id, "meter id")
    except ValueError as exc:
        raise IngestError(f"{exc}; pass --meter-id", source=str(file)) from exc


def _malformed_lines(
    file: Path, encoding: str, delimiter: str, header_line: int, ncols: int
) -> list[tuple[int, str]]:
    """Physical line numbers (and text) of rows whose field count is wrong."""
    found: list[tuple[int, str]] = []
    with file.open("r", encoding=encoding, newline="", errors="replace") as fh:
        reader = pycsv.reader(fh, delimiter=delimiter)
        for row in reader:
            line = reader.line_num
            if line <= header_line:
                continue
            if len(row) != ncols:
                found.append((line, delimiter.join(row)))
    return found


def _stream(
    file: Path,
    options: CsvOptions,
    encoding: str,
    delimiter: str,
    names: list[str],
    header_line: int,
    plan: _Plan,
    parsed: ParsedSource,
) -> Iterator[pa.RecordBatch]:
    source = str(file)
    errors = _RowErrors(source, options.skip_bad_rows)
    parsed.rejected = errors.rejected
    malformed: list[str] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed.append(row.text)
        return "skip"

    # First pass only when Arrow reports malformed rows: find their physical lines so
    # that every later row keeps its true line number.
    skipped_lines: np.ndarray = np.empty(0, dtype=np.int64)
    for attempt in range(2):
        reader = _open_reader(file, options, encoding, delimiter, names, header_line, on_invalid)
        if attempt == 0:
            try:
                first = reader.read_next_batch()
            except StopIteration:
                first = None
            except pa.ArrowInvalid as exc:
                raise IngestError(_arrow_message(exc), source=source) from exc
            if not malformed:
                break
        bad_lines = _malformed_lines(file, encoding, delimiter, header_line, len(names))
        real = [(ln, text) for ln, text in bad_lines if text.strip()]
        if real:
            texts = [text for _, text in real]

            def malformed_message(i: int, texts: list[str] = texts) -> str:
                return f"expected {len(names)} fields, found a malformed row: {texts[i][:80]!r}"

            errors.add(np.array([ln for ln, _ in real]), "", malformed_message)
        skipped_lines = np.array([ln for ln, _ in bad_lines], dtype=np.int64)
        malformed.clear()
        reader = _open_reader(file, options, encoding, delimiter, names, header_line, on_invalid)
        try:
            first = reader.read_next_batch()
        except StopIteration:
            first = None
        except pa.ArrowInvalid as exc:
            raise IngestError(_arrow_message(exc), source=source) from exc
        break

    if first is None:
        raise IngestError("the file has a header but no data rows", source=source, line=header_line)

    single_id = (
        _default_meter_id(file, options)
        if plan.meter_col is None and plan.layout != "wide"
        else None
    )
    unit = options.unit or _unit_from_name(plan.value_cols[0] if plan.value_cols else "") or "kWh"
    zones_known = dict(options.meter_zones or {})
    rows_done = 0

    def batches() -> Iterator[pa.RecordBatch]:
        nonlocal rows_done
        batch: pa.RecordBatch | None = first
        while batch is not None:
            n = batch.num_rows
            positions = np.arange(rows_done, rows_done + n, dtype=np.int64)
            lines = positions + header_line + 1
            if skipped_lines.size:
                # Shift each row past the malformed lines Arrow skipped before it.
                lines = _shift_lines(positions, header_line, skipped_lines)
            rows_done += n
            yield from _convert(
                batch, lines, plan, options, single_id, unit, zones_known, errors, parsed
            )
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                batch = None
            except pa.ArrowInvalid as exc:
                raise IngestError(_arrow_message(exc), source=source) from exc

    yield from batches()


def _shift_lines(positions: np.ndarray, header_line: int, skipped: np.ndarray) -> np.ndarray:
    # Good row k sits on the physical line L such that L - header_line - 1 - (#skipped < L) == k.
    # Solve by iterating: start from k + header + 1 and add the skipped lines at or before it.
    lines = positions + header_line + 1
    for _ in range(len(skipped) + 1):
        shifted = positions + header_line + 1 + np.searchsorted(skipped, lines, side="right")
        if np.array_equal(shifted, lines):
            break
        lines = shifted
    return lines


def _arrow_message(exc: pa.ArrowInvalid) -> str:
    text = str(exc)
    if "straddling" in text or "block" in text:
        return (
            "a row is longer than the parser's block size (a line with no line break?): "
            f"{text[:200]}"
        )
    return f"cannot parse the CSV: {text[:300]}"


def _open_reader(
    file: Path,
    options: CsvOptions,
    encoding: str,
    delimiter: str,
    names: list[str],
    header_line: int,
    on_invalid: Callable[[pacsv.InvalidRow], str],
) -> pacsv.CSVStreamingReader:
    read = pacsv.ReadOptions(
        skip_rows=header_line,
        column_names=names,
        block_size=options.block_bytes,
        encoding="utf8" if encoding.lower().replace("-", "") in ("utf8", "utf8sig") else encoding,
    )
    parse = pacsv.ParseOptions(
        delimiter=delimiter, invalid_row_handler=on_invalid, ignore_empty_lines=False
    )
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        return pacsv.open_csv(file, read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise IngestError(_arrow_message(exc), source=str(file)) from exc


def _hint(
    parsed: ParsedSource, meter_id: str, unit: str, options: CsvOptions, interval_s: int | None
) -> None:
    if meter_id in parsed.meters:
        return
    measurement = options.measurement
    if measurement is None:
        measurement = (
            Measurement.INSTANTANEOUS_POWER
            if unit in ("W", "kW", "MW")
            else Measurement.INTERVAL_ENERGY
        )
    parsed.meters[meter_id] = MeterHint(
        meter_id=meter_id,
        measurement=measurement,
        unit=unit,
        interval_s=options.interval_s or interval_s,
        timezone=None,
    )


def _convert(
    batch: pa.RecordBatch,
    lines: np.ndarray,
    plan: _Plan,
    options: CsvOptions,
    single_id: str | None,
    unit: str,
    zones_known: dict[str, str],
    errors: _RowErrors,
    parsed: ParsedSource,
) -> Iterator[pa.RecordBatch]:
    if plan.layout == "long":
        yield from _convert_long(
            batch, lines, plan, options, single_id, unit, zones_known, errors, parsed
        )
    elif plan.layout == "wide":
        yield from _convert_wide(batch, lines, plan, options, unit, zones_known, errors, parsed)
    else:
        yield from _convert_daily(
            batch, lines, plan, options, single_id, unit, zones_known, errors, parsed
        )


def _convert_long(
    batch: pa.RecordBatch,
    lines: np.ndarray,
    plan: _Plan,
    options: CsvOptions,
    single_id: str | None,
    unit: str,
    zones_known: dict[str, str],
    errors: _RowErrors,
    parsed: ParsedSource,
) -> Iterator[pa.RecordBatch]:
    n = batch.num_rows
    bad = np.zeros(n, dtype=bool)
    if plan.meter_col is not None:
        meters = _strip(batch.column(plan.meter_col))
        bad, distinct = _invalid_meter_ids(
            meters, pc.unique(meters).to_pylist(), lines, plan.meter_col, errors
        )
    else:
        meters = pa.array(np.full(n, single_id or "", dtype=object), pa.string())
        distinct = [single_id or ""]
    zones = _zones_for(meters, distinct, zones_known, options.timezone)
    ts, bad_ts = _parse_timestamps(
        batch.column(plan.ts_col),
        lines,
        plan.ts_col or "",
        zones,
        options.timezone,
        options.ts_format,
        errors,
    )
    values, bad_v = _parse_numbers(
        batch.column(plan.value_cols[0]), lines, plan.value_cols[0], errors, unit
    )
    bad |= bad_ts | bad_v
    for m in distinct:
        _hint(parsed, m, unit, options, None)
    yield from _emit(meters, ts, values, lines, bad, options, parsed, plan.value_cols[0])


def _invalid_meter_ids(
    meters: pa.Array, distinct: list[str | None], lines: np.ndarray, field: str, errors: _RowErrors
) -> tuple[np.ndarray, list[str]]:
    """Record the rows whose meter id no meter may have; return their mask and the valid ids."""
    invalid = [m for m in distinct if not is_identifier(m)]
    mask = np.zeros(len(meters), dtype=bool)
    if invalid:
        mask = np.asarray(
            pc.is_in(meters, pa.array(invalid)).to_numpy(zero_copy_only=False), dtype=bool
        )
        messages = [
            f"{m!r} is not a valid meter id" for m in meters.filter(pa.array(mask)).to_pylist()
        ]
        errors.add(lines[mask], field, messages.__getitem__)
    return mask, [m for m in distinct if is_identifier(m)]


def _zones_for(
    meters: pa.Array, distinct: list[str], zones_known: dict[str, str], default: str
) -> np.ndarray | None:
    zones = {m: zones_known.get(m, default) for m in distinct}
    if len(set(zones.values())) <= 1:
        return (
            None
            if not zones or next(iter(zones.values())) == default
            else np.full(len(meters), next(iter(zones.values())), dtype=object)
        )
    keys = pa.array(list(zones))
    idx = pc.index_in(meters, value_set=keys).to_numpy(zero_copy_only=False)
    table = np.array([zones[k] for k in zones] + [default], dtype=object)
    picked: np.ndarray = table[np.where(np.isnan(idx.astype(float)), len(zones), idx).astype(int)]
    return picked


def _emit(
    meters: pa.Array,
    ts: pa.Array,
    values: pa.Array,
    lines: np.ndarray,
    bad: np.ndarray,
    options: CsvOptions,
    parsed: ParsedSource,
    field: str,
) -> Iterator[pa.RecordBatch]:
    missing = np.asarray(pc.is_null(values).to_numpy(zero_copy_only=False), dtype=bool) & ~bad
    if missing.any():
        _report_missing(meters, ts, lines, missing, parsed, field)
    keep = ~(bad | missing)
    if options.ts_convention == "end":
        ts = _shift_back(ts, meters, keep, options, parsed)
    table = pa.RecordBatch.from_arrays(
        [meters, ts, values, pa.array(lines, pa.int64())], schema=RAW_SCHEMA
    )
    if not keep.all():
        table = table.filter(pa.array(keep))
    if table.num_rows:
        yield table


def _shift_back(
    ts: pa.Array, meters: pa.Array, keep: np.ndarray, options: CsvOptions, parsed: ParsedSource
) -> pa.Array:
    interval = options.interval_s
    if interval is None:
        valid = ts.filter(pa.array(keep))
        steps = np.diff(np.unique(valid.cast(pa.int64()).to_numpy()))
        if steps.size == 0:
            raise IngestError(
                "hour-ending timestamps need the interval length: pass --interval",
                source=parsed.source,
            )
        interval = int(np.median(steps) // 1_000_000)
        for hint in parsed.meters.values():
            if hint.interval_s is None:
                hint.interval_s = interval
    return pc.subtract(ts, pa.scalar(dt.timedelta(seconds=interval), pa.duration("us")))


def _report_missing(
    meters: pa.Array,
    ts: pa.Array,
    lines: np.ndarray,
    missing: np.ndarray,
    parsed: ParsedSource,
    field: str,
) -> None:
    idx = np.flatnonzero(missing)
    sub = pa.table({"m": meters.take(pa.array(idx)), "ts": ts.take(pa.array(idx))})
    grouped = sub.group_by("m").aggregate([("ts", "min"), ("ts", "max"), ("ts", "count")])
    for row in grouped.to_pylist():
        if row["ts_min"] is None:
            continue
        parsed.issues.append(
            DataIssue(
                code="missing_value",
                meter_id=row["m"],
                start=row["ts_min"],
                end=row["ts_max"] + dt.timedelta(microseconds=1),
                message=(
                    f"{row['ts_count']} empty {field!r} cell(s) in {parsed.source}, first on line "
                    f"{int(lines[idx[0]])}: read as missing readings (gaps)"
                ),
                data={"count": row["ts_count"], "first_line": int(lines[idx[0]])},
            )
        )


def _convert_wide(
    batch: pa.RecordBatch,
    lines: np.ndarray,
    plan: _Plan,
    options: CsvOptions,
    unit: str,
    zones_known: dict[str, str],
    errors: _RowErrors,
    parsed: ParsedSource,
) -> Iterator[pa.RecordBatch]:
    invalid = [c for c in plan.value_cols if not is_identifier(c)]
    if invalid:
        raise IngestError(
            f"wide column {invalid[0]!r} is not a valid meter id; rename it or use --layout long",
            source=parsed.source,
            field=invalid[0],
        )
    for meter_id in plan.value_cols:
        zone = zones_known.get(meter_id, options.timezone)
        ts, bad_ts = _parse_timestamps(
            batch.column(plan.ts_col),
            lines,
            plan.ts_col or "",
            None,
            zone,
            options.ts_format,
            errors,
        )
        meter_unit = options.unit or _unit_from_name(meter_id) or unit
        values, bad_v = _parse_numbers(batch.column(meter_id), lines, meter_id, errors, meter_unit)
        meters = pa.array(np.full(batch.num_rows, meter_id, dtype=object), pa.string())
        _hint(parsed, meter_id, meter_unit, options, None)
        yield from _emit(meters, ts, values, lines, bad_ts | bad_v, options, parsed, meter_id)


def _convert_daily(
    batch: pa.RecordBatch,
    lines: np.ndarray,
    plan: _Plan,
    options: CsvOptions,
    single_id: str | None,
    unit: str,
    zones_known: dict[str, str],
    errors: _RowErrors,
    parsed: ParsedSource,
) -> Iterator[pa.RecordBatch]:
    from zoneinfo import ZoneInfo

    date_col = plan.date_col or ""
    dates, bad_date = _parse_dates(batch.column(date_col), lines, date_col, errors)
    if plan.layout == "daily-wide":
        hour_numbers = [h for _, h in plan.hour_cols]
        ending = options.ts_convention != "start" and min(hour_numbers) == 1
        offsets = np.array([(h - 1 if ending else h) for h in hour_numbers], dtype=np.int64)
        n = batch.num_rows
        value_parts: list[pa.Array] = []
        bad = np.zeros(n * 24, dtype=bool)
        for k, (col, _) in enumerate(plan.hour_cols):
            vals, bad_v = _parse_numbers(batch.column(col), lines, col, errors, unit)
            value_parts.append(vals)
            bad[k::24] = bad_v
        # Row-major: day 0 hour 0..23, day 1 hour 0..23, ...
        values = pa.array(
            np.stack([v.to_numpy(zero_copy_only=False) for v in value_parts], axis=1).reshape(-1),
            pa.float64(),
        )
        values = pc.if_else(pc.is_nan(values), pa.scalar(None, pa.float64()), values)
        day_us = dates.cast(pa.int64()).to_numpy(zero_copy_only=False).astype("float64")
        local_us = np.repeat(day_us, 24) * 1_000_000 + np.tile(offsets, n) * 3_600_000_000
        row_lines = np.repeat(lines, 24)
        bad |= np.repeat(bad_date, 24)
    else:
        hour_col = plan.hour_col or ""
        hours_f, bad_h = _parse_numbers(batch.column(hour_col), lines, hour_col, errors)
        hours = np.nan_to_num(hours_f.to_numpy(zero_copy_only=False).astype("float64"), nan=1.0)
        out_of_range = (hours < 0) | (hours > 24) | (hours != np.round(hours))
        if out_of_range.any():
            idx = np.flatnonzero(out_of_range)
            errors.add(lines[idx], hour_col, lambda i: f"hour {hours[idx[i]]} is not 0..24")
        ending = options.ts_convention != "start" and not bool((hours == 0).any())
        offsets = hours - 1 if ending else hours
        values, bad_v = _parse_numbers(
            batch.column(plan.value_cols[0]), lines, plan.value_cols[0], errors, unit
        )
        day_us = dates.cast(pa.int64()).to_numpy(zero_copy_only=False).astype("float64")
        local_us = day_us * 1_000_000 + offsets * 3_600_000_000
        row_lines = lines
        bad = bad_date | bad_h | bad_v | out_of_range
    local_us = np.nan_to_num(local_us, nan=0.0).astype(np.int64)
    meter_ids: pa.Array
    if plan.meter_col is not None:
        meter_ids = _strip(batch.column(plan.meter_col))
        distinct = pc.unique(meter_ids).to_pylist()
    else:
        meter_ids = pa.array(np.full(len(local_us), single_id or "", dtype=object), pa.string())
        distinct = [single_id or ""]
    zone = ZoneInfo(zones_known.get(distinct[0], options.timezone)) if distinct else None
    naive = pa.array(local_us, pa.timestamp("us"))
    tzname = str(zone) if zone else options.timezone
    ts = pc.assume_timezone(naive, timezone=tzname, ambiguous="earliest", nonexistent="earliest")
    ts = ts.cast(pa.timestamp("us", tz="UTC"))
    for m in distinct:
        _hint(parsed, m, unit, options, 3600)
    plain = replace(options, ts_convention="start")
    yield from _emit(
        meter_ids,
        ts,
        values,
        row_lines,
        bad,
        plain,
        parsed,
        plan.value_cols[0] if plan.value_cols else "hour",
    )
