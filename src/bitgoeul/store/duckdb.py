"""The embedded DuckDB store: one file, zero set-up.

Layout (schema version 1)::

    organisation(org_id PK, name, created_at)
    site(site_id PK, org_id, name, timezone, created_at)
    meter(meter_key PK, meter_id UNIQUE, site_id, timezone, kind, measurement, unit,
          interval_s, contract_class, voltage, contract_kw, reading_day, name, created_at)
    reading(meter_key, ts, energy_kwh, batch_id)          -- one row per meter and interval
    register_reading(meter_key, ts, value, batch_id)      -- raw cumulative register values
    ingest_batch(batch_id PK, source, sha256, received_at, rows_in, inserted, unchanged,
                 corrected, duplicates_in_batch, skipped_rows)
    correction(meter_key, ts, old_energy_kwh, new_energy_kwh, batch_id)
    data_issue(meter_key, code, start_ts, end_ts, message, data, batch_id)

Schema version 2 adds API keys (only a hash of each secret is kept)::

    api_key(key_id PK, org_id, name, secret_sha256, scopes, site_ids, share,
            created_at, expires_at, revoked_at)

``reading`` has no index: uniqueness of (meter, interval) is enforced by the
merge, which compares each batch with what is stored before anything is written.
Rows are written sorted by (meter_key, ts) so DuckDB's zone maps prune by meter
and time. All timestamps are stored as TIMESTAMPTZ (UTC instants).

Atomicity: a batch is first staged in a TEMP table (DuckDB keeps temp data out
of the database file) and validated there; only a clean batch opens a write
transaction, so a refused file leaves the database file byte-for-byte as it was,
and DuckDB's write-ahead log makes a commit all-or-nothing across a crash.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
from platformdirs import user_data_dir

from bitgoeul.errors import ConflictError, NotFoundError, SchemaVersionError, StoreError
from bitgoeul.ingest.source import MAX_READING
from bitgoeul.model import ApiKey, DataIssue, Meter, Organisation, Site

if TYPE_CHECKING:
    from bitgoeul.store import (
        FileStageStats,
        MergeResult,
        MeterSummary,
        OnConflict,
        RollupFreq,
    )

__all__ = ["DuckDBStore", "default_store_path"]

SCHEMA_VERSION = 2

_MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE organisation (
            org_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL DEFAULT '',
            created_at TIMESTAMPTZ NOT NULL DEFAULT now())""",
        """CREATE TABLE site (
            site_id VARCHAR PRIMARY KEY, org_id VARCHAR NOT NULL, name VARCHAR NOT NULL DEFAULT '',
            timezone VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())""",
        """CREATE TABLE meter (
            meter_key INTEGER PRIMARY KEY,
            meter_id VARCHAR NOT NULL UNIQUE, site_id VARCHAR NOT NULL,
            timezone VARCHAR NOT NULL, kind VARCHAR NOT NULL, measurement VARCHAR NOT NULL,
            unit VARCHAR NOT NULL, interval_s INTEGER, contract_class VARCHAR, voltage VARCHAR,
            contract_kw DOUBLE, reading_day TINYINT NOT NULL, name VARCHAR NOT NULL DEFAULT '',
            created_at TIMESTAMPTZ NOT NULL DEFAULT now())""",
        """CREATE TABLE reading (
            meter_key INTEGER NOT NULL, ts TIMESTAMPTZ NOT NULL, energy_kwh DOUBLE NOT NULL,
            batch_id INTEGER NOT NULL)""",
        """CREATE TABLE register_reading (
            meter_key INTEGER NOT NULL, ts TIMESTAMPTZ NOT NULL, value DOUBLE NOT NULL,
            batch_id INTEGER NOT NULL)""",
        "CREATE SEQUENCE batch_id_seq START 1",
        """CREATE TABLE ingest_batch (
            batch_id INTEGER PRIMARY KEY, source VARCHAR NOT NULL, sha256 VARCHAR,
            received_at TIMESTAMPTZ NOT NULL DEFAULT now(), rows_in BIGINT NOT NULL,
            inserted BIGINT NOT NULL, unchanged BIGINT NOT NULL, corrected BIGINT NOT NULL,
            duplicates_in_batch BIGINT NOT NULL, skipped_rows BIGINT NOT NULL)""",
        """CREATE TABLE correction (
            meter_key INTEGER NOT NULL, ts TIMESTAMPTZ NOT NULL, old_energy_kwh DOUBLE NOT NULL,
            new_energy_kwh DOUBLE NOT NULL, batch_id INTEGER NOT NULL)""",
        """CREATE TABLE data_issue (
            meter_key INTEGER NOT NULL, code VARCHAR NOT NULL, start_ts TIMESTAMPTZ NOT NULL,
            end_ts TIMESTAMPTZ NOT NULL, message VARCHAR NOT NULL, data VARCHAR NOT NULL,
            batch_id INTEGER)""",
        "CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL)",
    ],
    2: [
        """CREATE TABLE api_key (
            key_id VARCHAR PRIMARY KEY, org_id VARCHAR NOT NULL, name VARCHAR NOT NULL DEFAULT '',
            secret_sha256 VARCHAR NOT NULL, scopes VARCHAR[] NOT NULL, site_ids VARCHAR[],
            share BOOLEAN NOT NULL DEFAULT false,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now(), expires_at TIMESTAMPTZ,
            revoked_at TIMESTAMPTZ)""",
    ],
}

_BUCKET = {
    "15min": "time_bucket(INTERVAL 15 MINUTE, ts AT TIME ZONE $tz)",
    "30min": "time_bucket(INTERVAL 30 MINUTE, ts AT TIME ZONE $tz)",
    "hour": "date_trunc('hour', ts AT TIME ZONE $tz)",
    "day": "date_trunc('day', ts AT TIME ZONE $tz)",
    "month": "date_trunc('month', ts AT TIME ZONE $tz)",
}

INGEST_MEMORY_LIMIT = "1GB"
"""DuckDB memory cap while a file is bulk-loaded, unless the store was given its own.

Measured (docs/benchmarks.md): 10 M rows load as fast under it, and 40 M rows peak
at 1.2 GiB instead of 1.45 GiB."""

CHECK_BATCH_ROWS = 1 << 20
"""Rows per chunk when the bulk loader checks a file's order; memory stays flat in file size."""

_BUCKET_US = {
    "15min": 900_000_000,
    "30min": 1_800_000_000,
    "hour": 3_600_000_000,
    "day": 86_400_000_000,
}


def _fixed_offset_us(timezone: str, lo: dt.datetime | None, hi: dt.datetime | None) -> int | None:
    """Return the zone's UTC offset [us] if it is constant from ``lo`` to ``hi``, else None.

    Offsets are sampled daily: any daylight-saving period lasts far longer than
    a day, so a zone with one in the span shows two offsets.
    """
    if lo is None or hi is None:
        return None
    zone = ZoneInfo(timezone)
    days = (hi - lo).days + 2
    if days > 40_000:
        return None
    offsets = {(lo + dt.timedelta(days=i)).astimezone(zone).utcoffset() for i in range(days)} | {
        hi.astimezone(zone).utcoffset()
    }
    if len(offsets) != 1:
        return None
    offset = offsets.pop()
    return None if offset is None else offset // dt.timedelta(microseconds=1)


def _bucket_sql(freq: RollupFreq, offset_us: int | None) -> str:
    """Return SQL for a reading's local period start, in integers for a fixed-offset zone.

    Grouping on ``epoch_us(ts) + offset`` avoids converting every reading through
    ICU time zones, which took most of a daily rollup's time (docs/benchmarks.md).
    """
    if offset_us is None:
        return _BUCKET[freq]
    local = f"(epoch_us(ts) + {int(offset_us)})"
    if freq == "month":
        return f"date_trunc('month', make_timestamp({local}))"
    step = _BUCKET_US[freq]
    return f"make_timestamp(({local} // {step}) * {step})"


_METER_COLUMNS = (
    "meter_id, site_id, timezone, kind, measurement, unit, interval_s, contract_class, "
    "voltage, contract_kw, reading_day, name"
)


def default_store_path() -> str:
    """Return ``$BITGOEUL_STORE`` or ``<user data dir>/bitgoeul/bitgoeul.duckdb``."""
    env = os.environ.get("BITGOEUL_STORE")
    if env:
        return env
    return str(Path(user_data_dir("bitgoeul", appauthor=False)) / "bitgoeul.duckdb")


def _meter_from_row(row: tuple[Any, ...]) -> Meter:
    return Meter(
        meter_id=row[0],
        site_id=row[1],
        timezone=row[2],
        kind=row[3],
        measurement=row[4],
        unit=row[5],
        interval_s=row[6],
        contract_class=row[7],
        voltage=row[8],
        contract_kw=row[9],
        reading_day=int(row[10]),
        name=row[11],
    )


def _meters_table(meters: list[Meter], keys: dict[str, int]) -> pa.Table:
    """Return new meters as an Arrow table in the column order of the meter table."""
    return pa.table(
        {
            "meter_key": pa.array([int(keys[m.meter_id]) for m in meters], pa.int32()),
            "meter_id": [m.meter_id for m in meters],
            "site_id": [m.site_id for m in meters],
            "timezone": [m.timezone for m in meters],
            "kind": [str(m.kind) for m in meters],
            "measurement": [str(m.measurement) for m in meters],
            "unit": [m.unit for m in meters],
            "interval_s": pa.array([m.interval_s for m in meters], pa.int32()),
            "contract_class": pa.array([m.contract_class for m in meters], pa.string()),
            "voltage": pa.array([m.voltage for m in meters], pa.string()),
            "contract_kw": pa.array([m.contract_kw for m in meters], pa.float64()),
            "reading_day": pa.array([m.reading_day for m in meters], pa.int8()),
            "name": [m.name for m in meters],
        }
    )


_KEY_COLUMNS = "key_id, org_id, name, scopes, site_ids, share, created_at, expires_at, revoked_at"


def _key_from_row(row: tuple[Any, ...]) -> ApiKey:
    return ApiKey(
        key_id=row[0],
        org_id=row[1],
        name=row[2],
        scopes=tuple(row[3]),
        site_ids=tuple(row[4]) if row[4] is not None else None,
        share=bool(row[5]),
        created_at=row[6].astimezone(dt.UTC),
        expires_at=row[7].astimezone(dt.UTC) if row[7] is not None else None,
        revoked_at=row[8].astimezone(dt.UTC) if row[8] is not None else None,
    )


def _one(cursor: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """Return a query's first row, consuming the result (DuckDB 2 keeps partial results open)."""
    rows = cursor.fetchall()
    return rows[0] if rows else None


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"time {value.isoformat()} has no time zone: pass an aware datetime")
    return value.astimezone(dt.UTC)


class DuckDBStore:
    """A :class:`bitgoeul.store.MeterStore` on one DuckDB file.

    Parameters
    ----------
    path : str, optional
        Database file; default from :func:`default_store_path`. ``":memory:"``
        gives a throw-away store.
    read_only : bool
        Open without write access.
    memory_limit : str, optional
        DuckDB memory cap, e.g. ``"1GB"``; default ``$BITGOEUL_MEMORY_LIMIT`` or
        DuckDB's own (80% of RAM), except while a file is bulk-loaded, which is
        capped at :data:`INGEST_MEMORY_LIMIT` so memory stays flat as files
        grow. Larger work spills to a temp directory.

    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else default_store_path()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {}
        limit = memory_limit or os.environ.get("BITGOEUL_MEMORY_LIMIT")
        if limit:
            config["memory_limit"] = limit
        self.memory_limit_set = bool(limit)
        if self.path != ":memory:" and not read_only:
            config["temp_directory"] = self.path + ".tmp"
        try:
            self._con = duckdb.connect(self.path, read_only=read_only, config=config)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from exc
        # Results come back as UTC instants; presentation converts to the meter's zone.
        self._con.execute("SET TimeZone = 'UTC'")
        self._stage_ids = itertools.count(1)
        self._migrate(read_only=read_only)

    # -- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (checkpointing committed data into the file)."""
        self._con.close()

    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _migrate(self, *, read_only: bool) -> None:
        tables = {
            r[0] for r in self._con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        current = 0
        if "schema_version" in tables:
            row = _one(self._con.execute("SELECT max(version) FROM schema_version"))
            current = int(row[0]) if row and row[0] is not None else 0
        if current > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"store {self.path} has schema version {current}, newer than this Bitgoeul "
                f"understands ({SCHEMA_VERSION}): upgrade bitgoeul"
            )
        if current == SCHEMA_VERSION:
            return
        if read_only:
            raise StoreError(f"store {self.path} needs migrating; open it once for writing")
        self._con.execute("BEGIN TRANSACTION")
        try:
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[version]:
                    self._con.execute(statement)
                self._con.execute("INSERT INTO schema_version VALUES ($1, now())", [version])
            self._con.execute("COMMIT")
        except duckdb.Error as exc:
            self._con.execute("ROLLBACK")
            raise StoreError(f"cannot migrate store {self.path}: {exc}") from exc

    def schema_version(self) -> int:
        """Return the schema version of the open store."""
        row = _one(self._con.execute("SELECT max(version) FROM schema_version"))
        return int(row[0]) if row else 0

    # -- organisations, sites, meters ---------------------------------------------------
    def upsert_organisation(self, org: Organisation) -> None:
        """Create or update an organisation."""
        self._con.execute(
            "INSERT INTO organisation (org_id, name) VALUES ($1, $2) "
            "ON CONFLICT (org_id) DO UPDATE SET name = excluded.name",
            [org.org_id, org.name],
        )

    def upsert_site(self, site: Site) -> None:
        """Create or update a site; its organisation must exist."""
        if not self._con.execute(
            "SELECT 1 FROM organisation WHERE org_id = $1", [site.org_id]
        ).fetchall():
            raise NotFoundError(f"organisation {site.org_id!r} does not exist")
        self._con.execute(
            "INSERT INTO site (site_id, org_id, name, timezone) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (site_id) DO UPDATE SET org_id = excluded.org_id, "
            "name = excluded.name, timezone = excluded.timezone",
            [site.site_id, site.org_id, site.name, site.timezone],
        )

    def get_organisation(self, org_id: str) -> Organisation:
        """Return an organisation or raise NotFoundError."""
        row = _one(
            self._con.execute("SELECT org_id, name FROM organisation WHERE org_id = $1", [org_id])
        )
        if row is None:
            raise NotFoundError(f"organisation {org_id!r} does not exist")
        return Organisation(org_id=row[0], name=row[1])

    def list_organisations(self) -> list[Organisation]:
        """Every organisation, by id."""
        rows = self._con.execute("SELECT org_id, name FROM organisation ORDER BY org_id")
        return [Organisation(org_id=r[0], name=r[1]) for r in rows.fetchall()]

    def list_sites(self, org_id: str | None = None) -> list[Site]:
        """Return the sites of one organisation (or of all), by id."""
        rows = self._con.execute(
            "SELECT site_id, org_id, name, timezone FROM site "
            "WHERE $1::VARCHAR IS NULL OR org_id = $1 ORDER BY site_id",
            [org_id],
        ).fetchall()
        return [Site(site_id=r[0], org_id=r[1], name=r[2], timezone=r[3]) for r in rows]

    # -- API keys ----------------------------------------------------------------------
    def add_api_key(self, key: ApiKey, secret_sha256: str) -> None:
        """Store a new API key record with the SHA-256 of its secret (never the secret)."""
        self.get_organisation(key.org_id)
        self._con.execute(
            "INSERT INTO api_key (key_id, org_id, name, secret_sha256, scopes, site_ids, share, "
            "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            [
                key.key_id,
                key.org_id,
                key.name,
                secret_sha256,
                list(key.scopes),
                list(key.site_ids) if key.site_ids is not None else None,
                key.share,
                _utc(key.created_at),
                _utc(key.expires_at) if key.expires_at else None,
            ],
        )

    def find_api_key(self, key_id: str) -> tuple[ApiKey, str] | None:
        """Return a key record and its secret's SHA-256, or None if there is no such key."""
        row = _one(
            self._con.execute(
                f"SELECT {_KEY_COLUMNS}, secret_sha256 FROM api_key WHERE key_id = $1", [key_id]
            )
        )
        return (_key_from_row(row), str(row[-1])) if row else None

    def list_api_keys(self, org_id: str) -> list[ApiKey]:
        """Every key of an organisation, revoked and expired ones included, oldest first."""
        rows = self._con.execute(
            f"SELECT {_KEY_COLUMNS} FROM api_key WHERE org_id = $1 ORDER BY created_at, key_id",
            [org_id],
        ).fetchall()
        return [_key_from_row(r) for r in rows]

    def revoke_api_key(self, org_id: str, key_id: str, at: dt.datetime) -> ApiKey:
        """Mark a key of ``org_id`` revoked from ``at`` on; raise NotFoundError if it is not one."""
        found = self.find_api_key(key_id)
        if found is None or found[0].org_id != org_id:
            raise NotFoundError(f"API key {key_id!r} does not exist")
        key = found[0]
        if key.revoked_at is not None:
            return key
        self._con.execute(
            "UPDATE api_key SET revoked_at = $2 WHERE key_id = $1", [key_id, _utc(at)]
        )
        return replace(key, revoked_at=_utc(at))

    def get_site(self, site_id: str) -> Site:
        """Return a site or raise NotFoundError."""
        row = _one(
            self._con.execute(
                "SELECT site_id, org_id, name, timezone FROM site WHERE site_id = $1", [site_id]
            )
        )
        if row is None:
            raise NotFoundError(f"site {site_id!r} does not exist")
        return Site(site_id=row[0], org_id=row[1], name=row[2], timezone=row[3])

    def upsert_meter(self, meter: Meter) -> None:
        """Create or update a meter; its site must exist."""
        self.get_site(meter.site_id)
        self._write_meter(meter)

    def _write_meter(self, meter: Meter, key: int | None = None) -> None:
        values = [
            meter.meter_id,
            meter.site_id,
            meter.timezone,
            str(meter.kind),
            str(meter.measurement),
            meter.unit,
            meter.interval_s,
            meter.contract_class,
            meter.voltage,
            meter.contract_kw,
            meter.reading_day,
            meter.name,
        ]
        updates = ", ".join(f"{c} = excluded.{c}" for c in _METER_COLUMNS.split(", ")[1:])
        key_sql = (
            "$13" if key is not None else "(SELECT coalesce(max(meter_key), 0) + 1 FROM meter)"
        )
        self._con.execute(
            f"INSERT INTO meter (meter_key, {_METER_COLUMNS}) VALUES ({key_sql}, "
            f"{', '.join(f'${i}' for i in range(1, 13))}) "
            f"ON CONFLICT (meter_id) DO UPDATE SET {updates}",
            [*values, key] if key is not None else values,
        )

    def get_meter(self, meter_id: str) -> Meter:
        """Return a meter or raise NotFoundError."""
        row = _one(
            self._con.execute(f"SELECT {_METER_COLUMNS} FROM meter WHERE meter_id = $1", [meter_id])
        )
        if row is None:
            raise NotFoundError(
                f"meter {meter_id!r} does not exist; `bitgoeul meters` lists the stored ones"
            )
        return _meter_from_row(row)

    def find_meters(self, meter_ids: Iterable[str]) -> dict[str, Meter]:
        """Return those of ``meter_ids`` that exist, by id."""
        ids = list(meter_ids)
        if not ids:
            return {}
        rows = self._con.execute(
            f"SELECT {_METER_COLUMNS} FROM meter WHERE list_contains($1, meter_id)", [ids]
        ).fetchall()
        return {r[0]: _meter_from_row(r) for r in rows}

    def meter_zones(self) -> dict[str, str]:
        """Every meter's time zone, by meter id."""
        return dict(self._con.execute("SELECT meter_id, timezone FROM meter").fetchall())

    def list_meters(self, meter_ids: Iterable[str] | None = None) -> list[MeterSummary]:
        """Every meter (or those of ``meter_ids``) with its reading count, span and energy."""
        from bitgoeul.store import MeterSummary

        ids = list(meter_ids) if meter_ids is not None else None
        keys = (
            "(SELECT meter_key FROM meter WHERE list_contains($ids, meter_id))"
            if ids is not None
            else None
        )
        where = f"WHERE meter_key IN {keys}" if keys else ""
        rows = self._con.execute(
            f"""SELECT {", ".join("m." + c for c in _METER_COLUMNS.split(", "))}, s.org_id,
                       coalesce(r.n, 0), r.first_ts, r.last_ts, coalesce(r.total, 0.0)
                FROM meter m JOIN site s USING (site_id)
                LEFT JOIN (SELECT meter_key, count(*) n, min(ts) first_ts, max(ts) last_ts,
                                  sum(energy_kwh) total
                           FROM reading {where} GROUP BY meter_key) r USING (meter_key)
                {"WHERE list_contains($ids, m.meter_id)" if ids is not None else ""}
                ORDER BY m.meter_id""",
            {"ids": ids} if ids is not None else None,
        ).fetchall()
        return [
            MeterSummary(
                meter=_meter_from_row(r[:12]),
                org_id=r[12],
                reading_count=int(r[13]),
                first_ts=r[14],
                last_ts=r[15],
                total_energy_kwh=float(r[16]),
            )
            for r in rows
        ]

    # -- ingestion ---------------------------------------------------------------------
    def stage(self) -> DuckDBStaged:
        """Start staging a batch for one atomic commit."""
        return DuckDBStaged(self, next(self._stage_ids))

    def last_register_before(
        self, meter_id: str, ts: dt.datetime
    ) -> tuple[dt.datetime, float] | None:
        """Return the latest raw register value of a meter strictly before ``ts``."""
        row = _one(
            self._con.execute(
                "SELECT r.ts, r.value FROM register_reading r JOIN meter m USING (meter_key) "
                "WHERE m.meter_id = $1 AND r.ts < $2 ORDER BY r.ts DESC LIMIT 1",
                [meter_id, _utc(ts)],
            )
        )
        return (row[0], float(row[1])) if row else None

    # -- queries ----------------------------------------------------------------------
    def _meter_key(self, meter_id: str) -> int:
        row = _one(self._con.execute("SELECT meter_key FROM meter WHERE meter_id = $1", [meter_id]))
        if row is None:
            raise NotFoundError(
                f"meter {meter_id!r} does not exist; `bitgoeul meters` lists the stored ones"
            )
        return int(row[0])

    def read_readings(
        self,
        meter_id: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """Return the readings of a meter in ``[start, end)``, ordered by time.

        ``limit`` keeps only the first rows (a page): DuckDB stops early (top-N).

        Returns
        -------
        pyarrow.Table
            Columns ``ts`` (UTC) and ``energy_kwh`` [kWh].

        """
        key = self._meter_key(meter_id)
        return self._con.sql(
            "SELECT ts, energy_kwh FROM reading WHERE meter_key = $k "
            "AND ($start IS NULL OR ts >= $start) AND ($end IS NULL OR ts < $end) ORDER BY ts"
            + (" LIMIT $limit" if limit is not None else ""),
            params={
                "k": key,
                "start": _utc(start) if start else None,
                "end": _utc(end) if end else None,
            }
            | ({"limit": int(limit)} if limit is not None else {}),
        ).to_arrow_table()

    def iter_readings(
        self, meter_ids: list[str], batch_rows: int = 1_000_000
    ) -> Iterator[pa.RecordBatch]:
        """Stream readings (meter_id, ts, energy_kwh) of several meters ordered by meter, time."""
        reader = self._con.sql(
            "SELECT m.meter_id, r.ts, r.energy_kwh FROM reading r JOIN meter m USING (meter_key) "
            "WHERE list_contains($ids, m.meter_id) ORDER BY m.meter_id, r.ts",
            params={"ids": meter_ids},
        ).to_arrow_reader(batch_rows)
        yield from reader

    def rollup(
        self,
        meter_id: str,
        freq: RollupFreq,
        *,
        timezone: str,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> pa.Table:
        """Energy per local calendar period of one meter.

        Parameters
        ----------
        meter_id : str
            Meter.
        freq : {'15min', '30min', 'hour', 'day', 'month'}
            Period length, aligned to local time in ``timezone``.
        timezone : str
            IANA zone the periods are aligned to.
        start, end : datetime, optional
            Aware bounds on the readings' interval starts, ``[start, end)``.

        Returns
        -------
        pyarrow.Table
            ``period_start`` (local wall time, naive), ``energy_kwh`` [kWh],
            ``readings`` [count] and ``utc_offset_s`` [s], ordered by period.
            ``utc_offset_s`` is the period's offset from UTC where a wall time can
            repeat (sub-daily periods in a span with a clock change): where clocks
            fall back, the repeated hour is two periods with one ``period_start``
            and two offsets. It is null otherwise: days, months, and spans with
            one offset.

        """
        key = self._meter_key(meter_id)
        span = _one(
            self._con.execute(
                "SELECT min(ts), max(ts) FROM reading WHERE meter_key = $1 "
                "AND ($2::TIMESTAMPTZ IS NULL OR ts >= $2) "
                "AND ($3::TIMESTAMPTZ IS NULL OR ts < $3)",
                [key, _utc(start) if start else None, _utc(end) if end else None],
            )
        )
        fixed = _fixed_offset_us(timezone, *(span or (None, None)))
        bucket = _bucket_sql(freq, fixed)
        if freq in ("day", "month") or fixed is not None:
            offset = "NULL::INTEGER"  # no wall time repeats
        else:  # a wall-clock hour repeats where clocks fall back: the offset tells them apart
            offset = "((epoch_us(ts AT TIME ZONE $tz) - epoch_us(ts)) // 1000000)::INTEGER"
        return self._con.sql(
            f"""SELECT * FROM (
                    SELECT {bucket} AS period_start, sum(energy_kwh) AS energy_kwh,
                           count(*) AS readings, {offset} AS utc_offset_s
                    FROM reading WHERE meter_key = $k
                      AND ($start IS NULL OR ts >= $start) AND ($end IS NULL OR ts < $end)
                    GROUP BY ALL)
                ORDER BY period_start - to_seconds(coalesce(utc_offset_s, 0))""",
            params={
                "k": key,
                "start": _utc(start) if start else None,
                "end": _utc(end) if end else None,
            }
            | ({"tz": timezone} if "$tz" in bucket + offset else {}),
        ).to_arrow_table()

    def rollup_all(self, freq: RollupFreq, *, timezone: str) -> pa.Table:
        """Energy per meter and local period for every meter (fleet rollup).

        Returns
        -------
        pyarrow.Table
            ``meter_id``, ``period_start`` (local wall time), ``energy_kwh`` [kWh].

        """
        span = _one(self._con.execute("SELECT min(ts), max(ts) FROM reading"))
        bucket = _bucket_sql(freq, _fixed_offset_us(timezone, *(span or (None, None))))
        return self._con.sql(
            f"""SELECT m.meter_id, r.period_start, r.energy_kwh FROM (
                    SELECT meter_key, {bucket} AS period_start, sum(energy_kwh) AS energy_kwh
                    FROM reading GROUP BY ALL) r JOIN meter m USING (meter_key)""",
            params={"tz": timezone} if "$tz" in bucket else None,
        ).to_arrow_table()

    def sum_energy(
        self, meter_id: str, ranges: list[tuple[dt.datetime, dt.datetime]]
    ) -> list[tuple[float, int]]:
        """Total energy [kWh] and reading count of a meter in each ``[start, end)`` range."""
        if not ranges:
            return []
        key = self._meter_key(meter_id)
        spans = pa.table(
            {
                "i": pa.array(range(len(ranges)), pa.int32()),
                "lo": pa.array([_utc(a) for a, _ in ranges], pa.timestamp("us", tz="UTC")),
                "hi": pa.array([_utc(b) for _, b in ranges], pa.timestamp("us", tz="UTC")),
            }
        )
        self._con.register("_spans", spans)
        try:
            rows = self._con.execute(
                """SELECT s.i, coalesce(sum(r.energy_kwh), 0.0), count(r.ts)
                   FROM _spans s LEFT JOIN reading r
                     ON r.meter_key = $1 AND r.ts >= s.lo AND r.ts < s.hi
                   GROUP BY s.i ORDER BY s.i""",
                [key],
            ).fetchall()
        finally:
            self._con.unregister("_spans")
        return [(float(r[1]), int(r[2])) for r in rows]

    def list_data_issues(self, meter_id: str) -> list[DataIssue]:
        """Data-quality findings stored at ingest time for a meter."""
        key = self._meter_key(meter_id)
        rows = self._con.execute(
            "SELECT code, start_ts, end_ts, message, data FROM data_issue WHERE meter_key = $1 "
            "ORDER BY start_ts, code",
            [key],
        ).fetchall()
        return [
            DataIssue(
                code=r[0],
                meter_id=meter_id,
                start=r[1].astimezone(dt.UTC),
                end=r[2].astimezone(dt.UTC),
                message=r[3],
                data=json.loads(r[4]),
            )
            for r in rows
        ]

    def list_batches(self, limit: int = 50) -> list[dict[str, Any]]:
        """Return the most recent ingest batches, newest first."""
        cur = self._con.execute(
            "SELECT * FROM ingest_batch ORDER BY batch_id DESC LIMIT $1", [limit]
        )
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def list_corrections(self, meter_id: str) -> list[dict[str, Any]]:
        """Return the readings of a meter replaced by later batches, oldest first."""
        key = self._meter_key(meter_id)
        cur = self._con.execute(
            "SELECT ts, old_energy_kwh, new_energy_kwh, batch_id FROM correction "
            "WHERE meter_key = $1 ORDER BY batch_id, ts",
            [key],
        )
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def storage_bytes(self) -> int:
        """Size of the database file on disk [bytes], after a checkpoint."""
        self._con.execute("CHECKPOINT")
        return os.path.getsize(self.path) if self.path != ":memory:" else 0

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The underlying DuckDB connection, for benchmarks and advanced use."""
        return self._con


class DuckDBStaged:
    """A batch staged in DuckDB TEMP tables; see :class:`bitgoeul.store.StagedBatch`.

    Nothing here writes to the database file until :meth:`merge`, which also
    creates the organisations, sites and meters the batch introduces, so a
    refused batch leaves the file untouched.
    """

    def __init__(self, store: DuckDBStore, n: int) -> None:
        self._store = store
        self._con = store._con
        self._name = f"stage_{n}"
        self._agg = f"stage_agg_{n}"
        self._keys = f"stage_keys_{n}"
        self._registers: list[pa.Table] = []
        self._new_orgs: list[Organisation] = []
        self._new_sites: list[Site] = []
        self._new_meters: dict[str, Meter] = {}
        self._con.execute(
            f"CREATE TEMP TABLE {self._name} (meter_id VARCHAR, ts TIMESTAMPTZ, "
            "energy_kwh DOUBLE, line BIGINT)"
        )
        self._has_agg = False
        self._bulk: FileStageStats | None = None  # set by append_file
        self._bulk_contiguous = False
        self._bulk_ids: set[str] | None = None
        self._bulk_views = False  # the stage is a view (over a file or a TEMP table)
        self._restore_limit: str | None = None  # memory_limit to put back on close

    def append(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Stage rows with columns meter_id, ts, energy_kwh, line."""
        if self._bulk is not None:
            raise StoreError("this stage holds a bulk-loaded file; start a new stage")
        self._has_agg = False
        self._con.register("_incoming", batch)
        try:
            self._con.execute(
                f"INSERT INTO {self._name} SELECT meter_id, ts, energy_kwh, line FROM _incoming"
            )
        finally:
            self._con.unregister("_incoming")

    def append_file(self, path: str, *, fmt: Literal["csv", "parquet"]) -> FileStageStats:
        """Stage a canonical CSV or Parquet file with DuckDB's own reader.

        The bulk path. DuckDB parses a CSV in parallel into a TEMP table (a
        Parquet file is not copied: the stage is a view over it), then checks
        it: missing, non-finite or implausible values (beyond
        :data:`~bitgoeul.ingest.source.MAX_READING`) and timestamps without an offset in
        one aggregate; time going backwards within a meter with numpy over
        the timestamps in file order when each meter's rows are contiguous
        (the usual export), else with one windowed query. Rows staged this way
        have no line number; a caller that needs to name a line parses the
        file itself.
        """
        from bitgoeul.store import FileStageStats

        if self.row_count():
            raise StoreError("append_file needs an empty stage: it replaces the staging table")
        con = self._con
        if not self._store.memory_limit_set:
            row = _one(con.execute("SELECT current_setting('memory_limit')"))
            self._restore_limit = str(row[0]) if row else None
            con.execute(f"SET memory_limit = '{INGEST_MEMORY_LIMIT}'")
        con.execute(f"DROP TABLE {self._name}")
        table = f"{self._name}_file"
        try:
            if fmt == "csv":
                # An offset is a '+', a 'Z' or a '-' after the time's ':'; cheaper than slicing.
                con.execute(
                    f"""CREATE TEMP TABLE {table} AS
                        SELECT meter_id, TRY_CAST(ts AS TIMESTAMPTZ) AS ts, energy_kwh,
                               contains(ts, '+') OR ends_with(ts, 'Z') OR ts LIKE '%:%-%' AS ok
                        FROM read_csv($path, header = true, auto_detect = false, delim = ',',
                                      quote = '"', escape = '"',
                                      columns = {{'meter_id': 'VARCHAR', 'ts': 'VARCHAR',
                                                 'energy_kwh': 'DOUBLE'}})""",
                    {"path": path},
                )
                con.execute(
                    f"CREATE TEMP VIEW {self._name} AS SELECT meter_id, ts, energy_kwh, "
                    f"NULL::BIGINT AS line, ok, rowid AS r FROM {table}"
                )
            else:
                quoted = "'" + path.replace("'", "''") + "'"  # a view cannot take parameters
                con.execute(
                    f"""CREATE TEMP VIEW {self._name} AS
                        SELECT meter_id::VARCHAR AS meter_id, ts::TIMESTAMPTZ AS ts,
                               energy_kwh::DOUBLE AS energy_kwh, NULL::BIGINT AS line,
                               true AS ok, file_row_number AS r
                        FROM read_parquet({quoted}, file_row_number = true)"""
                )
            self._bulk_views = True
            rows = con.execute(
                f"""SELECT meter_id, count(*),
                           count(*) FILTER (WHERE meter_id IS NULL OR ts IS NULL OR NOT ok
                                            OR energy_kwh IS NULL OR NOT isfinite(energy_kwh)
                                            OR abs(energy_kwh) > $max_reading),
                           min(r), max(r)
                    FROM {self._name} GROUP BY meter_id ORDER BY min(r)""",
                {"max_reading": MAX_READING},
            ).fetchall()
        except duckdb.Error:
            # Unreadable as canonical (ragged rows, wrong types): let the caller parse it.
            self._bulk = FileStageStats(rows=0, clean=False, ordered=False, interval_s={})
            return self._bulk
        self._has_agg = False
        self._bulk_ids = {r[0] for r in rows if r[0] is not None}
        total = sum(int(r[1]) for r in rows)
        clean = bool(rows) and not any(r[2] for r in rows)
        self._bulk_contiguous = all(int(r[4]) - int(r[3]) + 1 == int(r[1]) for r in rows)
        if not clean:
            ordered, steps = False, dict[str, int]()
        else:
            checked = self._check_blocks(rows, total) if self._bulk_contiguous else None
            ordered, steps = checked if checked is not None else self._check_interleaved()
        self._bulk = FileStageStats(rows=total, clean=clean, ordered=ordered, interval_s=steps)
        return self._bulk

    def _check_blocks(
        self, rows: list[tuple[Any, ...]], total: int
    ) -> tuple[bool, dict[str, int]] | None:
        """Order and step of each meter when every meter is one block of rows, in numpy.

        Streams the timestamps in file order in chunks, so memory stays flat as
        files grow; None when the scan did not come back in file order (then the
        caller uses the windowed query).
        """
        import numpy as np

        ids = [r[0] for r in rows]
        first_row = int(rows[0][3])
        starts = np.array([int(r[3]) - first_row for r in rows], dtype=np.int64)
        counts: list[Counter[int]] = [Counter() for _ in ids]
        reader = self._con.sql(
            f"SELECT epoch_us(ts) AS us, r - {first_row} AS pos FROM {self._name}"
        ).to_arrow_reader(CHECK_BATCH_ROWS)
        done = 0
        last: int | None = None
        for batch in reader:
            us = batch.column(0).to_numpy().astype(np.int64, copy=False)
            pos = batch.column(1).to_numpy().astype(np.int64, copy=False)
            n = us.size
            if n == 0:
                continue
            if pos[0] != done or pos[-1] != done + n - 1 or np.any(np.diff(pos) != 1):
                return None  # not in file order: cannot pair neighbours here
            full = us if last is None else np.concatenate(([last], us))
            steps = np.diff(full)
            to = np.arange(done + n - steps.size, done + n)  # row each step leads to
            block = np.searchsorted(starts, to, side="right") - 1
            inner = to != starts[block]  # a block's first row has no step inside the block
            steps, block = steps[inner], block[inner]
            if steps.size and not bool(np.all(steps > 0)):
                return False, {}
            if steps.size:
                cuts = np.flatnonzero(np.diff(block)) + 1
                seg_start = np.concatenate(([0], cuts))
                lo = np.minimum.reduceat(steps, seg_start)
                hi = np.maximum.reduceat(steps, seg_start)
                for i, start in enumerate(seg_start):
                    end = int(cuts[i]) if i < cuts.size else steps.size
                    target = counts[int(block[start])]
                    if lo[i] == hi[i]:
                        target[int(lo[i])] += end - int(start)
                    else:
                        values, k = np.unique(steps[start:end], return_counts=True)
                        target.update(dict(zip(values.tolist(), k.tolist(), strict=True)))
            last = int(us[-1])
            done += n
        if done != total:
            return None
        return True, {
            meter_id: c.most_common(1)[0][0] // 1_000_000
            for meter_id, c in zip(ids, counts, strict=True)
            if c
        }

    def _check_interleaved(self) -> tuple[bool, dict[str, int]]:
        """Order and step of each meter when meters' rows interleave, in one windowed query."""
        rows = self._con.execute(
            f"""WITH d AS (
                    SELECT meter_id, ts, lag(ts) OVER w AS prev
                    FROM {self._name} WINDOW w AS (PARTITION BY meter_id ORDER BY r))
                SELECT meter_id, count(*) FILTER (WHERE ts <= prev),
                       mode((epoch_us(ts) - epoch_us(prev)) // 1000000) FILTER (WHERE ts > prev)
                FROM d GROUP BY meter_id"""
        ).fetchall()
        ordered = not any(r[1] for r in rows)
        return ordered, {r[0]: int(r[2]) for r in rows if r[2] is not None}

    def add_register_readings(self, table: pa.Table) -> None:
        """Keep raw register values (meter_id, ts, value) to store with the batch."""
        self._registers.append(table)

    def add_meters(
        self,
        meters: Iterable[Meter],
        *,
        orgs: Iterable[Organisation] = (),
        sites: Iterable[Site] = (),
    ) -> None:
        """Declare meters (and their site and organisation) created by this batch."""
        self._new_orgs.extend(orgs)
        self._new_sites.extend(sites)
        for meter in meters:
            self._new_meters[meter.meter_id] = meter
        self._has_agg = False

    def row_count(self) -> int:
        """Rows staged so far."""
        row = _one(self._con.execute(f"SELECT count(*) FROM {self._name}"))
        return int(row[0]) if row else 0

    def meter_ids(self) -> list[str]:
        """Distinct meter ids staged, sorted."""
        if self._bulk_ids is not None:
            return sorted(self._bulk_ids)
        rows = self._con.execute(
            f"SELECT DISTINCT meter_id FROM {self._name} ORDER BY 1"
        ).fetchall()
        return [r[0] for r in rows]

    def _aggregate(self) -> None:
        if self._has_agg:
            return
        con = self._con
        row = _one(con.execute("SELECT coalesce(max(meter_key), 0) FROM meter"))
        next_key = (int(row[0]) if row else 0) + 1
        existing = self._store.find_meters(self._new_meters)  # once: not once per meter
        planned = [m for m in self._new_meters if m not in existing]
        keys = pa.table(
            {
                "meter_id": pa.array(planned, pa.string()),
                "meter_key": pa.array(range(next_key, next_key + len(planned)), pa.int32()),
            }
        )
        con.execute(f"DROP TABLE IF EXISTS {self._keys}")
        con.register("_planned", keys)
        con.execute(
            f"CREATE TEMP TABLE {self._keys} AS SELECT meter_id, meter_key FROM meter "
            "UNION ALL SELECT meter_id, meter_key FROM _planned"
        )
        con.unregister("_planned")
        if self._bulk_ids is not None:
            stored = self._store.find_meters(self._bulk_ids)
            missing = sorted(self._bulk_ids - set(stored) - set(planned))[:5]
        else:
            missing = [
                r[0]
                for r in con.execute(
                    f"SELECT DISTINCT meter_id FROM {self._name} "
                    f"ANTI JOIN {self._keys} USING (meter_id) LIMIT 5"
                ).fetchall()
            ]
        if missing:
            raise StoreError(
                f"staged readings name meters that neither exist nor were declared: "
                f"{', '.join(missing)}"
            )
        self._drop_agg()
        if self._bulk is not None:
            if not (self._bulk.clean and self._bulk.ordered):
                raise StoreError("the bulk-loaded file needs line-by-line parsing; discard stage")
            # Strictly increasing per meter, so no duplicates: a view, not a second copy.
            con.execute(
                f"""CREATE TEMP VIEW {self._agg} AS
                    SELECT k.meter_key, s.ts, s.energy_kwh, s.energy_kwh AS max_kwh, 1 AS n,
                           s.line
                    FROM {self._name} s JOIN {self._keys} k USING (meter_id)"""
            )
            self._has_agg = True
            return
        # One pass groups exact repeats, exposes conflicting ones and sorts by meter and
        # time, so the final insert writes rows in zone-map friendly order.
        con.execute(
            f"""CREATE TEMP TABLE {self._agg} AS
                SELECT k.meter_key, s.ts, min(s.energy_kwh) AS energy_kwh,
                       max(s.energy_kwh) AS max_kwh, count(*) AS n, min(s.line) AS line
                FROM {self._name} s JOIN {self._keys} k USING (meter_id)
                GROUP BY ALL ORDER BY k.meter_key, s.ts"""
        )
        self._has_agg = True

    def _drop_agg(self) -> None:
        kind = "VIEW" if self._bulk is not None else "TABLE"
        self._con.execute(f"DROP {kind} IF EXISTS {self._agg}")

    def conflicting_duplicates(self, limit: int | None = 20) -> list[dict[str, Any]]:
        """(meter, interval) pairs staged more than once with different values."""
        if self._bulk is not None and self._bulk.ordered:
            return []  # strictly increasing per meter: no interval twice
        self._aggregate()
        cur = self._con.execute(
            f"""SELECT k.meter_id, a.ts, list(s.line ORDER BY s.line) AS lines,
                       list(s.energy_kwh ORDER BY s.line) AS values
                FROM {self._agg} a JOIN {self._keys} k USING (meter_key)
                JOIN {self._name} s ON s.meter_id = k.meter_id AND s.ts = a.ts
                WHERE a.energy_kwh <> a.max_kwh
                GROUP BY k.meter_id, a.ts ORDER BY min(s.line)
                LIMIT $1""",
            [limit if limit is not None else 2**62],
        )
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def drop_lines(self, lines: Iterable[int]) -> None:
        """Remove staged rows by their source line."""
        lines = list(lines)
        if not lines:
            return
        self._con.execute(f"DELETE FROM {self._name} WHERE list_contains($1, line)", [lines])
        self._has_agg = False

    def _overlap_exists(self) -> bool:
        row = _one(
            self._con.execute(
                f"""WITH spans AS (SELECT k.meter_key, s.lo, s.hi
                               FROM (SELECT meter_id, min(ts) lo, max(ts) hi FROM {self._name}
                                     GROUP BY meter_id) s JOIN {self._keys} k USING (meter_id))
                SELECT EXISTS (SELECT 1 FROM reading r JOIN spans s
                               ON r.meter_key = s.meter_key AND r.ts BETWEEN s.lo AND s.hi)"""
            )
        )
        return bool(row and row[0])

    def stored_conflicts(self, limit: int | None = 20) -> list[dict[str, Any]]:
        """Staged readings whose value differs from the stored one."""
        self._aggregate()
        if not self._overlap_exists():
            return []
        cur = self._con.execute(
            f"""SELECT k.meter_id, a.ts, r.energy_kwh AS old_energy_kwh,
                       a.energy_kwh AS new_energy_kwh, a.line
                FROM {self._agg} a JOIN reading r USING (meter_key, ts)
                JOIN {self._keys} k USING (meter_key)
                WHERE r.energy_kwh <> a.energy_kwh ORDER BY a.line LIMIT $1""",
            [limit if limit is not None else 2**62],
        )
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def merge(
        self,
        *,
        source: str,
        sha256: str | None,
        on_conflict: OnConflict,
        issues: list[DataIssue],
        skipped_rows: int,
    ) -> MergeResult:
        """Commit staged readings, new meters, register values and issues in one transaction.

        Conflicting duplicates inside the batch must have been resolved by the
        caller (see :meth:`conflicting_duplicates`). With ``on_conflict="refuse"``
        a value differing from the stored one raises :class:`ConflictError`
        before anything is written.
        """
        from bitgoeul.store import MergeResult

        self._aggregate()
        con = self._con
        if self._bulk is not None:
            dup: tuple[Any, ...] | None = (0, 0, self._bulk.rows, self._bulk.rows)
        else:
            dup = _one(
                con.execute(
                    f"SELECT count(*) FILTER (WHERE energy_kwh <> max_kwh), "
                    f"coalesce(sum(n - 1), 0), count(*), coalesce(sum(n), 0) FROM {self._agg}"
                )
            )
        if dup is None or dup[0]:
            raise StoreError("conflicting duplicates are still staged; resolve them before merge")
        duplicates, distinct_rows, rows_in = int(dup[1]), int(dup[2]), int(dup[3])
        overlap = self._overlap_exists()
        conflicts: list[dict[str, Any]] = []
        unchanged = 0
        if overlap:
            # One join counts both; the conflicting rows are fetched only if there are any.
            row = _one(
                con.execute(
                    f"SELECT count(*) FILTER (WHERE r.energy_kwh = a.energy_kwh), "
                    f"count(*) FILTER (WHERE r.energy_kwh <> a.energy_kwh) "
                    f"FROM {self._agg} a JOIN reading r USING (meter_key, ts)"
                )
            )
            unchanged, differing = (int(row[0]), int(row[1])) if row else (0, 0)
            conflicts = self.stored_conflicts(limit=None) if differing else []
            if conflicts and on_conflict == "refuse":
                first = conflicts[0]
                raise ConflictError(
                    f"{len(conflicts)} reading(s) differ from stored values, first meter "
                    f"{first['meter_id']!r} at {first['ts'].isoformat()}: stored "
                    f"{first['old_energy_kwh']} kWh, new {first['new_energy_kwh']} kWh; "
                    "nothing was written (to apply corrections: on_conflict='correct', "
                    "on the command line --on-conflict correct)",
                    source=source,
                    line=int(first["line"]) if first["line"] is not None else None,
                    field="energy_kwh",
                )
        inserted = distinct_rows - unchanged - len(conflicts)
        registers = pa.concat_tables(self._registers) if self._registers else None
        keys = dict(con.execute(f"SELECT meter_id, meter_key FROM {self._keys}").fetchall())
        existing = self._store.find_meters(self._new_meters)

        # Rows go in sorted by meter and time so zone maps prune range queries. A bulk file
        # whose meters are contiguous and ordered keeps its order: DuckDB preserves
        # insertion order through the key join, and a sort here cost 0.15 s and a third
        # more memory per 10 M rows (docs/benchmarks.md).
        order = "" if self._bulk is not None and self._bulk_contiguous else "ORDER BY 1, 2"
        con.execute("BEGIN TRANSACTION")
        try:
            for org in self._new_orgs:
                con.execute(
                    "INSERT INTO organisation (org_id, name) VALUES ($1, $2) "
                    "ON CONFLICT DO NOTHING",
                    [org.org_id, org.name],
                )
            for site in self._new_sites:
                con.execute(
                    "INSERT INTO site (site_id, org_id, name, timezone) VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT DO NOTHING",
                    [site.site_id, site.org_id, site.name, site.timezone],
                )
            fresh = [m for m in self._new_meters.values() if m.meter_id not in existing]
            if fresh:  # one INSERT for all new meters: one per meter took 2 s for 1,000
                con.register("_meters", _meters_table(fresh, keys))
                con.execute(
                    f"INSERT INTO meter (meter_key, {_METER_COLUMNS}) "
                    f"SELECT meter_key, {_METER_COLUMNS} FROM _meters"
                )
                con.unregister("_meters")
            row = _one(con.execute("SELECT nextval('batch_id_seq')"))
            batch_id = int(row[0]) if row else 0
            con.execute(
                "INSERT INTO ingest_batch VALUES ($1, $2, $3, now(), $4, $5, $6, $7, $8, $9)",
                [
                    batch_id,
                    source,
                    sha256,
                    rows_in,
                    inserted,
                    unchanged,
                    len(conflicts),
                    duplicates,
                    skipped_rows,
                ],
            )
            if overlap:
                if inserted:  # a pure re-ingest has nothing new: skip the anti-join
                    con.execute(
                        f"""INSERT INTO reading
                            SELECT a.meter_key, a.ts, a.energy_kwh, $1 FROM {self._agg} a
                            ANTI JOIN reading r USING (meter_key, ts) {order}""",
                        [batch_id],
                    )
                if conflicts:
                    con.execute(
                        f"""INSERT INTO correction
                            SELECT a.meter_key, a.ts, r.energy_kwh, a.energy_kwh, $1
                            FROM {self._agg} a JOIN reading r USING (meter_key, ts)
                            WHERE r.energy_kwh <> a.energy_kwh""",
                        [batch_id],
                    )
                    con.execute(
                        f"""UPDATE reading SET energy_kwh = a.energy_kwh, batch_id = $1
                            FROM {self._agg} a
                            WHERE reading.meter_key = a.meter_key AND reading.ts = a.ts
                              AND reading.energy_kwh <> a.energy_kwh""",
                        [batch_id],
                    )
            else:
                con.execute(
                    f"INSERT INTO reading SELECT meter_key, ts, energy_kwh, $1 FROM {self._agg} "
                    f"{order}",
                    [batch_id],
                )
            if registers is not None and registers.num_rows:
                con.register("_registers", registers)
                con.execute(
                    f"""INSERT INTO register_reading
                        SELECT k.meter_key, g.ts, g.value, $1 FROM _registers g
                        JOIN {self._keys} k USING (meter_id)
                        ANTI JOIN register_reading r
                          ON r.meter_key = k.meter_key AND r.ts = g.ts""",
                    [batch_id],
                )
                con.unregister("_registers")
            if issues:
                con.register(
                    "_issues",
                    pa.table(
                        {
                            "meter_id": [i.meter_id for i in issues],
                            "code": [i.code for i in issues],
                            "start_ts": pa.array(
                                [i.start for i in issues], pa.timestamp("us", tz="UTC")
                            ),
                            "end_ts": pa.array(
                                [i.end for i in issues], pa.timestamp("us", tz="UTC")
                            ),
                            "message": [i.message for i in issues],
                            "data": [json.dumps(i.data, default=str) for i in issues],
                        }
                    ),
                )
                con.execute(
                    f"""INSERT INTO data_issue SELECT k.meter_key, i.code, i.start_ts, i.end_ts,
                        i.message, i.data, $1
                        FROM _issues i JOIN {self._keys} k USING (meter_id)""",
                    [batch_id],
                )
                con.unregister("_issues")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return MergeResult(
            batch_id=batch_id,
            rows_in=rows_in,
            inserted=inserted,
            unchanged=unchanged,
            corrected=len(conflicts),
            duplicates_in_batch=duplicates,
            conflicts=conflicts[:20],
        )

    def close(self) -> None:
        """Drop the staging tables (and lift the bulk load's memory cap)."""
        if self._restore_limit is not None:
            self._con.execute(f"SET memory_limit = '{self._restore_limit}'")
            self._restore_limit = None
        self._drop_agg()
        if self._bulk_views:
            self._con.execute(f"DROP VIEW IF EXISTS {self._name}")
            self._con.execute(f"DROP TABLE IF EXISTS {self._name}_file")
        for name in (self._name, self._keys):
            if not (self._bulk_views and name == self._name):
                self._con.execute(f"DROP TABLE IF EXISTS {name}")

    def __enter__(self) -> DuckDBStaged:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
