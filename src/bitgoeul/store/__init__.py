"""Persistence: every SQL statement of Bitgoeul lives in this package.

:class:`MeterStore` is the small interface the services use; :class:`DuckDBStore`
implements it on an embedded DuckDB file (the zero-setup default). A server or
distributed backend implements the same protocol.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import pyarrow as pa

from bitgoeul.model import ApiKey, DataIssue, Meter, Organisation, Site

__all__ = [
    "DuckDBStore",
    "FileStageStats",
    "MergeResult",
    "MeterStore",
    "MeterSummary",
    "OnConflict",
    "RollupFreq",
    "StagedBatch",
    "open_store",
]

OnConflict = Literal["correct", "refuse"]
RollupFreq = Literal["15min", "30min", "hour", "day", "month"]


@dataclass(frozen=True, slots=True)
class MeterSummary:
    """A meter with what the store holds of it."""

    meter: Meter
    org_id: str
    reading_count: int
    first_ts: dt.datetime | None
    last_ts: dt.datetime | None
    total_energy_kwh: float


@dataclass(slots=True)
class MergeResult:
    """What committing one staged batch did.

    Attributes
    ----------
    batch_id : int
        Identifier of the batch in the store's ingest log.
    rows_in : int
        Rows staged [count].
    inserted : int
        New (meter, interval) readings written.
    unchanged : int
        Readings already stored with the same value (idempotent re-ingest).
    corrected : int
        Stored readings replaced by a different value (``on_conflict="correct"``).
    duplicates_in_batch : int
        Exact repeats inside the batch, collapsed to one reading.
    conflicts : list of dict
        Readings whose value differed from the stored one (meter_id, ts, old, new, line).

    """

    batch_id: int
    rows_in: int
    inserted: int
    unchanged: int
    corrected: int
    duplicates_in_batch: int
    conflicts: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FileStageStats:
    """What a store found when it staged a canonical file itself (the bulk path).

    Attributes
    ----------
    rows : int
        Rows staged [count].
    clean : bool
        No missing meter id, time or value, no non-finite value, every
        timestamp carries an offset and no line was rejected. When False the
        caller discards the stage and parses the file line by line instead, so
        that each problem is reported with its line and field.
    ordered : bool
        Each meter's timestamps strictly increase in file order, which rules
        out duplicates inside the file.
    interval_s : dict of str to int
        Each meter's most common step between consecutive readings [s].
    """

    rows: int
    clean: bool
    ordered: bool
    interval_s: dict[str, int]


class StagedBatch(Protocol):
    """A batch being prepared for one atomic commit; nothing is visible until merged."""

    def append(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Stage readings with columns meter_id, ts (UTC), energy_kwh, line."""

    def append_file(self, path: str, *, fmt: Literal["csv", "parquet"]) -> FileStageStats:
        """Stage a canonical file (meter_id, ts with offset, energy_kwh) in bulk.

        Only into an empty stage. If the stats come back not ``clean`` or not
        ``ordered`` the caller must close this stage and parse the file itself.
        """

    def row_count(self) -> int:
        """Rows staged so far."""

    def meter_ids(self) -> list[str]:
        """Distinct meter ids staged."""

    def conflicting_duplicates(self, limit: int | None = 20) -> list[dict[str, Any]]:
        """(meter, interval) pairs staged twice with different values, with their lines."""

    def add_meters(
        self,
        meters: Iterable[Meter],
        *,
        orgs: Iterable[Organisation] = (),
        sites: Iterable[Site] = (),
    ) -> None:
        """Declare meters (and their site and organisation) that the merge creates."""

    def add_register_readings(self, table: pa.Table) -> None:
        """Keep raw register values (meter_id, ts, value) to store with the batch."""

    def drop_lines(self, lines: Iterable[int]) -> None:
        """Remove staged rows by source line."""

    def stored_conflicts(self, limit: int | None = 20) -> list[dict[str, Any]]:
        """Staged readings whose stored value differs."""

    def merge(
        self,
        *,
        source: str,
        sha256: str | None,
        on_conflict: OnConflict,
        issues: list[DataIssue],
        skipped_rows: int,
    ) -> MergeResult:
        """Commit the staged readings and the issues in one transaction."""

    def close(self) -> None:
        """Discard what is staged."""


class MeterStore(Protocol):
    """The persistence interface the services depend on."""

    path: str

    def close(self) -> None:
        """Release the store."""

    def upsert_organisation(self, org: Organisation) -> None:
        """Create or update an organisation."""

    def get_organisation(self, org_id: str) -> Organisation:
        """Return an organisation or raise NotFoundError."""

    def list_sites(self, org_id: str | None = None) -> list[Site]:
        """Return the sites of one organisation (or of all), by id."""

    def get_site(self, site_id: str) -> Site:
        """Return a site or raise NotFoundError."""

    def add_api_key(self, key: ApiKey, secret_sha256: str) -> None:
        """Store a new API key record with the SHA-256 of its secret."""

    def find_api_key(self, key_id: str) -> tuple[ApiKey, str] | None:
        """Return a key record and its secret's SHA-256, or None."""

    def list_api_keys(self, org_id: str) -> list[ApiKey]:
        """Return every key of an organisation."""

    def revoke_api_key(self, org_id: str, key_id: str, at: dt.datetime) -> ApiKey:
        """Revoke a key of ``org_id``; raise NotFoundError if it is not one."""

    def upsert_site(self, site: Site) -> None:
        """Create or update a site (its organisation must exist)."""

    def upsert_meter(self, meter: Meter) -> None:
        """Create or update a meter (its site must exist)."""

    def get_meter(self, meter_id: str) -> Meter:
        """Return a meter or raise NotFoundError."""

    def find_meters(self, meter_ids: Iterable[str]) -> dict[str, Meter]:
        """Return the meters among ``meter_ids`` that exist."""

    def meter_zones(self) -> dict[str, str]:
        """Every meter's time zone, by meter id."""

    def list_meters(self, meter_ids: Iterable[str] | None = None) -> list[MeterSummary]:
        """Every meter with its reading count, time span and total energy."""

    def stage(self) -> StagedBatch:
        """Start staging a batch of readings for one atomic commit."""

    def read_readings(
        self,
        meter_id: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """Return the readings of a meter in ``[start, end)`` ordered by time."""

    def iter_readings(
        self, meter_ids: list[str], batch_rows: int = ...
    ) -> Iterator[pa.RecordBatch]:
        """Stream readings of several meters as Arrow record batches."""

    def rollup(
        self,
        meter_id: str,
        freq: RollupFreq,
        *,
        timezone: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> pa.Table:
        """Energy per local period.

        Columns period_start (local wall time, naive), energy_kwh, readings and
        utc_offset_s (the period's UTC offset [s] where its wall time can repeat, as
        sub-daily periods do when clocks fall back; else null).
        """

    def rollup_all(self, freq: RollupFreq, *, timezone: str) -> pa.Table:
        """Energy per meter and local period for every meter."""

    def sum_energy(
        self, meter_id: str, ranges: list[tuple[dt.datetime, dt.datetime]]
    ) -> list[tuple[float, int]]:
        """Total energy and reading count in each ``[start, end)`` range."""

    def list_data_issues(self, meter_id: str) -> list[DataIssue]:
        """Return the stored data-quality findings of a meter."""

    def last_register_before(
        self, meter_id: str, ts: dt.datetime
    ) -> tuple[dt.datetime, float] | None:
        """Return the latest stored cumulative register value strictly before ``ts``."""


def open_store(path: str | None = None, *, read_only: bool = False) -> DuckDBStore:
    """Open (creating and migrating if needed) the embedded store.

    Parameters
    ----------
    path : str, optional
        DuckDB file. Default: ``$BITGOEUL_STORE`` or ``bitgoeul.duckdb`` in the
        per-user data directory.
    read_only : bool
        Open without write access (several readers may share a file).

    """
    return DuckDBStore(path, read_only=read_only)


from bitgoeul.store.duckdb import DuckDBStore  # noqa: E402  (re-export after the protocol)
