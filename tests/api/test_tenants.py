"""Organisations, API keys and sites through the HTTP API."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from bitgoeul.api import Settings, create_app
from bitgoeul.services.tenancy import create_organisation, issue_key
from bitgoeul.store import open_store

from .conftest import OPERATOR, auth, hourly, make_org

PROBLEM = "application/problem+json"


def all_text_in_store(path: str) -> list[str]:
    """Every value of every table of a DuckDB file, as text."""
    con = duckdb.connect(path, read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        out: list[str] = []
        for t in tables:
            for row in con.execute(f'SELECT * FROM "{t}"').fetchall():
                out.extend(str(v) for v in row)
        return out
    finally:
        con.close()


# -- organisations -----------------------------------------------------------------------
def test_create_organisation_needs_the_operator_token(client: TestClient) -> None:
    body = {"org_id": "acme", "name": "Acme"}
    missing = client.post("/v1/organisations", json=body)
    wrong = client.post("/v1/organisations", json=body, headers={"X-Operator-Token": "nope"})
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["content-type"] == PROBLEM
    assert missing.headers["www-authenticate"] == "Bearer"
    ok = client.post("/v1/organisations", json=body, headers={"X-Operator-Token": OPERATOR})
    assert ok.status_code == 201
    created = ok.json()
    assert created["organisation"] == {"org_id": "acme", "name": "Acme"}
    assert created["admin_key"]["scopes"] == ["read", "write", "admin"]
    assert created["admin_key"]["token"].startswith("bgk_" + created["admin_key"]["key_id"] + "_")
    again = client.post("/v1/organisations", json=body, headers={"X-Operator-Token": OPERATOR})
    assert again.status_code == 422
    assert "already exists" in again.json()["detail"]


def test_service_without_operator_token_refuses_to_create_organisations(tmp_path: Path) -> None:
    app = create_app(Settings(store_path=str(tmp_path / "s.duckdb")))
    with TestClient(app) as client:
        r = client.post(
            "/v1/organisations", json={"org_id": "acme"}, headers={"X-Operator-Token": ""}
        )
    assert r.status_code == 401
    assert "bitgoeul org create" in r.json()["detail"]


def test_get_organisation_returns_the_keys_own(client: TestClient) -> None:
    a = make_org(client, "alpha")
    make_org(client, "beta")
    r = client.get("/v1/organisation", headers=a.headers)
    assert r.status_code == 200
    assert r.json() == {"org_id": "alpha", "name": "ALPHA"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer bgk_nothere_secret"},
        {"Authorization": "Bearer not-a-key"},
        {"X-API-Key": "bgk_"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_requests_without_a_valid_key_are_401(client: TestClient, headers: dict[str, str]) -> None:
    make_org(client, "alpha")
    r = client.get("/v1/meters", headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "/problems/unauthenticated"


def test_a_key_with_a_wrong_secret_is_refused(client: TestClient) -> None:
    a = make_org(client, "alpha")
    prefix = a.token.rsplit("_", 1)[0]
    r = client.get("/v1/organisation", headers=auth(prefix + "_" + "x" * 32))
    assert r.status_code == 401


# -- keys -----------------------------------------------------------------------------------
def test_keys_are_shown_once_and_stored_hashed(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        a = make_org(client, "alpha")
        issued = client.post(
            "/v1/keys", json={"scopes": ["read"], "name": "exporter"}, headers=a.headers
        )
        assert issued.status_code == 201
        token = issued.json()["token"]
        listed = client.get("/v1/keys", headers=a.headers).json()["items"]
        assert {k["key_id"] for k in listed} == {
            issued.json()["key_id"],
            a.token.split("_")[1],
        }
        assert all("token" not in k for k in listed)
        assert token not in client.get("/v1/keys", headers=a.headers).text
        assert client.get("/v1/organisation", headers=auth(token)).status_code == 200
    secrets = [t.split("_", 2)[2] for t in (token, a.token)]
    stored = all_text_in_store(settings.store_path)
    for secret in secrets:
        assert not any(secret in value for value in stored)
        assert hashlib.sha256(secret.encode()).hexdigest() in stored
    raw = b"".join(
        p.read_bytes() for p in Path(settings.store_path).parent.iterdir() if p.is_file()
    )
    assert not any(secret.encode() in raw for secret in secrets)


def test_scopes_limit_what_a_key_may_do(client: TestClient) -> None:
    a = make_org(client, "alpha", days=1)
    meter, site = a.meters[0], a.sites[0]
    tokens = {
        scope: client.post("/v1/keys", json={"scopes": [scope]}, headers=a.headers).json()["token"]
        for scope in ("read", "write", "admin")
    }
    batch = {"readings": hourly(meter, 1)}
    # read: may read, not write, not administer
    assert client.get(f"/v1/meters/{meter}", headers=auth(tokens["read"])).status_code == 200
    assert client.post("/v1/readings", json=batch, headers=auth(tokens["read"])).status_code == 403
    assert client.get("/v1/keys", headers=auth(tokens["read"])).status_code == 403
    # write: may post readings and meters, not create sites or keys
    assert client.post("/v1/readings", json=batch, headers=auth(tokens["write"])).status_code == 200
    r = client.post(
        "/v1/meters", json={"meter_id": "w1", "site_id": site}, headers=auth(tokens["write"])
    )
    assert r.status_code == 201
    assert (
        client.post("/v1/sites", json={"site_id": "new"}, headers=auth(tokens["write"])).status_code
        == 403
    )
    assert (
        client.post(
            "/v1/keys", json={"scopes": ["read"]}, headers=auth(tokens["write"])
        ).status_code
        == 403
    )
    # admin alone: keys, sites; but not readings
    assert client.get("/v1/keys", headers=auth(tokens["admin"])).status_code == 200
    assert client.post("/v1/readings", json=batch, headers=auth(tokens["admin"])).status_code == 403
    forbidden = client.post("/v1/readings", json=batch, headers=auth(tokens["read"]))
    assert forbidden.headers["content-type"] == PROBLEM
    assert "write" in forbidden.json()["detail"]


def test_site_limited_key_reaches_only_its_sites(client: TestClient) -> None:
    a = make_org(client, "alpha", sites=2, days=1)
    mine, other = a.sites
    mine_meter, other_meter = a.meters
    r = client.post(
        "/v1/keys", json={"scopes": ["read", "write"], "site_ids": [mine]}, headers=a.headers
    )
    assert r.status_code == 201
    token = r.json()["token"]
    assert [s["site_id"] for s in client.get("/v1/sites", headers=auth(token)).json()["items"]] == [
        mine
    ]
    assert [
        m["meter_id"] for m in client.get("/v1/meters", headers=auth(token)).json()["items"]
    ] == [mine_meter]
    assert client.get(f"/v1/sites/{other}", headers=auth(token)).status_code == 404
    assert client.get(f"/v1/meters/{other_meter}/usage", headers=auth(token)).status_code == 404
    assert client.get(f"/v1/meters/{mine_meter}/usage", headers=auth(token)).status_code == 200
    r = client.post(
        "/v1/readings", json={"readings": hourly(other_meter, 1, base=9.0)}, headers=auth(token)
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body:/readings/0/meter_id"
    r = client.post("/v1/meters", json={"meter_id": "x", "site_id": other}, headers=auth(token))
    assert r.status_code == 404


def test_site_limited_admin_may_not_widen_its_reach(client: TestClient) -> None:
    a = make_org(client, "alpha", sites=2)
    r = client.post(
        "/v1/keys", json={"scopes": ["admin", "read"], "site_ids": [a.sites[0]]}, headers=a.headers
    )
    limited = r.json()["token"]
    assert (
        client.post("/v1/keys", json={"scopes": ["read"]}, headers=auth(limited)).status_code == 403
    )
    wider = {"scopes": ["read"], "site_ids": a.sites}
    assert client.post("/v1/keys", json=wider, headers=auth(limited)).status_code == 403
    narrow = {"scopes": ["read"], "site_ids": [a.sites[0]]}
    assert client.post("/v1/keys", json=narrow, headers=auth(limited)).status_code == 201
    assert (
        client.post("/v1/sites", json={"site_id": "more"}, headers=auth(limited)).status_code == 403
    )


def test_share_keys_are_read_only(client: TestClient) -> None:
    a = make_org(client, "alpha", days=1)
    bad = client.post(
        "/v1/keys", json={"scopes": ["read", "write"], "share": True}, headers=a.headers
    )
    assert bad.status_code == 422
    assert "view-only" in bad.json()["detail"]
    r = client.post(
        "/v1/keys", json={"scopes": ["read"], "share": True, "site_ids": a.sites}, headers=a.headers
    )
    assert r.status_code == 201
    assert r.json()["share"] is True
    share = auth(r.json()["token"])
    assert client.get(f"/v1/meters/{a.meters[0]}/usage", headers=share).status_code == 200
    assert (
        client.post(
            "/v1/readings", json={"readings": hourly(a.meters[0], 1)}, headers=share
        ).status_code
        == 403
    )
    assert client.post("/v1/keys", json={"scopes": ["read"]}, headers=share).status_code == 403


def test_key_limited_to_an_unknown_site_is_refused(client: TestClient) -> None:
    a = make_org(client, "alpha")
    b = make_org(client, "beta")
    r = client.post(
        "/v1/keys", json={"scopes": ["read"], "site_ids": [b.sites[0]]}, headers=a.headers
    )
    assert r.status_code == 404
    assert b.sites[0] in r.json()["detail"]  # the id the caller sent, nothing more


def test_revoked_keys_stop_working_at_once(client: TestClient) -> None:
    a = make_org(client, "alpha")
    r = client.post("/v1/keys", json={"scopes": ["read"]}, headers=a.headers).json()
    assert client.get("/v1/organisation", headers=auth(r["token"])).status_code == 200
    revoked = client.delete(f"/v1/keys/{r['key_id']}", headers=a.headers)
    assert revoked.status_code == 200
    assert revoked.json()["active"] is False
    assert revoked.json()["revoked_at"] is not None
    after = client.get("/v1/organisation", headers=auth(r["token"]))
    assert after.status_code == 401
    assert "revoked" in after.json()["detail"]
    assert client.delete("/v1/keys/nosuchkey", headers=a.headers).status_code == 404


def test_a_tenant_cannot_revoke_another_tenants_key(client: TestClient) -> None:
    a = make_org(client, "alpha")
    b = make_org(client, "beta")
    b_key = b.token.split("_")[1]
    assert client.delete(f"/v1/keys/{b_key}", headers=a.headers).status_code == 404
    assert client.get("/v1/organisation", headers=b.headers).status_code == 200


def test_expired_keys_are_refused(settings: Settings) -> None:
    store = open_store(settings.store_path)
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    create_organisation(store, "alpha")
    expired = issue_key(
        store, "alpha", scopes=["read"], expires_at=long_ago + dt.timedelta(days=1), now=long_ago
    )
    live = issue_key(
        store, "alpha", scopes=["read"], expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    )
    store.close()
    with TestClient(create_app(settings)) as client:
        r = client.get("/v1/organisation", headers=auth(expired.token))
        assert r.status_code == 401
        assert "expired" in r.json()["detail"]
        assert client.get("/v1/organisation", headers=auth(live.token)).status_code == 200


def test_new_keys_must_expire_in_the_future(client: TestClient) -> None:
    a = make_org(client, "alpha")
    past = {"scopes": ["read"], "expires_at": "2020-01-01T00:00:00+09:00"}
    assert client.post("/v1/keys", json=past, headers=a.headers).status_code == 422
    naive = {"scopes": ["read"], "expires_at": "2030-01-01T00:00:00"}
    assert client.post("/v1/keys", json=naive, headers=a.headers).status_code == 422
    future = {"scopes": ["read"], "expires_at": "2099-01-01T00:00:00+09:00"}
    r = client.post("/v1/keys", json=future, headers=a.headers)
    assert r.status_code == 201
    expected = dt.datetime(2098, 12, 31, 15, tzinfo=dt.UTC)
    assert dt.datetime.fromisoformat(r.json()["expires_at"]) == expected
    listed = {k["key_id"]: k for k in client.get("/v1/keys", headers=a.headers).json()["items"]}
    assert dt.datetime.fromisoformat(listed[r.json()["key_id"]]["expires_at"]) == expected


# -- sites ----------------------------------------------------------------------------------
def test_sites_are_created_listed_and_read(client: TestClient) -> None:
    a = make_org(client, "alpha", sites=0)
    r = client.post(
        "/v1/sites",
        json={"site_id": "hq", "name": "본사", "timezone": "Asia/Seoul"},
        headers=a.headers,
    )
    assert r.status_code == 201
    assert r.json() == {"site_id": "hq", "name": "본사", "timezone": "Asia/Seoul"}
    assert client.get("/v1/sites/hq", headers=a.headers).json() == r.json()
    assert client.get("/v1/sites", headers=a.headers).json()["items"] == [r.json()]
    dup = client.post("/v1/sites", json={"site_id": "hq"}, headers=a.headers)
    assert dup.status_code == 422
    bad_zone = client.post(
        "/v1/sites", json={"site_id": "x", "timezone": "Mars/Base"}, headers=a.headers
    )
    assert bad_zone.status_code == 422
    bad_id = client.post("/v1/sites", json={"site_id": "../etc"}, headers=a.headers)
    assert bad_id.status_code == 422
    assert bad_id.json()["errors"][0]["field"] == "body:/site_id"


def test_site_ids_of_another_tenant_are_not_confirmed(client: TestClient) -> None:
    a = make_org(client, "alpha")
    b = make_org(client, "beta")
    r = client.post("/v1/sites", json={"site_id": b.sites[0]}, headers=a.headers)
    assert r.status_code == 422
    assert "not available" in r.json()["detail"]
    assert "beta" not in r.text.replace(b.sites[0], "")
