"""The web dashboard: its page, static files and plotly.js, and the JSON it reads.

The page (``GET /``) and its files carry no data, so they need no key; the JSON
routes go through the caller's :class:`~bitgoeul.services.tenancy.Tenant` like
every other route, so a share key limited to a site sees only that site.
"""

from __future__ import annotations

import functools
import mimetypes
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, HTMLResponse, Response

from bitgoeul import web
from bitgoeul.errors import NotFoundError
from bitgoeul.services.dashboard import fleet_row, meter_dashboard

from ..deps import TenantDep
from .paging import Cursor, Limit, page_of

router = APIRouter()

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
"""The page loads nothing from elsewhere (plotly.js sets inline styles, hence 'unsafe-inline')."""

_PAGE_HEADERS = {
    "Content-Security-Policy": _CSP,
    "Referrer-Policy": "no-referrer",  # the first address may hold ?key=
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

Lang = Annotated[
    web.Language | None,
    Query(description="Language of the labels: ko or en; default Korean."),
]


@functools.cache
def _plotly_path() -> Path:
    found = resources.files("plotly").joinpath("package_data", "plotly.min.js")
    path = Path(str(found))
    if not path.is_file():
        raise NotFoundError("plotly.min.js is missing from the installed plotly package")
    return path


@router.get("/", include_in_schema=False)
def get_page() -> HTMLResponse:
    """Return the dashboard page (it asks for a key, or reads ``?key=``)."""
    return HTMLResponse(web.static_file("index.html"), headers=_PAGE_HEADERS)


@router.get("/web/plotly.min.js", include_in_schema=False)
def get_plotly() -> FileResponse:
    """Return plotly.js from the installed plotly package (no CDN: works offline)."""
    return FileResponse(
        _plotly_path(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=604800", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/web/{name}", include_in_schema=False)
def get_static(name: str) -> Response:
    """Return one of the page's static files (script, style sheet, strings)."""
    try:
        body = web.static_file(name)
    except KeyError:
        raise NotFoundError(f"no file {name!r} in the dashboard") from None
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media.startswith("text/") or media.endswith(("javascript", "json")):
        media += "; charset=utf-8"
    return Response(body, media_type=media, headers=_PAGE_HEADERS)


@router.get("/v1/fleet", tags=["dashboard"], summary="Fleet table of the key's meters")
def get_fleet(
    tenant: TenantDep, lang: Lang = None, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    """Return the meters the key reaches, a page at a time, for the fleet table.

    By meter id: the last reading, today's and the month's energy [kWh] ("today"
    is the local date of each meter's last reading) and the data-quality status
    (``ok`` or ``warning`` with counts by finding code). Only the page's meters
    are computed; pass ``next_cursor`` back as ``cursor`` for the next page.
    """
    page = page_of(
        sorted(tenant.meters(), key=lambda s: s.meter.meter_id), limit=limit, cursor=cursor
    )
    rows = [tenant.run(s.meter.meter_id, fleet_row, summary=s) for s in page.items]
    labels = web.strings(lang or "ko")
    return {
        "org_id": tenant.org_id,
        "lang": lang or "ko",
        "items": rows,
        "next_cursor": page.next_cursor,
        "labels": {k: v for k, v in labels.items() if k.startswith(("code_", "quality_"))},
    }


@router.get(
    "/v1/meters/{meter_id}/dashboard",
    tags=["dashboard"],
    summary="Everything the dashboard shows of a meter",
)
def get_meter_dashboard(meter_id: str, tenant: TenantDep, lang: Lang = None) -> dict[str, Any]:
    """Return what the dashboard draws of one meter, aggregated for charts.

    Today's power curve beside yesterday's [kW], the last 30 days and 12 months beside
    last year's [kWh], the billing cycle so far with its P10/P50/P90 forecast, tier
    boundaries and next crossing date, standby power [W], a day-ahead forecast against
    actual [kW] and the data-quality status, aggregated for a chart (a few hundred
    numbers, whatever the meter's resolution). "Today" is the local date of the last
    reading; ``labels`` holds the finding codes' names in ``lang``.
    """
    board: dict[str, Any] = tenant.run(meter_id, meter_dashboard)
    labels = web.strings(lang or "ko")
    board["lang"] = lang or "ko"
    board["labels"] = {k: v for k, v in labels.items() if k.startswith(("code_", "quality_"))}
    return board
