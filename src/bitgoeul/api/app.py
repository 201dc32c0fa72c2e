"""The application factory: ``create_app(settings)`` builds one service on one store."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from bitgoeul import __version__
from bitgoeul.services.commit_queue import CommitQueue
from bitgoeul.services.forecast import ModelCache
from bitgoeul.services.tenancy import Directory
from bitgoeul.store import DuckDBStore

from .deps import AppState, ReaderPool
from .limits import BodyLimit
from .problems import install_problem_handlers
from .routes import analytics, dashboard, meters, tenants
from .settings import Settings

__all__ = ["create_app"]

_DESCRIPTION = """
Smart-meter data in, decisions out. Every organisation is a tenant; send its API key
as `Authorization: Bearer bgk_...` (or `X-API-Key`). Keys are scoped (read, write,
admin) and may be limited to sites; a key never sees another tenant's data.

Errors are RFC 9457 problem details (`application/problem+json`) that name the
record and field. Lists are paged: pass `next_cursor` back as `cursor`.
"""


def create_app(settings: Settings) -> FastAPI:
    """Return the API and dashboard service for ``settings``.

    The store is opened when the app starts (``with TestClient(app)`` or a
    server) and closed, after the commit queue drains, when it stops.

    Examples
    --------
    >>> from bitgoeul.api import Settings, create_app
    >>> app = create_app(Settings(store_path=":memory:"))
    >>> app.title
    'Bitgoeul'
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = DuckDBStore(settings.store_path)
        lock = threading.RLock()
        queue = CommitQueue(store, lock=lock)
        directory = Directory(store, lock=lock)
        readers = (
            ReaderPool(settings.store_path, size=settings.read_connections)
            if settings.store_path != ":memory:" and settings.read_connections > 0
            else None
        )
        state = AppState(
            settings=settings,
            store=store,
            queue=queue,
            lock=lock,
            directory=directory,
            readers=readers,
            models=ModelCache(settings.model_cache, directory=settings.model_dir),
        )
        app.state.bitgoeul = state
        try:
            yield
        finally:
            state.queue.close()
            if readers is not None:
                readers.close()
            with state.lock:
                store.close()

    app = FastAPIOffline(
        title="Bitgoeul",
        version=__version__,
        summary="Open energy big-data platform: meters, usage, KEPCO bills, forecasts.",
        description=_DESCRIPTION,
        lifespan=lifespan,
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
    )
    install_problem_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.include_router(tenants.router)
    app.include_router(meters.router)
    app.include_router(analytics.router)
    app.include_router(dashboard.router)

    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            meters.document_bodies(generate_openapi())  # fills app.openapi_schema
        return app.openapi_schema or generate_openapi()

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/healthz", tags=["service"], summary="Liveness")
    def healthz() -> dict[str, str]:
        """Return ok while the service runs."""
        return {"status": "ok", "version": __version__}

    return app
