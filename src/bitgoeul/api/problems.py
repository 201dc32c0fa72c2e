"""Errors as RFC 9457 problem details (``application/problem+json``), in one place.

Only this module maps exceptions to HTTP: handlers raise the library's errors.

==========================  ======  ===============================================
exception                   status  type
==========================  ======  ===============================================
AuthenticationError         401     /problems/unauthenticated
PermissionDeniedError       403     /problems/forbidden
NotFoundError               404     /problems/not-found
ConflictError               409     /problems/conflict
IngestError, ValueError     422     /problems/invalid-data
request validation          422     /problems/invalid-request (``errors`` names fields)
TariffError, ForecastError  422     /problems/cannot-compute
body too large              413     /problems/too-large
StoreError                  503     /problems/store-unavailable
==========================  ======  ===============================================
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bitgoeul.errors import (
    AuthenticationError,
    ConflictError,
    ForecastError,
    IngestError,
    NotFoundError,
    PermissionDeniedError,
    StoreError,
    TariffError,
)

__all__ = ["PROBLEM", "install_problem_handlers", "problem_response"]

PROBLEM = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid request",
    503: "Store unavailable",
}


def problem_response(
    status: int, detail: str, *, kind: str, request: Request | None = None, **extra: Any
) -> JSONResponse:
    """Return a problem+json response."""
    body: dict[str, Any] = {
        "type": f"/problems/{kind}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _pointer(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where, rest = parts[0], parts[1:]
    else:
        where, rest = "body", parts
    return f"{where}:/" + "/".join(rest)


def install_problem_handlers(app: FastAPI) -> None:
    """Map every error the library raises, and FastAPI's own, to problem+json."""

    async def validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": _pointer(e.get("loc", ())), "message": e.get("msg", "invalid")}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": "", "message": "invalid"}
        return problem_response(
            422,
            f"{first['field']}: {first['message']}"
            + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
            kind="invalid-request",
            request=request,
            errors=errors[:100],
        )

    async def http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind = "too-large" if exc.status_code == 413 else f"http-{exc.status_code}"
        return problem_response(exc.status_code, str(exc.detail), kind=kind, request=request)

    async def library(request: Request, exc: Exception) -> JSONResponse:
        table: list[tuple[type[BaseException], int, str]] = [
            (AuthenticationError, 401, "unauthenticated"),
            (PermissionDeniedError, 403, "forbidden"),
            (NotFoundError, 404, "not-found"),
            (ConflictError, 409, "conflict"),
            (IngestError, 422, "invalid-data"),
            (TariffError, 422, "cannot-compute"),
            (ForecastError, 422, "cannot-compute"),
            (StoreError, 503, "store-unavailable"),
            (ValueError, 422, "invalid-data"),
        ]
        for kind, status, name in table:
            if isinstance(exc, kind):
                extra: dict[str, Any] = {}
                if isinstance(exc, IngestError):
                    extra = {"source": exc.source, "line": exc.line, "field": exc.field}
                    extra = {k: v for k, v in extra.items() if v is not None}
                    if exc.source == "request" and exc.line is not None:
                        extra["pointer"] = f"/readings/{exc.line - 1}/{exc.field or ''}"
                return problem_response(status, str(exc), kind=name, request=request, **extra)
        raise exc

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http)
    for kind in (
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        IngestError,
        TariffError,
        ForecastError,
        StoreError,
        ValueError,
    ):
        app.add_exception_handler(kind, library)
