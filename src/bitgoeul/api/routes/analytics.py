"""What a meter's readings say: usage by period, bills, forecasts, standby power, quality."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from bitgoeul.jsonable import to_jsonable
from bitgoeul.services import bill_meter, latest_usage, meter_quality, meter_standby, usage
from bitgoeul.services.forecast import MODELS, forecast_meter

from ..deps import State, TenantDep
from ..schemas import Page, UsagePublic
from .paging import Cursor, Limit, page_of

router = APIRouter(prefix="/v1/meters/{meter_id}")

Period = Literal["15min", "30min", "hour", "day", "month", "cycle"]
_CYCLE = r"^\d{4}-(0[1-9]|1[0-2])$"


@router.get("/usage", tags=["usage"], summary="Energy per period")
def get_usage(
    meter_id: str,
    tenant: TenantDep,
    period: Annotated[
        Period,
        Query(
            description=(
                "15min, 30min, hour, day, month, or KEPCO billing cycle; not finer than "
                "the meter's readings."
            )
        ),
    ] = "day",
    start: Annotated[dt.date | None, Query(description="First local date (inclusive).")] = None,
    end: Annotated[dt.date | None, Query(description="Last local date (inclusive).")] = None,
    limit: Limit = 1000,
    cursor: Cursor = None,
) -> Page[UsagePublic]:
    """Exact sums of stored readings per local period, in time order (ENERTALK's usages)."""
    if start is not None and end is not None and end < start:
        raise ValueError(f"end {end} is before start {start}")
    periods = tenant.run(meter_id, usage, period, start=start, end=end)
    items = [
        UsagePublic(
            start=p.start, end=p.end, label=p.label, energy_kwh=p.energy_kwh, readings=p.readings
        )
        for p in periods
    ]
    return page_of(items, limit=limit, cursor=cursor)


@router.get("/bill", tags=["bills"], summary="A billing cycle's KEPCO bill")
def get_bill(
    meter_id: str,
    tenant: TenantDep,
    cycle: Annotated[
        str | None,
        Query(pattern=_CYCLE, description="Bill month YYYY-MM; default the current cycle."),
    ] = None,
    as_of: Annotated[
        dt.date | None, Query(description="First local day treated as not yet measured.")
    ] = None,
) -> dict[str, Any]:
    """Return the cycle's bill by line (basic, energy by tier, climate, fuel, VAT, fund).

    For the cycle in progress also the P10/P50/P90 forecast and the tier crossings ahead.
    """
    result = tenant.run(meter_id, bill_meter, cycle=cycle, as_of=as_of)
    out: dict[str, Any] = to_jsonable(result.to_dict())
    return out


@router.get("/forecast", tags=["forecasts"], summary="Load forecast with P10/P50/P90")
def get_forecast(
    meter_id: str,
    tenant: TenantDep,
    state: State,
    as_of: Annotated[
        dt.datetime | None,
        Query(description="Origin; default the local midnight after the last reading."),
    ] = None,
    horizon: Annotated[
        str, Query(pattern=r"^\d{1,3}[hd]?$", description="24h, 7d or hours; at most 31d.")
    ] = "24h",
    model: Annotated[str, Query(description=f"One of {sorted(MODELS)}.")] = "lightgbm",
) -> dict[str, Any]:
    """Forecast from readings strictly before ``as_of``, one row per interval."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}")
    meter = tenant.meter(meter_id)
    origin: Any = as_of
    if origin is None:
        last = tenant.meter_summary(meter_id).last_ts
        if last is None:
            raise ValueError(f"meter {meter_id!r} has no readings to forecast from")
        local = last.astimezone(meter.zone)
        origin = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), meter.zone)
    result = tenant.run(
        meter_id, forecast_meter, as_of=origin, horizon=horizon, model=model, cache=state.models
    )
    out: dict[str, Any] = to_jsonable(result.to_dict())
    return out


@router.get("/latest", tags=["usage"], summary="Real-time usage: the newest reading")
def get_latest(meter_id: str, tenant: TenantDep) -> dict[str, Any]:
    """Return the newest reading, its mean power, and today's and the cycle's energy so far.

    ``age_s`` says how live the data is (seconds since the newest interval ended);
    all other fields are null for a meter without readings.
    """
    latest = tenant.run(meter_id, latest_usage)
    if latest is None:
        return {"meter_id": meter_id, "ts": None, "energy_kwh": None, "power_kw": None}
    out: dict[str, Any] = latest.to_dict()
    return out


@router.get("/standby", tags=["standby"], summary="Always-on (standby) power")
def get_standby(
    meter_id: str,
    tenant: TenantDep,
    method: Annotated[Literal["robust", "enertalk"], Query()] = "robust",
) -> dict[str, Any]:
    """Standby power [W] over the meter's last month; ``power_w`` null with too little data."""
    estimate = tenant.run(meter_id, meter_standby, method=method)
    if estimate is None:
        return {"meter_id": meter_id, "power_w": None, "method": method}
    out: dict[str, Any] = {"meter_id": meter_id, **to_jsonable(estimate)}
    return out


@router.get("/quality", tags=["quality"], summary="Data-quality findings")
def get_quality(
    meter_id: str, tenant: TenantDep, limit: Limit = 100, cursor: Cursor = None
) -> Page[dict[str, Any]]:
    """Gaps, duplicates, negative values, spikes, stuck values and clock jumps, by time."""
    issues = [i.to_dict() for i in tenant.run(meter_id, meter_quality)]
    return page_of(to_jsonable(issues), limit=limit, cursor=cursor)
