"""Tenants and keys in the data-access layer: what a key reaches, and nothing more."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading

import pyarrow as pa
import pytest

from bitgoeul.errors import AuthenticationError, IngestError, NotFoundError, PermissionDeniedError
from bitgoeul.ingest.source import READINGS_SCHEMA
from bitgoeul.model import Meter, Site
from bitgoeul.services.tenancy import (
    Directory,
    Tenant,
    authenticate,
    create_organisation,
    issue_key,
)
from bitgoeul.store import DuckDBStore

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@pytest.fixture
def two(store: DuckDBStore) -> DuckDBStore:
    for org in ("a", "b"):
        create_organisation(store, org)
        for s in (1, 2):
            store.upsert_site(Site(site_id=f"{org}-s{s}", org_id=org))
            store.upsert_meter(
                Meter(meter_id=f"{org}-s{s}-m", site_id=f"{org}-s{s}", interval_s=3600)
            )
    return store


def tenant(
    store: DuckDBStore, org: str, directory: Directory | None = None, **kw: object
) -> Tenant:
    issued = issue_key(store, org, scopes=kw.pop("scopes", ["read", "write", "admin"]), **kw)  # type: ignore[arg-type]
    return Tenant(store, authenticate(store, issued.token), directory=directory)


def table(*meters: str) -> pa.Table:
    return pa.table(
        {
            "meter_id": list(meters),
            "ts": [dt.datetime(2026, 1, 1, h, tzinfo=dt.UTC) for h in range(len(meters))],
            "energy_kwh": [0.5] * len(meters),
        },
        schema=READINGS_SCHEMA,
    )


# -- keys -------------------------------------------------------------------------------------
def test_issued_key_authenticates_and_only_its_hash_is_stored(store: DuckDBStore) -> None:
    issued = create_organisation(store, "a", now=NOW)
    assert issued.token.startswith(f"bgk_{issued.key.key_id}_")
    secret = issued.token.split("_", 2)[2]
    record, stored_hash = store.find_api_key(issued.key.key_id)  # type: ignore[misc]
    assert stored_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(record)
    key = authenticate(store, issued.token)
    assert (key.org_id, key.scopes) == ("a", ("read", "write", "admin"))


@pytest.mark.parametrize(
    "token", [None, "", "bgk_", "bgk_abc", "bgk_abc_", "xyz_abc_def", "bgk_nokey_secret"]
)
def test_malformed_or_unknown_tokens_are_refused(store: DuckDBStore, token: str | None) -> None:
    create_organisation(store, "a")
    with pytest.raises(AuthenticationError):
        authenticate(store, token)


def test_a_wrong_secret_is_refused(store: DuckDBStore) -> None:
    issued = create_organisation(store, "a")
    with pytest.raises(AuthenticationError, match="not valid"):
        authenticate(store, issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B"))


def test_keys_expire_and_can_be_revoked(store: DuckDBStore) -> None:
    create_organisation(store, "a")
    expiring = issue_key(
        store, "a", scopes=["read"], expires_at=NOW + dt.timedelta(days=1), now=NOW
    )
    assert authenticate(store, expiring.token, now=NOW).key_id == expiring.key.key_id
    with pytest.raises(AuthenticationError, match="expired"):
        authenticate(store, expiring.token, now=NOW + dt.timedelta(days=1))
    admin = tenant(store, "a")
    live = issue_key(store, "a", scopes=["read"])
    admin.revoke_key(live.key.key_id)
    with pytest.raises(AuthenticationError, match="revoked"):
        authenticate(store, live.token)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scopes": []}, "non-empty"),
        ({"scopes": ["root"]}, "subset"),
        ({"scopes": ["read", "write"], "share": True}, "view-only"),
        ({"scopes": ["read"], "expires_at": dt.datetime(2030, 1, 1)}, "timezone-aware"),
        ({"scopes": ["read"], "expires_at": NOW - dt.timedelta(seconds=1)}, "future"),
    ],
)
def test_bad_key_requests_say_how_to_fix_them(
    store: DuckDBStore, kwargs: dict[str, object], message: str
) -> None:
    create_organisation(store, "a")
    with pytest.raises(ValueError, match=message):
        issue_key(store, "a", now=NOW, **kwargs)  # type: ignore[arg-type]


def test_a_key_cannot_be_limited_to_another_tenants_site(two: DuckDBStore) -> None:
    with pytest.raises(NotFoundError):
        issue_key(two, "a", scopes=["read"], site_ids=["b-s1"])


# -- what a tenant reaches ----------------------------------------------------------------------
@pytest.mark.parametrize("cached", [False, True])
def test_a_tenant_sees_only_its_own_sites_and_meters(two: DuckDBStore, cached: bool) -> None:
    a = tenant(two, "a", Directory(two) if cached else None)
    assert [s.site_id for s in a.sites()] == ["a-s1", "a-s2"]
    assert {m.meter.meter_id for m in a.meters()} == {"a-s1-m", "a-s2-m"}
    for call in (
        lambda: a.site("b-s1"),
        lambda: a.meter("b-s1-m"),
        lambda: a.readings("b-s1-m"),
        lambda: a.run("b-s1-m", lambda store, meter_id: pytest.fail("reached the store")),
    ):
        with pytest.raises(NotFoundError):
            call()
    with pytest.raises(IngestError) as caught:
        a.ingest(table("a-s1-m", "b-s1-m"), lambda t: pytest.fail("committed"))
    assert (caught.value.line, caught.value.field) == (2, "meter_id")


@pytest.mark.parametrize("cached", [False, True])
def test_a_site_limited_key_reaches_only_its_sites(two: DuckDBStore, cached: bool) -> None:
    a = tenant(two, "a", Directory(two) if cached else None, site_ids=["a-s1"])
    assert [s.site_id for s in a.sites()] == ["a-s1"]
    assert [m.meter.meter_id for m in a.meters()] == ["a-s1-m"]
    with pytest.raises(NotFoundError):
        a.meter("a-s2-m")
    with pytest.raises(PermissionDeniedError):
        a.add_site(Site(site_id="a-s3", org_id="a"))
    with pytest.raises(PermissionDeniedError):
        a.issue_key(scopes=["read"])
    assert a.issue_key(scopes=["read"], site_ids=["a-s1"]).key.site_ids == ("a-s1",)


def test_a_site_limited_admin_neither_sees_nor_revokes_wider_keys(two: DuckDBStore) -> None:
    full = tenant(two, "a")
    limited = tenant(two, "a", site_ids=["a-s1"])
    other_site = issue_key(two, "a", scopes=["read"], site_ids=["a-s2"])
    both = issue_key(two, "a", scopes=["read"], site_ids=["a-s1", "a-s2"])
    visible = {k.key_id for k in limited.api_keys()}
    assert limited.key.key_id in visible
    assert not visible & {full.key.key_id, other_site.key.key_id, both.key.key_id}
    for key_id in (full.key.key_id, other_site.key.key_id, both.key.key_id):
        with pytest.raises(NotFoundError):
            limited.revoke_key(key_id)
    assert authenticate(two, other_site.token).revoked_at is None
    assert {k.key_id for k in full.api_keys()} >= visible | {other_site.key.key_id}


def test_another_tenants_key_cannot_be_revoked(two: DuckDBStore) -> None:
    b_key = issue_key(two, "b", scopes=["read"])
    with pytest.raises(NotFoundError):
        tenant(two, "a").revoke_key(b_key.key.key_id)
    assert authenticate(two, b_key.token).org_id == "b"


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        (["read"], {"read"}),
        (["write"], {"write"}),
        (["admin"], {"admin"}),
        (["read", "write", "admin"], {"read", "write", "admin"}),
    ],
)
def test_scopes_gate_each_use(two: DuckDBStore, scopes: list[str], allowed: set[str]) -> None:
    t = tenant(two, "a", Directory(two), scopes=scopes)
    uses = {
        "read": lambda: t.meters(),
        "write": lambda: t.ingest(table("a-s1-m"), lambda tbl: tbl.num_rows),
        "admin": lambda: t.api_keys(),
    }
    for scope, use in uses.items():
        if scope in allowed:
            use()
        else:
            with pytest.raises(PermissionDeniedError, match=scope):
                use()


def test_a_write_only_key_registers_meters_and_ingests(two: DuckDBStore) -> None:
    t = tenant(two, "a", Directory(two), scopes=["write"])
    t.add_meter(Meter(meter_id="logger", site_id=t.site_to_write("a-s1").site_id))
    assert t.ingest(table("logger", "a-s1-m"), lambda tbl: tbl.num_rows) == 2
    with pytest.raises(NotFoundError):
        t.site_to_write("b-s1")
    with pytest.raises(PermissionDeniedError):
        t.meters()


def test_ids_of_other_tenants_are_refused_without_being_confirmed(two: DuckDBStore) -> None:
    a = tenant(two, "a")
    with pytest.raises(ValueError, match="not available"):
        a.add_site(Site(site_id="b-s1", org_id="a"))
    with pytest.raises(ValueError, match="not available"):
        a.add_meter(Meter(meter_id="b-s1-m", site_id="a-s1"))
    with pytest.raises(ValueError, match="already exists"):
        a.add_meter(Meter(meter_id="a-s1-m", site_id="a-s1"))


# -- the directory ------------------------------------------------------------------------------
def test_directory_answers_while_the_store_is_busy(two: DuckDBStore) -> None:
    lock = threading.RLock()
    directory = Directory(two, lock=lock)
    issued = issue_key(two, "a", scopes=["read", "write"])
    t = Tenant(two, authenticate(directory, issued.token), lock=lock, directory=directory)
    t.ingest(table("a-s1-m"), lambda tbl: None)  # warms the directory
    answered = threading.Event()

    def request() -> None:
        key = authenticate(directory, issued.token)
        Tenant(two, key, lock=lock, directory=directory).ingest(table("a-s1-m"), lambda tbl: None)
        answered.set()

    with lock:  # the commit writer holds the store
        worker = threading.Thread(target=request)
        worker.start()
        assert answered.wait(5), "authentication and reach checks waited for the store"
    worker.join()


def test_directory_sees_changes_made_through_tenants(two: DuckDBStore) -> None:
    directory = Directory(two)
    admin = tenant(two, "a", directory)
    reader = issue_key(two, "a", scopes=["read"])
    assert authenticate(directory, reader.token).org_id == "a"
    with pytest.raises(NotFoundError):
        admin.meter("late")  # a miss is not remembered
    admin.add_site(Site(site_id="a-s3", org_id="a"))
    admin.add_meter(Meter(meter_id="late", site_id="a-s3"))
    assert admin.meter("late").site_id == "a-s3"
    issued = admin.issue_key(scopes=["read"])
    assert authenticate(directory, issued.token).key_id == issued.key.key_id
    admin.revoke_key(issued.key.key_id)
    with pytest.raises(AuthenticationError, match="revoked"):
        authenticate(directory, issued.token)
    created = create_organisation(two, "c", directory=directory)
    assert authenticate(directory, created.token).org_id == "c"
