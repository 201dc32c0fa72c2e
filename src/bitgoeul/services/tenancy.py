"""Tenants and API keys: who may see and change what.

Every organisation is a tenant. A request carries an API key; :func:`authenticate`
turns it into the key's record, and :class:`Tenant` is the only door from the API
to the store: each of its methods first resolves the organisation, site or meter
*through the key* (its organisation, and its sites if it is limited to some), so a
handler cannot reach another tenant's data even by mistake. Something outside the
key's reach raises :class:`~bitgoeul.errors.NotFoundError`, exactly as if it did
not exist, so a key never learns what other tenants hold.

Keys look like ``bgk_<key_id>_<secret>``. Only the SHA-256 of the secret is
stored (the secret is 192 random bits, so a slow password hash adds nothing);
the whole key is shown once, when it is issued.

A running service keeps a :class:`Directory`: an in-memory copy of the key
records, the sites and each meter's site, so that authenticating a request and
checking what its key reaches does not wait for the store's lock (which the
commit writer holds during every ingest transaction). Every change made through
a :class:`Tenant` or :func:`create_organisation` with that directory updates it;
nothing else can change the store while the service holds it (DuckDB lets one
process open a file for writing).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from bitgoeul.errors import (
    AuthenticationError,
    IngestError,
    NotFoundError,
    PermissionDeniedError,
)
from bitgoeul.model import ApiKey, Meter, Organisation, Scope, Site, check_identifier
from bitgoeul.store import MeterStore, MeterSummary

__all__ = [
    "KEY_PREFIX",
    "SCOPES",
    "Directory",
    "IssuedKey",
    "Tenant",
    "authenticate",
    "create_organisation",
    "issue_key",
]

T = TypeVar("T")

KEY_PREFIX = "bgk_"
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly issued key: its record and the full secret, shown only this once."""

    key: ApiKey
    token: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _check_scopes(scopes: Iterable[str]) -> tuple[Scope, ...]:
    chosen = tuple(dict.fromkeys(scopes))
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown or not chosen:
        raise ValueError(f"scopes must be a non-empty subset of {list(SCOPES)}, got {list(chosen)}")
    return tuple(s for s in SCOPES if s in chosen)


def issue_key(
    store: MeterStore,
    org_id: str,
    *,
    scopes: Iterable[str],
    name: str = "",
    site_ids: Sequence[str] | None = None,
    share: bool = False,
    expires_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> IssuedKey:
    """Create an API key for an organisation and return it with its secret.

    Parameters
    ----------
    store : MeterStore
        Where keys are kept (only a hash of the secret is stored).
    org_id : str
        The organisation; the key never reaches another one's data.
    scopes : iterable of {'read', 'write', 'admin'}
        What the key may do. A share key may only read.
    name : str
        A label for people.
    site_ids : sequence of str, optional
        Limit the key to these sites of the organisation.
    share : bool
        A view-only key for sharing a dashboard.
    expires_at : datetime, optional
        When the key stops working (aware).
    now : datetime, optional
        The issue time (aware); default the current time.

    Returns
    -------
    IssuedKey
        The record and the full key ``bgk_<key_id>_<secret>``.
    """
    created = now or _now()
    chosen = _check_scopes(scopes)
    if share and chosen != ("read",):
        raise ValueError("a share key is view-only: its scopes must be ['read']")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware, e.g. 2026-12-31T00:00+09:00")
        if expires_at <= created:
            raise ValueError("expires_at must be in the future")
    sites = None
    if site_ids is not None:
        sites = tuple(dict.fromkeys(site_ids))
        owned = {s.site_id for s in store.list_sites(org_id)}
        for site_id in sites:
            if site_id not in owned:
                raise NotFoundError(f"site {site_id!r} does not exist")
    key = ApiKey(
        key_id=secrets.token_hex(6),
        org_id=org_id,
        scopes=chosen,
        created_at=created,
        name=name,
        site_ids=sites,
        share=share,
        expires_at=expires_at,
    )
    secret = secrets.token_urlsafe(24)
    store.add_api_key(key, _hash(secret))
    return IssuedKey(key=key, token=f"{KEY_PREFIX}{key.key_id}_{secret}")


class Directory:
    """An in-memory copy of who is who: key records, sites, and the site of each meter.

    Entries are read from the store on first use (holding ``lock``) and kept until
    :meth:`forget` is called after a change. Only records that exist are kept, so
    a key or meter created later is found at once. The readings themselves and
    anything that changes with them (counts, time spans) are never cached.

    Parameters
    ----------
    store : MeterStore
        The store the directory mirrors.
    lock : context manager, optional
        The store's lock, held while reading from it.
    """

    def __init__(
        self, store: MeterStore, *, lock: AbstractContextManager[Any] | None = None
    ) -> None:
        self._store = store
        self._lock: AbstractContextManager[Any] = lock or contextlib.nullcontext()
        self._guard = threading.Lock()
        self._generation = 0
        self._keys: dict[str, tuple[ApiKey, str]] = {}
        self._sites: dict[str, Site] | None = None
        self._meter_sites: dict[str, str] = {}

    def forget(self) -> None:
        """Drop everything cached (call after any change to keys, sites or meters)."""
        with self._guard:
            self._generation += 1
            self._keys.clear()
            self._sites = None
            self._meter_sites.clear()

    def _keep(self, generation: int, action: Callable[[], None]) -> None:
        # Keep what was read only if nothing changed while it was being read.
        with self._guard:
            if generation == self._generation:
                action()

    def find_api_key(self, key_id: str) -> tuple[ApiKey, str] | None:
        """Return a key record and its secret's SHA-256, or None."""
        with self._guard:
            found = self._keys.get(key_id)
            generation = self._generation
        if found is not None:
            return found
        with self._lock:
            found = self._store.find_api_key(key_id)
        if found is not None:
            record = found
            self._keep(generation, lambda: self._keys.__setitem__(key_id, record))
        return found

    def sites(self) -> dict[str, Site]:
        """Every site of every organisation, by id."""
        with self._guard:
            sites = self._sites
            generation = self._generation
        if sites is not None:
            return sites
        with self._lock:
            loaded = {s.site_id: s for s in self._store.list_sites()}
        self._keep(generation, lambda: setattr(self, "_sites", loaded))
        return loaded

    def meter_sites(self, meter_ids: Iterable[str]) -> dict[str, str]:
        """Return the site of each of ``meter_ids`` that exists, by meter id."""
        wanted = list(dict.fromkeys(meter_ids))
        with self._guard:
            out = {m: self._meter_sites[m] for m in wanted if m in self._meter_sites}
            generation = self._generation
        missing = [m for m in wanted if m not in out]
        if missing:
            with self._lock:
                found = {m: meter.site_id for m, meter in self._store.find_meters(missing).items()}
            self._keep(generation, lambda: self._meter_sites.update(found))
            out.update(found)
        return out


def create_organisation(
    store: MeterStore,
    org_id: str,
    *,
    name: str = "",
    now: dt.datetime | None = None,
    directory: Directory | None = None,
) -> IssuedKey:
    """Create a tenant and its first key (scopes read, write and admin).

    Raises
    ------
    ValueError
        If ``org_id`` is not a valid identifier or already exists.
    """
    check_identifier(org_id, "organisation id")
    with contextlib.suppress(NotFoundError):
        store.get_organisation(org_id)
        raise ValueError(f"organisation {org_id!r} already exists")
    store.upsert_organisation(Organisation(org_id=org_id, name=name))
    issued = issue_key(store, org_id, scopes=SCOPES, name="admin", now=now)
    if directory is not None:
        directory.forget()
    return issued


def authenticate(
    store: MeterStore | Directory, token: str | None, *, now: dt.datetime | None = None
) -> ApiKey:
    """Return the record of a valid, active key, or raise AuthenticationError.

    ``store`` may be a :class:`Directory`, which answers from memory. The
    comparison of secrets takes constant time.
    """
    if not token:
        raise AuthenticationError(
            "no API key: send 'Authorization: Bearer bgk_...' (or the header X-API-Key)"
        )
    body = token.removeprefix(KEY_PREFIX)
    key_id, _, secret = body.partition("_")
    found = store.find_api_key(key_id) if token.startswith(KEY_PREFIX) and secret else None
    if found is None or not hmac.compare_digest(found[1], _hash(secret)):
        raise AuthenticationError("the API key is not valid")
    key = found[0]
    if not key.active_at(now or _now()):
        state = "revoked" if key.revoked_at is not None else "expired"
        raise AuthenticationError(f"the API key {key.key_id} has been {state}")
    return key


class Tenant:
    """The store as one API key sees it: its organisation, limited to its sites.

    Parameters
    ----------
    store : MeterStore
        The shared store.
    key : ApiKey
        An authenticated key (see :func:`authenticate`).
    lock : context manager, optional
        Held around every store access (one DuckDB connection serves all threads).
    directory : Directory, optional
        Answers "which sites, which meter's site" from memory, and is told of every
        change this tenant makes; without one the store is asked every time.
    reader : callable, optional
        Returns a context manager that lends a store connection for read-only use
        cases (usage, bills, forecasts, readings), so they run beside the commit
        writer instead of waiting for ``lock``; default: ``store`` under ``lock``.
    """

    def __init__(
        self,
        store: MeterStore,
        key: ApiKey,
        *,
        lock: AbstractContextManager[Any] | None = None,
        directory: Directory | None = None,
        reader: Callable[[], AbstractContextManager[MeterStore]] | None = None,
    ) -> None:
        self._store = store
        self.key = key
        self._lock: AbstractContextManager[Any] = lock or contextlib.nullcontext()
        self._directory = directory
        self._reader = reader or self._locked_store

    @contextlib.contextmanager
    def _locked_store(self) -> Iterator[MeterStore]:
        with self._lock:
            yield self._store

    def _changed(self) -> None:
        if self._directory is not None:
            self._directory.forget()

    def _all_sites(self) -> dict[str, Site]:
        if self._directory is not None:
            return self._directory.sites()
        with self._lock:
            return {s.site_id: s for s in self._store.list_sites(self.org_id)}

    def _meter_sites(self, meter_ids: Iterable[str]) -> dict[str, str]:
        if self._directory is not None:
            return self._directory.meter_sites(meter_ids)
        with self._lock:
            found = self._store.find_meters(list(meter_ids))
        return {m: meter.site_id for m, meter in found.items()}

    def _reach(self, meter_id: str) -> None:
        """Raise NotFoundError unless the key reaches the meter (scope read)."""
        self.require("read")
        site_id = self._meter_sites([meter_id]).get(meter_id)
        site = self._all_sites().get(site_id) if site_id is not None else None
        if site is None or not self._site_visible(site):
            raise NotFoundError(f"meter {meter_id!r} does not exist")

    # -- what the key may do ------------------------------------------------------------
    @property
    def org_id(self) -> str:
        """The tenant's organisation id."""
        return self.key.org_id

    def require(self, scope: Scope) -> None:
        """Raise PermissionDeniedError unless the key has ``scope``."""
        if scope not in self.key.scopes:
            raise PermissionDeniedError(
                f"this API key (scopes {list(self.key.scopes)}) may not {scope}: "
                f"ask an admin of {self.org_id!r} for a key with the {scope!r} scope"
            )

    def _site_visible(self, site: Site) -> bool:
        if site.org_id != self.org_id:
            return False
        return self.key.site_ids is None or site.site_id in self.key.site_ids

    # -- organisation, sites, meters ----------------------------------------------------
    def organisation(self) -> Organisation:
        """Return the key's organisation."""
        self.require("read")
        with self._lock:
            return self._store.get_organisation(self.org_id)

    def sites(self) -> list[Site]:
        """Return the sites the key reaches, by id."""
        self.require("read")
        return self._visible_sites()

    def _visible_sites(self) -> list[Site]:
        # No scope check: also what a write-only key may write to.
        sites = self._all_sites()
        return [sites[s] for s in sorted(sites) if self._site_visible(sites[s])]

    def site(self, site_id: str) -> Site:
        """One site the key reaches, or NotFoundError."""
        self.require("read")
        return self._visible_site(site_id)

    def site_to_write(self, site_id: str) -> Site:
        """One site the key may add meters to (scope write), or NotFoundError."""
        self.require("write")
        return self._visible_site(site_id)

    def _visible_site(self, site_id: str) -> Site:
        site = self._all_sites().get(site_id)
        if site is None or not self._site_visible(site):
            raise NotFoundError(f"site {site_id!r} does not exist")
        return site

    def add_site(self, site: Site) -> Site:
        """Create a site in the key's organisation (scope admin); NotFoundError if taken."""
        self.require("admin")
        if self.key.site_ids is not None:
            raise PermissionDeniedError("a key limited to some sites may not create sites")
        with self._lock:
            try:
                existing = self._store.get_site(site.site_id)
            except NotFoundError:
                existing = None
            if existing is not None:
                if existing.org_id != self.org_id:
                    # Never confirm another tenant's id: refuse as a name clash.
                    raise ValueError(f"site id {site.site_id!r} is not available")
                raise ValueError(f"site {site.site_id!r} already exists")
            site = Site(
                site_id=site.site_id, org_id=self.org_id, name=site.name, timezone=site.timezone
            )
            self._store.upsert_site(site)
        self._changed()
        return site

    def meters(self) -> list[MeterSummary]:
        """Every meter the key reaches, with what the store holds of it."""
        self.require("read")
        visible = {s.site_id for s in self.sites()}
        with self._reader() as store:
            return [m for m in store.list_meters() if m.meter.site_id in visible]

    def meter(self, meter_id: str) -> Meter:
        """One meter the key reaches, or NotFoundError."""
        self._reach(meter_id)
        with self._lock:
            found = self._store.find_meters([meter_id]).get(meter_id)
        if found is None:
            raise NotFoundError(f"meter {meter_id!r} does not exist")
        return found

    def meter_summary(self, meter_id: str) -> MeterSummary:
        """One meter the key reaches with its reading count, span and energy."""
        self.meter(meter_id)
        with self._lock:
            return self._store.list_meters([meter_id])[0]

    def add_meter(self, meter: Meter) -> Meter:
        """Register a meter on one of the key's sites (scope write)."""
        self.require("write")
        self._visible_site(meter.site_id)
        with self._lock:
            existing = self._store.find_meters([meter.meter_id]).get(meter.meter_id)
            if existing is not None:
                if self._site_visible(self._store.get_site(existing.site_id)):
                    raise ValueError(f"meter {meter.meter_id!r} already exists")
                raise ValueError(f"meter id {meter.meter_id!r} is not available")
            self._store.upsert_meter(meter)
        self._changed()
        return meter

    def ingest(self, table: pa.Table, commit: Callable[[pa.Table], T]) -> T:
        """Check that the key may write every reading of ``table``, then ``commit(table)``.

        Parameters
        ----------
        table : pyarrow.Table
            Readings with a ``meter_id`` column.
        commit : callable
            Writes the checked table (e.g. :meth:`CommitQueue.submit`).

        Raises
        ------
        PermissionDeniedError
            Without the write scope.
        IngestError
            Naming the first record (1-based) whose meter the key does not reach.
        """
        self.require("write")
        unique = pc.unique(table.column("meter_id")).to_pylist()
        visible = {s.site_id for s in self._visible_sites()}
        found = self._meter_sites(unique)
        reachable = {m for m, site_id in found.items() if site_id in visible}
        if len(reachable) < len(unique):
            ids = table.column("meter_id").to_pylist()
            index, meter_id = next((i, m) for i, m in enumerate(ids) if m not in reachable)
            raise IngestError(
                f"meter {meter_id!r} does not exist; register it first with POST /v1/meters",
                source="request",
                line=index + 1,
                field="meter_id",
            )
        return commit(table)

    # -- keys -----------------------------------------------------------------------------
    def api_keys(self) -> list[ApiKey]:
        """Every key of the organisation this key may administer (scope admin)."""
        self.require("admin")
        with self._lock:
            keys = self._store.list_api_keys(self.org_id)
        return [k for k in keys if self._key_visible(k)]

    def _key_visible(self, key: ApiKey) -> bool:
        # A key limited to some sites administers only keys limited to those sites;
        # it must neither see nor revoke the keys that reach further.
        if key.org_id != self.org_id:
            return False
        if self.key.site_ids is None:
            return True
        return key.site_ids is not None and set(key.site_ids) <= set(self.key.site_ids)

    def issue_key(
        self,
        *,
        scopes: Iterable[str],
        name: str = "",
        site_ids: Sequence[str] | None = None,
        share: bool = False,
        expires_at: dt.datetime | None = None,
    ) -> IssuedKey:
        """Issue a key of this organisation (scope admin); see :func:`issue_key`."""
        self.require("admin")
        if self.key.site_ids is not None:
            limit = set(self.key.site_ids)
            if site_ids is None or not set(site_ids) <= limit:
                raise PermissionDeniedError(
                    "a key limited to some sites may only issue keys limited to those sites"
                )
        with self._lock:
            issued = issue_key(
                self._store,
                self.org_id,
                scopes=scopes,
                name=name,
                site_ids=site_ids,
                share=share,
                expires_at=expires_at,
            )
        self._changed()
        return issued

    def revoke_key(self, key_id: str) -> ApiKey:
        """Revoke a key of this organisation (scope admin)."""
        self.require("admin")
        with self._lock:
            found = self._store.find_api_key(key_id)
            if found is None or not self._key_visible(found[0]):
                raise NotFoundError(f"API key {key_id!r} does not exist")
            revoked = self._store.revoke_api_key(self.org_id, key_id, _now())
        self._changed()
        return revoked

    # -- readings -----------------------------------------------------------------------
    def readings(
        self,
        meter_id: str,
        *,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        after: dt.datetime | None = None,
        limit: int = 1000,
    ) -> pa.Table:
        """Return a page of a meter's readings in ``[start, end)`` after ``after``, by time."""
        self._reach(meter_id)
        bounds = [start, after + dt.timedelta(microseconds=1) if after is not None else None]
        lo = max((t for t in bounds if t is not None), default=None)
        with self._reader() as store:
            return store.read_readings(meter_id, lo, end, limit=limit)

    def run(self, meter_id: str, use_case: Any, *args: Any, **kwargs: Any) -> Any:
        """Call a read-only ``use_case(store, meter_id, ...)`` on a meter the key reaches."""
        self._reach(meter_id)
        with self._reader() as store:
            return use_case(store, meter_id, *args, **kwargs)
