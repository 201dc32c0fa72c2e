"""What every parser returns: readings in long format plus what the source said about meters.

Parsers (CSV, Green Button, Parquet, frames) are pure: they read a source and
return a :class:`ParsedSource`; they never touch the store. The ingest service
then normalises values to interval energy, validates, deduplicates and commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

import pyarrow as pa

from bitgoeul.model import DataIssue, Measurement, MeterKind

__all__ = [
    "MAX_READING",
    "RAW_SCHEMA",
    "READINGS_SCHEMA",
    "MeterHint",
    "ParsedSource",
    "RejectedRow",
]

MAX_READING: Final = 1e12
"""Largest magnitude a reading may have: 10^12 kWh for energy and registers, kW for power.

That is 1,000 TWh, 1.8 times what all of South Korea drew in 2021 (558 TWh, the sum of
the hourly national demand in ``../shared/data/kr_national_hourly_demand_weather``) and
10^4 times its peak hour (92,478 MWh). No meter reads more: a larger value is a wrong unit
or a corrupt cell, and stored it would turn every sum over it into infinity.
"""

READINGS_SCHEMA = pa.schema(
    [
        pa.field("meter_id", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("energy_kwh", pa.float64(), nullable=False),
    ]
)
"""Canonical readings: interval start in UTC and the energy in that interval [kWh]."""

RAW_SCHEMA = pa.schema(
    [
        pa.field("meter_id", pa.string()),
        pa.field("ts", pa.timestamp("us", tz="UTC")),
        pa.field("value", pa.float64()),
        pa.field("line", pa.int64()),
    ]
)
"""What parsers return: ``value`` in the unit and measurement of the meter's hint,
``ts`` the interval start (or, for registers and power samples, the reading instant),
``line`` the 1-based line (or record position) in the source, for error messages."""


@dataclass(slots=True)
class MeterHint:
    """What a source states about one of its meters.

    Fields left ``None`` fall back to the ingest options, then to the defaults
    of :class:`bitgoeul.model.Meter`.
    """

    meter_id: str
    measurement: Measurement = Measurement.INTERVAL_ENERGY
    unit: str = "kWh"
    interval_s: int | None = None
    timezone: str | None = None
    kind: MeterKind | None = None
    commodity: str = "electricity"
    name: str = ""


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A source row that could not be read, with where and why."""

    source: str
    line: int | None
    field: str | None
    message: str

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dictionary."""
        return {
            "source": self.source,
            "line": self.line,
            "field": self.field,
            "message": self.message,
        }


@dataclass(slots=True)
class ParsedSource:
    """The result of parsing one source.

    Parameters
    ----------
    source : str
        File name or description, used in messages.
    raw : pyarrow.Table or iterator of pyarrow.RecordBatch
        Rows in :data:`RAW_SCHEMA`. Streaming parsers give an iterator and fill
        ``meters``, ``issues`` and ``rejected`` as it is consumed.
    meters : dict of str to MeterHint
        One hint per meter id present in ``raw``.
    issues : list of DataIssue
        Non-fatal findings made while parsing (e.g. missing values).
    rejected : list of RejectedRow
        Rows skipped because they could not be read (only with ``skip_bad_rows``).
    """

    source: str
    raw: pa.Table | Iterator[pa.RecordBatch]
    meters: dict[str, MeterHint]
    issues: list[DataIssue] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)

    def iter_batches(self) -> Iterator[pa.RecordBatch]:
        """Yield the raw rows as record batches, whichever form ``raw`` has."""
        if isinstance(self.raw, pa.Table):
            yield from self.raw.to_batches()
        else:
            yield from self.raw
