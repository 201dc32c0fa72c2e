"""Use case: ingest files or frames into the store, atomically and idempotently."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from bitgoeul.errors import ConflictError, IngestError
from bitgoeul.ingest.csv import CANONICAL_HEADER, CsvOptions, is_canonical_csv, read_csv
from bitgoeul.ingest.frames import read_frame, read_parquet
from bitgoeul.ingest.normalise import infer_interval_s, registers_to_energy, values_to_energy
from bitgoeul.ingest.source import MeterHint, ParsedSource, RejectedRow
from bitgoeul.model import (
    DEFAULT_TIMEZONE,
    DataIssue,
    Measurement,
    Meter,
    MeterKind,
    Organisation,
    Site,
    is_identifier,
)
from bitgoeul.store import MeterStore, OnConflict

__all__ = ["IngestReport", "MeterDefaults", "ingest_file", "ingest_files", "ingest_frame"]

SourceFormat = Literal["auto", "csv", "green-button", "parquet", "arrow"]
Progress = Callable[[str, int], None]
"""Called with (source, rows staged so far) as a file streams in."""


@dataclass(frozen=True, slots=True)
class MeterDefaults:
    """Metadata for meters an ingest creates (existing meters keep theirs).

    Parameters mirror :class:`bitgoeul.model.Meter`; ``org_id`` and ``site_id``
    default to 'default', created on first use.
    """

    org_id: str = "default"
    site_id: str = "default"
    timezone: str = DEFAULT_TIMEZONE
    kind: MeterKind | None = None
    contract_class: str | None = None
    voltage: str | None = None
    contract_kw: float | None = None
    reading_day: int = 1


@dataclass(slots=True)
class IngestReport:
    """What ingesting one source did; nothing is written unless ``committed``."""

    source: str
    committed: bool
    rows_read: int = 0
    inserted: int = 0
    unchanged: int = 0
    corrected: int = 0
    duplicates_in_batch: int = 0
    meters_created: list[str] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    issues: list[DataIssue] = field(default_factory=list)
    corrections: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    batch_id: int | None = None
    loader: Literal["bulk", "parser"] = "parser"
    """'bulk': the store's own reader loaded a clean canonical file; 'parser': line by line."""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return {
            "source": self.source,
            "committed": self.committed,
            "batch_id": self.batch_id,
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "unchanged": self.unchanged,
            "corrected": self.corrected,
            "duplicates_in_batch": self.duplicates_in_batch,
            "meters_created": self.meters_created,
            "rejected": [r.to_dict() for r in self.rejected],
            "issues": [i.to_dict() for i in self.issues],
            "corrections": [
                {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in c.items()}
                for c in self.corrections
            ],
            "seconds": round(self.seconds, 3),
            "loader": self.loader,
        }


def detect_format(path: Path) -> SourceFormat:
    """Guess the format from the file name, then from the first bytes."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    if suffix in (".xml", ".atom"):
        return "green-button"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".arrow", ".feather", ".ipc"):
        return "arrow"
    with path.open("rb") as fh:
        head = fh.read(512)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"ARROW1"):
        return "arrow"
    if head.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"<"):
        return "green-button"
    return "csv"


def _parse(path: Path, fmt: SourceFormat, options: CsvOptions) -> ParsedSource:
    if fmt == "auto":
        if not path.is_file():
            raise IngestError("no such file", source=str(path))
        fmt = detect_format(path)
    if fmt == "csv":
        return read_csv(path, options)
    if fmt == "parquet":
        return read_parquet(path, options)
    if fmt == "arrow":
        import pyarrow.feather as feather

        try:
            table = feather.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise IngestError(f"not a readable Arrow IPC file: {exc}", source=str(path)) from exc
        parsed = read_frame(table, options, name=str(path))
        return parsed
    from bitgoeul.ingest.green_button import read_green_button

    return read_green_button(path)


def ingest_files(
    paths: Iterable[str | os.PathLike[str]],
    store: MeterStore,
    *,
    fmt: SourceFormat = "auto",
    csv: CsvOptions | None = None,
    defaults: MeterDefaults | None = None,
    on_conflict: OnConflict = "refuse",
    progress: Progress | None = None,
) -> list[IngestReport]:
    """Ingest several files, each in its own atomic batch.

    A file that fails raises :class:`IngestError` after the files before it were
    committed; the failing file leaves the store as it was.
    """
    return [
        ingest_file(
            p,
            store,
            fmt=fmt,
            csv=csv,
            defaults=defaults,
            on_conflict=on_conflict,
            progress=progress,
        )
        for p in paths
    ]


def ingest_file(
    path: str | os.PathLike[str],
    store: MeterStore,
    *,
    fmt: SourceFormat = "auto",
    csv: CsvOptions | None = None,
    defaults: MeterDefaults | None = None,
    on_conflict: OnConflict = "refuse",
    progress: Progress | None = None,
    bulk: bool = True,
) -> IngestReport:
    """Ingest one file as one atomic, idempotent batch.

    Parameters
    ----------
    path : str or path-like
        CSV, Green Button XML, Parquet or Arrow IPC file.
    store : MeterStore
        Where to write.
    fmt : {'auto', 'csv', 'green-button', 'parquet', 'arrow'}
        Source format; 'auto' looks at the name and first bytes.
    csv : CsvOptions, optional
        Layout, columns, encoding, units and time conventions (CSV and tables).
    defaults : MeterDefaults, optional
        Metadata for meters this file creates.
    on_conflict : {'refuse', 'correct'}
        What to do when a reading differs from the stored value of the same
        meter and interval: refuse the whole file, or apply it as a correction
        (the old value is kept in the correction log).
    progress : callable, optional
        Called with (source, rows staged so far).
    bulk : bool
        Let the store load a canonical CSV (``meter_id,ts,energy_kwh``, offsets
        on every timestamp) or Parquet file with its own parallel reader. The
        file is still parsed line by line whenever the bulk load finds anything
        to report (bad or missing values, naive timestamps, duplicates or
        conflicts), so the outcome is the same either way; False always parses
        line by line.

    Returns
    -------
    IngestReport

    Raises
    ------
    IngestError
        Naming the file, line and field; the store is left as it was.
    """
    file = Path(path)
    defaults = defaults or MeterDefaults()
    options = replace(csv or CsvOptions(), timezone=defaults.timezone)
    if not file.is_file():
        raise IngestError("no such file", source=str(file))
    # The digest is read in a thread while DuckDB or the parser reads the file (both
    # release the GIL), instead of one more pass before them.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as pool:
        sha = pool.submit(_sha256, file)
        if bulk:
            kind = detect_format(file) if fmt == "auto" else fmt
            if (kind == "csv" and is_canonical_csv(file, options)) or (
                kind == "parquet" and _is_canonical_parquet(file, options)
            ):
                report = _ingest_bulk(
                    file,
                    kind,
                    store,
                    defaults=defaults,
                    on_conflict=on_conflict,
                    progress=progress,
                    sha256=sha,
                )
                if report is not None:
                    return report
        options = _with_zones(options, store)
        parsed = _parse(file, fmt, options)
        return _ingest_parsed(
            parsed,
            store,
            defaults=defaults,
            on_conflict=on_conflict,
            progress=progress,
            sha256=sha,
            skip_bad_rows=options.skip_bad_rows,
        )


def ingest_frame(
    frame: Any,
    store: MeterStore,
    *,
    name: str = "<frame>",
    options: CsvOptions | None = None,
    defaults: MeterDefaults | None = None,
    on_conflict: OnConflict = "refuse",
) -> IngestReport:
    """Ingest a pandas or Polars DataFrame or an Arrow table of long-format readings.

    Examples
    --------
    >>> import pandas as pd
    >>> from bitgoeul.store import open_store
    >>> store = open_store(":memory:")
    >>> df = pd.DataFrame({"meter_id": ["m1"], "ts": pd.to_datetime(["2025-08-01T00:00+09:00"]),
    ...                    "energy_kwh": [0.4]})
    >>> ingest_frame(df, store).inserted
    1
    """
    defaults = defaults or MeterDefaults()
    opts = _with_zones(replace(options or CsvOptions(), timezone=defaults.timezone), store)
    parsed = read_frame(frame, opts, name=name)
    return _ingest_parsed(
        parsed,
        store,
        defaults=defaults,
        on_conflict=on_conflict,
        progress=None,
        sha256=None,
        skip_bad_rows=opts.skip_bad_rows,
    )


def _with_zones(options: CsvOptions, store: MeterStore) -> CsvOptions:
    return replace(options, meter_zones=store.meter_zones())


def _is_canonical_parquet(path: Path, options: CsvOptions) -> bool:
    """Return True for a Parquet file of meter_id (string), ts (zoned), energy_kwh (float)."""
    import pyarrow.parquet as pq

    if options != replace(CsvOptions(), timezone=options.timezone):
        return False
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError):
        return False
    if tuple(schema.names) != CANONICAL_HEADER:
        return False
    meter, ts, energy = (schema.field(n).type for n in CANONICAL_HEADER)
    return (
        (pa.types.is_string(meter) or pa.types.is_large_string(meter))
        and pa.types.is_timestamp(ts)
        and ts.tz is not None
        and pa.types.is_floating(energy)
    )


def _ingest_bulk(
    file: Path,
    kind: Literal["csv", "parquet"],
    store: MeterStore,
    *,
    defaults: MeterDefaults,
    on_conflict: OnConflict,
    progress: Progress | None,
    sha256: Future[str],
) -> IngestReport | None:
    """Ingest a canonical file through the store's bulk loader; None: parse it line by line.

    The bulk loader keeps no line numbers, so anything that must be reported
    by line (a bad or missing value, a naive timestamp, a duplicate, a refused
    conflict) sends the file back to the line-by-line parser, which reports it
    exactly as it would have without the bulk path.
    """
    started = time.perf_counter()
    source = str(file)
    staged = store.stage()
    try:
        stats = staged.append_file(source, fmt=kind)
        if not (stats.clean and stats.ordered):
            return None
        if progress:
            progress(source, stats.rows)
        ids = list(stats.interval_s.keys() | set(staged.meter_ids()))
        if not all(is_identifier(m) for m in ids):
            return None  # a meter id no meter may have: to name its line and field
        existing = store.find_meters(ids)
        new = [
            _meter_for(MeterHint(m, interval_s=stats.interval_s.get(m)), defaults)
            for m in sorted(ids)
            if m not in existing
        ]
        if new:
            staged.add_meters(
                new,
                orgs=[Organisation(defaults.org_id, name=defaults.org_id)],
                sites=[Site(defaults.site_id, defaults.org_id, timezone=defaults.timezone)],
            )
        try:
            result = staged.merge(
                source=source,
                sha256=sha256.result(),
                on_conflict=on_conflict,
                issues=[],
                skipped_rows=0,
            )
        except ConflictError:
            return None  # to name the line of the first conflict
    finally:
        staged.close()
    return IngestReport(
        source=source,
        committed=True,
        rows_read=result.rows_in,
        inserted=result.inserted,
        unchanged=result.unchanged,
        corrected=result.corrected,
        duplicates_in_batch=result.duplicates_in_batch,
        meters_created=[m.meter_id for m in new],
        corrections=result.conflicts,
        seconds=time.perf_counter() - started,
        batch_id=result.batch_id,
        loader="bulk",
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _meter_for(hint: MeterHint, defaults: MeterDefaults) -> Meter:
    kind = defaults.kind or hint.kind or MeterKind.GRID_IMPORT
    return Meter(
        meter_id=hint.meter_id,
        site_id=defaults.site_id,
        timezone=hint.timezone or defaults.timezone,
        kind=kind,
        measurement=hint.measurement,
        unit=hint.unit,
        interval_s=hint.interval_s,
        contract_class=defaults.contract_class,
        voltage=defaults.voltage,
        contract_kw=defaults.contract_kw,
        reading_day=defaults.reading_day,
        name=hint.name
        if hint.commodity == "electricity"
        else f"{hint.name} ({hint.commodity})".strip(),
    )


def _ingest_parsed(
    parsed: ParsedSource,
    store: MeterStore,
    *,
    defaults: MeterDefaults,
    on_conflict: OnConflict,
    progress: Progress | None,
    sha256: Future[str] | None,
    skip_bad_rows: bool,
) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport(source=parsed.source, committed=False)
    staged = store.stage()
    try:
        register_parts: list[pa.RecordBatch] = []
        rows = 0
        for batch in parsed.iter_batches():
            hints = parsed.meters
            register_ids = {
                m for m, h in hints.items() if h.measurement == Measurement.CUMULATIVE_REGISTER
            }
            if register_ids:
                register_parts.append(batch)
                continue
            unknown = {m for m, h in hints.items() if h.interval_s is None}
            if unknown:
                for meter_id, step in infer_interval_s(batch).items():
                    if meter_id in unknown:
                        hints[meter_id].interval_s = step
            staged.append(values_to_energy(batch, hints, parsed.source))
            rows += batch.num_rows
            if progress:
                progress(parsed.source, rows)
        if register_parts:
            raw = pa.Table.from_batches(register_parts)
            rows += raw.num_rows
            previous: dict[str, Any] = {}
            first_ts = raw.column("ts").to_pylist()
            for meter_id in set(raw.column("meter_id").to_pylist()):
                if meter_id in store.find_meters([meter_id]):
                    prev = store.last_register_before(meter_id, min(first_ts))
                    if prev is not None:
                        previous[meter_id] = prev
            energy, register_issues = registers_to_energy(
                raw, parsed.meters, previous, parsed.source
            )
            parsed.issues.extend(register_issues)
            staged.append(energy)
            staged.add_register_readings(raw.select(["meter_id", "ts", "value"]))
        report.rejected = list(parsed.rejected)
        if rows == 0 and not report.rejected:
            raise IngestError("the source holds no readings", source=parsed.source)

        existing = store.find_meters(parsed.meters)
        new = [_meter_for(h, defaults) for m, h in parsed.meters.items() if m not in existing]
        if new:
            staged.add_meters(
                new,
                orgs=[Organisation(defaults.org_id, name=defaults.org_id)],
                sites=[Site(defaults.site_id, defaults.org_id, timezone=defaults.timezone)],
            )
        report.meters_created = [m.meter_id for m in new]

        dupes = staged.conflicting_duplicates(limit=None)
        if dupes:
            if not skip_bad_rows:
                first = dupes[0]
                raise IngestError(
                    f"meter {first['meter_id']!r} has {len(first['lines'])} different values for "
                    f"the interval starting {first['ts'].isoformat()} (lines "
                    f"{', '.join(map(str, first['lines']))}: {first['values']} kWh); "
                    f"{len(dupes)} such interval(s) in all. Fix the file or pass --skip-bad-rows",
                    source=parsed.source,
                    line=int(first["lines"][1]),
                    field="energy_kwh",
                )
            drop = [ln for d in dupes for ln in d["lines"]]
            staged.drop_lines(drop)
            for d in dupes:
                for ln in d["lines"]:
                    report.rejected.append(
                        RejectedRow(
                            parsed.source,
                            int(ln),
                            "energy_kwh",
                            f"meter {d['meter_id']!r} has conflicting values {d['values']} for "
                            f"{d['ts'].isoformat()}; all were skipped",
                        )
                    )
        for d in dupes:
            parsed.issues.append(
                DataIssue(
                    code="conflicting_duplicate",
                    meter_id=d["meter_id"],
                    start=d["ts"],
                    end=d["ts"],
                    message=(
                        f"conflicting values {d['values']} kWh on lines {d['lines']} "
                        f"of {parsed.source}"
                    ),
                    data={"lines": list(d["lines"]), "values": list(d["values"])},
                )
            )
        result = staged.merge(
            source=parsed.source,
            sha256=sha256.result() if sha256 is not None else None,
            on_conflict=on_conflict,
            issues=parsed.issues,
            skipped_rows=len(report.rejected),
        )
    finally:
        staged.close()
    report.committed = True
    report.batch_id = result.batch_id
    report.rows_read = result.rows_in + len(report.rejected)
    report.inserted = result.inserted
    report.unchanged = result.unchanged
    report.corrected = result.corrected
    report.duplicates_in_batch = result.duplicates_in_batch
    report.corrections = result.conflicts
    report.issues = list(parsed.issues)
    report.seconds = time.perf_counter() - started
    return report
