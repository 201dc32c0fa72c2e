"""Wiring: the only place routes get the store, the commit queue and the caller's tenant."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from bitgoeul.services.commit_queue import CommitQueue
from bitgoeul.services.tenancy import Tenant, authenticate
from bitgoeul.store import DuckDBStore

from .settings import Settings

__all__ = ["AppState", "State", "TenantDep"]


@dataclass(slots=True)
class AppState:
    """What one running service holds: its settings, the store, its lock and writer."""

    settings: Settings
    store: DuckDBStore
    queue: CommitQueue
    lock: threading.RLock = field(default_factory=threading.RLock)


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
    with state.lock:
        key = authenticate(state.store, token)
    return Tenant(state.store, key, lock=state.lock)


TenantDep = Annotated[Tenant, Depends(_tenant)]
