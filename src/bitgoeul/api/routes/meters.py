"""Meters and their readings: register, ingest (JSON or CSV), query by range."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Query, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, ValidationError

from bitgoeul.errors import IngestError
from bitgoeul.ingest.csv import CsvOptions, read_csv
from bitgoeul.ingest.source import MAX_READING, READINGS_SCHEMA
from bitgoeul.model import Meter
from bitgoeul.services.commit_queue import CommittedBatch
from bitgoeul.store import MeterSummary, OnConflict

from ..deps import State, TenantDep
from ..schemas import (
    IngestResult,
    MeterCreate,
    MeterPublic,
    Page,
    ReadingBatch,
    ReadingIn,
    ReadingPublic,
)
from .paging import Cursor, Limit, decode_cursor, encode_cursor, page_of

router = APIRouter(prefix="/v1")

_BATCH_EXAMPLE = {
    "readings": [
        {"meter_id": "hq-main", "ts": "2026-11-21T09:00:00+09:00", "energy_kwh": 0.42},
        {"meter_id": "hq-main", "ts": "2026-11-21T09:15:00+09:00", "energy_kwh": 0.39},
    ]
}
_CSV_EXAMPLE = "meter_id,ts,energy_kwh\nhq-main,2026-11-21T09:00:00+09:00,0.42\n"


@router.get("/meters", tags=["meters"], summary="List meters")
def list_meters(
    tenant: TenantDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    site_id: Annotated[str | None, Query(max_length=128)] = None,
) -> Page[MeterPublic]:
    """List the meters the key reaches, with their reading counts and time span."""
    meters = [MeterPublic.of(m) for m in tenant.meters()]
    if site_id is not None:
        meters = [m for m in meters if m.site_id == site_id]
    return page_of(meters, limit=limit, cursor=cursor)


@router.post(
    "/meters", status_code=status.HTTP_201_CREATED, tags=["meters"], summary="Register a meter"
)
def create_meter(body: MeterCreate, tenant: TenantDep) -> MeterPublic:
    """Register a meter on one of the caller's sites (scope write)."""
    site = tenant.site_to_write(body.site_id)
    meter = Meter(
        meter_id=body.meter_id,
        site_id=body.site_id,
        name=body.name,
        timezone=body.timezone or site.timezone,
        kind=body.kind,
        interval_s=body.interval_s,
        contract_class=body.contract_class,
        voltage=body.voltage,
        contract_kw=body.contract_kw,
        reading_day=body.reading_day,
    )
    tenant.add_meter(meter)
    # A new meter holds nothing yet: answered without reading, so a write-only key may too.
    empty = MeterSummary(
        meter=meter,
        org_id=tenant.org_id,
        reading_count=0,
        first_ts=None,
        last_ts=None,
        total_energy_kwh=0.0,
    )
    return MeterPublic.of(empty)


@router.get("/meters/{meter_id}", tags=["meters"], summary="Get a meter")
def get_meter(meter_id: str, tenant: TenantDep) -> MeterPublic:
    """One meter with its reading count and time span."""
    return MeterPublic.of(tenant.meter_summary(meter_id))


def _invalid(field: str, message: str, value: Any = None) -> RequestValidationError:
    loc = ("body", *[int(p) if p.isdigit() else p for p in field.split("/")])
    return RequestValidationError(
        [{"loc": loc, "msg": message, "type": "value_error", "input": value}]
    )


def _from_json(raw: bytes, max_readings: int) -> pa.Table:
    table = _from_json_fast(raw, max_readings)
    if table is not None:
        return table
    try:
        batch = ReadingBatch.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc
    _check_count(len(batch.readings), max_readings)
    ids = [r.meter_id for r in batch.readings]
    table = pa.table(
        {
            "meter_id": pa.array(ids, pa.string()),
            "ts": pa.array([r.ts for r in batch.readings], pa.timestamp("us", tz="UTC")),
            "energy_kwh": pa.array([r.energy_kwh for r in batch.readings], pa.float64()),
        },
        schema=READINGS_SCHEMA,
    )
    return table


_FIELDS = frozenset(ReadingIn.model_fields)


def _from_json_fast(raw: bytes, max_readings: int) -> pa.Table | None:
    """Build the table of a plainly valid batch column by column, or return None.

    Most batches are exactly ``{"readings": [{meter_id, ts, energy_kwh}, ...]}`` with
    strings, ISO 8601 times with an offset and finite numbers from 0 to ``MAX_READING``. Those
    need no per-record model: ``json.loads``, one Arrow parse of the times and a
    few vector checks are ten times faster than :class:`ReadingBatch`. Anything
    else (a missing or extra field, another type, a naive time, a negative value)
    returns None, and the model validates the batch and names the record.
    """
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.keys() != {"readings"}:
        return None
    records = body["readings"]
    if not isinstance(records, list) or not records:
        return None
    _check_count(len(records), max_readings)
    if not all(type(r) is dict and r.keys() == _FIELDS for r in records):
        return None
    ids = [r["meter_id"] for r in records]
    stamps = [r["ts"] for r in records]
    values = [r["energy_kwh"] for r in records]
    if not (
        all(type(v) is str for v in ids)
        and all(type(v) is str for v in stamps)
        and all(type(v) is float or type(v) is int for v in values)
    ):
        return None
    try:
        energy = pa.array(values, pa.float64())
        ts = pa.array(stamps, pa.string()).cast(pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, OverflowError):
        return None
    plausible = pc.and_(pc.greater_equal(energy, 0.0), pc.less_equal(energy, MAX_READING))
    if not pc.all(pc.and_(pc.is_finite(energy), plausible)).as_py():
        return None
    return pa.table(
        {"meter_id": pa.array(ids, pa.string()), "ts": ts, "energy_kwh": energy},
        schema=READINGS_SCHEMA,
    )


def _check_count(n: int, limit: int) -> None:
    if n > limit:
        from fastapi import HTTPException

        raise HTTPException(
            413, detail=f"{n:,} readings in one request; the limit is {limit:,}: split the batch"
        )


def _from_csv(raw: bytes, zones: dict[str, str], max_readings: int) -> tuple[pa.Table, list[int]]:
    with tempfile.TemporaryDirectory(prefix="bitgoeul-upload-") as folder:
        path = Path(folder) / "upload.csv"
        path.write_bytes(raw)
        try:
            parsed = read_csv(path, CsvOptions(meter_zones=zones))
            batches = list(parsed.iter_batches())
        except IngestError as exc:
            raise type(exc)(
                exc.message, source="upload.csv", line=exc.line, field=exc.field
            ) from exc
    table = pa.Table.from_batches(batches) if batches else None
    if table is None or table.num_rows == 0:
        raise _invalid("", "the CSV holds no readings")
    for meter_id, hint in parsed.meters.items():
        if hint.unit.lower() != "kwh" or str(hint.measurement) != "interval_energy":
            raise ValueError(
                f"upload.csv: meter {meter_id!r}: send interval energy in kWh "
                "(columns meter_id,ts,energy_kwh)"
            )
    _check_count(table.num_rows, max_readings)
    out = pa.table(
        {
            "meter_id": table.column("meter_id"),
            "ts": table.column("ts"),
            "energy_kwh": table.column("value"),
        }
    ).cast(READINGS_SCHEMA)
    return out, table.column("line").to_pylist()


def document_bodies(openapi: dict[str, Any]) -> None:
    """Add the schemas that the ingest route's hand-written request body refers to.

    The route reads its body itself (JSON or CSV), so FastAPI does not put
    :class:`ReadingBatch` into ``components``; without this, its ``$ref`` dangles
    and clients and /docs cannot see the JSON form.
    """
    schema = ReadingBatch.model_json_schema(ref_template="#/components/schemas/{model}")
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    components.update(schema.pop("$defs", {}))
    components["ReadingBatch"] = schema


@router.post(
    "/readings",
    tags=["readings"],
    summary="Ingest a batch of readings (JSON or CSV)",
    response_model=IngestResult,
    responses={
        404: {"description": "A meter in the batch is not the caller's (or does not exist)."},
        409: {"description": "A reading differs from the stored one (on_conflict=refuse)."},
        413: {"description": "The body or the number of readings is over the limit."},
        422: {"description": "A record is invalid; `errors` names the record and field."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/ReadingBatch"},
                    "example": _BATCH_EXAMPLE,
                },
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": _CSV_EXAMPLE,
                },
            },
        }
    },
)
async def ingest_readings(
    request: Request,
    state: State,
    tenant: TenantDep,
    on_conflict: Annotated[
        OnConflict, Query(description="refuse: 409 if a value differs; correct: replace it.")
    ] = "refuse",
) -> IngestResult:
    """Commit a batch atomically; answered only once it is durably stored.

    Idempotent: sending the same readings again changes nothing (``unchanged``).
    Readings are interval energy [kWh] with the interval start in ISO 8601 with
    an offset. Every meter must be registered and reachable by the key.
    """
    from starlette.concurrency import run_in_threadpool

    tenant.require("write")
    raw = await request.body()
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    limit = state.settings.max_batch_readings
    lines: list[int] | None = None
    if kind in ("text/csv", "application/csv"):
        zones = await run_in_threadpool(_zones, tenant)
        table, lines = await run_in_threadpool(_from_csv, raw, zones, limit)
    elif kind in ("application/json", "") or kind.endswith("+json"):
        table = await run_in_threadpool(_from_json, raw, limit)
    else:
        from fastapi import HTTPException

        raise HTTPException(415, detail=f"send application/json or text/csv, not {kind!r}")

    def commit(checked: pa.Table) -> CommittedBatch:
        return state.queue.submit(checked, on_conflict=on_conflict, source="api")

    try:
        done = await run_in_threadpool(tenant.ingest, table, commit)
    except IngestError as exc:
        if exc.source not in ("request", "api") or exc.line is None:
            raise
        # Name the record as the client sent it: its index in JSON, its line in CSV.
        index = exc.line - 1
        if lines is None and exc.source == "request":
            value = table.column("meter_id")[index].as_py()
            raise _invalid(f"readings/{index}/{exc.field}", exc.message, value) from exc
        where = ("request", index + 1) if lines is None else ("upload.csv", lines[index])
        raise type(exc)(exc.message, source=where[0], line=where[1], field=exc.field) from exc
    report = done.report
    return IngestResult(
        received=done.received,
        batch_id=report.batch_id,
        group_requests=done.requests,
        group={
            "rows_in": report.rows_read,
            "inserted": report.inserted,
            "unchanged": report.unchanged,
            "corrected": report.corrected,
            "duplicates_in_batch": report.duplicates_in_batch,
        },
    )


def _zones(tenant: Any) -> dict[str, str]:
    return {m.meter.meter_id: m.meter.timezone for m in tenant.meters()}


@router.get("/meters/{meter_id}/readings", tags=["readings"], summary="Query readings by range")
def query_readings(
    meter_id: str,
    tenant: TenantDep,
    start: Annotated[
        AwareDatetime | None, Query(description="First interval start (inclusive).")
    ] = None,
    end: Annotated[
        AwareDatetime | None, Query(description="Last interval start (exclusive).")
    ] = None,
    limit: Limit = 1000,
    cursor: Cursor = None,
) -> Page[ReadingPublic]:
    """Return stored readings of a meter in ``[start, end)``, by time, a page at a time."""
    raw = decode_cursor(cursor)
    after = None
    if raw is not None:
        try:
            after = dt.datetime.fromisoformat(raw)
        except ValueError as exc:
            raise ValueError(
                "cursor is not one this API returned: pass next_cursor back as is"
            ) from exc
        if after.tzinfo is None:
            raise ValueError("cursor is not one this API returned: pass next_cursor back as is")
    table = tenant.readings(meter_id, start=start, end=end, after=after, limit=limit + 1)
    rows = table.to_pylist()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [ReadingPublic(ts=r["ts"], energy_kwh=r["energy_kwh"]) for r in rows]
    nxt = encode_cursor(rows[-1]["ts"].isoformat()) if more and rows else None
    return Page[ReadingPublic](items=items, next_cursor=nxt)
