"""Wiring: the only place routes get the store, the commit queue and the caller's tenant."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from bitgoeul.services.commit_queue import CommitQueue
from bitgoeul.services.forecast import ModelCache
from bitgoeul.services.tenancy import Directory, Tenant, authenticate
from bitgoeul.store import DuckDBStore, MeterStore

from .settings import Settings

__all__ = ["AppState", "ReaderPool", "State", "TenantDep"]


@dataclass(slots=True)
class AppState:
    """What one running service holds: its settings, the store, its lock and writer.

    ``directory`` keeps keys, sites and meters' sites in memory, so authenticating
    does not wait for the store's lock while the writer commits.
    """

    settings: Settings
    store: DuckDBStore
    queue: CommitQueue
    lock: threading.RLock = field(default_factory=threading.RLock)
    directory: Directory | None = None
    readers: ReaderPool | None = None
    models: ModelCache = field(default_factory=ModelCache)


class ReaderPool:
    """Extra connections to the service's store for read-only use cases.

    DuckDB lets several connections of one process read while another writes
    (each sees the last committed state), so usage, bills and forecasts need not
    wait while the commit writer holds the main connection. An in-memory store
    cannot be shared this way; it gets no pool.

    Parameters
    ----------
    path : str
        The store file (the one the service's main connection has open).
    size : int
        Connections in the pool [count].
    """

    def __init__(self, path: str, *, size: int) -> None:
        self._free: queue.Queue[DuckDBStore] = queue.Queue()
        self._all = [DuckDBStore(path) for _ in range(size)]
        for store in self._all:
            self._free.put(store)

    @contextmanager
    def borrow(self) -> Iterator[MeterStore]:
        """Lend a connection until the block ends."""
        store = self._free.get()
        try:
            yield store
        finally:
            self._free.put(store)

    def close(self) -> None:
        """Close every connection (call when no request is running)."""
        for store in self._all:
            store.close()


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.bitgoeul
    return state


State = Annotated[AppState, Depends(_state)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer bgk_...`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key, bgk_...")


def _tenant(
    state: State,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> Tenant:
    token = bearer.credentials if bearer is not None else header
    if state.directory is not None:
        key = authenticate(state.directory, token)
    else:
        with state.lock:
            key = authenticate(state.store, token)
    return Tenant(
        state.store,
        key,
        lock=state.lock,
        directory=state.directory,
        reader=state.readers.borrow if state.readers is not None else None,
    )


TenantDep = Annotated[Tenant, Depends(_tenant)]
