"""Tenant isolation, generated from the OpenAPI schema so that new routes are covered.

For every operation of ``app.openapi()`` a caller is pointed at a victim's
resources: path parameters and ``site_id`` queries name the victim's ids, bodies
reference the victim's site or meter. The caller must get 401/403/404/422 wherever
it names the victim, never a 2xx or a 5xx, and no answer may contain an id or a
value of the victim that the caller did not send itself. Afterwards the victim's
data must be unchanged. A route whose parameters or body the generator cannot
fill fails the test: teach :func:`path_values` or :data:`BODIES` about it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .conftest import Org, auth, hourly, make_org

DENIED = {401, 403, 404, 422}
VICTIM_KWH = 3.14159  # a value no other reading has


@dataclass
class Scenario:
    caller: dict[str, str]
    victim_org: str | None
    victim_sites: list[str]
    victim_meters: list[str]
    victim_keys: list[str]
    secrets: list[str]

    def forbidden(self) -> list[str]:
        ids = [*self.victim_sites, *self.victim_meters, *self.victim_keys, *self.secrets]
        if self.victim_org:
            ids += [self.victim_org, self.victim_org.upper()]
        return [*ids, str(VICTIM_KWH)]


def setup(client: TestClient, kind: str) -> tuple[Scenario, Org]:
    a = make_org(client, "alpha", sites=2, days=2)
    b = make_org(client, "beta", sites=1, meters_per_site=2, days=0)
    for m in b.meters:
        readings = hourly(m, 21)
        for r in readings:
            r["energy_kwh"] = VICTIM_KWH
        assert (
            client.post("/v1/readings", json={"readings": readings}, headers=b.headers).status_code
            == 200
        )
    share = client.post(
        "/v1/keys", json={"scopes": ["read"], "share": True}, headers=b.headers
    ).json()
    b_keys = [b.token.split("_")[1], share["key_id"]]
    if kind == "other tenant":
        scenario = Scenario(
            caller=a.headers,
            victim_org=b.org_id,
            victim_sites=b.sites,
            victim_meters=b.meters,
            victim_keys=b_keys,
            secrets=[b.token.split("_", 2)[2], share["token"].split("_", 2)[2]],
        )
        return scenario, b
    # A key of alpha limited to its first site, pointed at alpha's second site.
    limited = client.post(
        "/v1/keys",
        json={"scopes": ["read", "write", "admin"], "site_ids": [a.sites[0]]},
        headers=a.headers,
    ).json()
    for m in a.meters[1:]:
        readings = hourly(m, 21)
        for r in readings:
            r["energy_kwh"] = VICTIM_KWH
        r = client.post(
            "/v1/readings",
            params={"on_conflict": "correct"},
            json={"readings": readings},
            headers=a.headers,
        )
        assert r.status_code == 200
    victim = Org(org_id=a.org_id, token=a.token, sites=a.sites[1:], meters=a.meters[1:])
    scenario = Scenario(
        caller=auth(limited["token"]),
        victim_org=None,
        victim_sites=a.sites[1:],
        victim_meters=a.meters[1:],
        victim_keys=[a.token.split("_")[1]],
        secrets=[a.token.split("_", 2)[2]],
    )
    return scenario, victim


def path_values(s: Scenario) -> dict[str, str]:
    values = {"meter_id": s.victim_meters[0], "site_id": s.victim_sites[0]}
    if s.victim_keys:
        values["key_id"] = s.victim_keys[0]
    return values


BODIES: dict[tuple[str, str], Any] = {
    ("post", "/v1/organisations"): lambda s: {"org_id": s.victim_org or "alpha2"},
    ("post", "/v1/keys"): lambda s: {"scopes": ["read"], "site_ids": [s.victim_sites[0]]},
    ("post", "/v1/sites"): lambda s: {"site_id": s.victim_sites[0]},
    ("post", "/v1/meters"): lambda s: {"meter_id": "intruder", "site_id": s.victim_sites[0]},
    ("post", "/v1/readings"): lambda s: {
        "readings": [
            {"meter_id": s.victim_meters[0], "ts": "2026-10-01T00:00:00+09:00", "energy_kwh": 99.0}
        ]
    },
}
# Bodies that write the caller's own data are not the point here; these name the victim.


def operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    schema = client.app.openapi()  # type: ignore[attr-defined]
    return [
        (method, path, op)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def victim_state(client: TestClient, victim: Org) -> Any:
    h = victim.headers
    keys = client.get("/v1/keys", headers=h)
    return (
        client.get("/v1/sites", headers=h).json(),
        client.get("/v1/meters", params={"limit": 1000}, headers=h).json(),
        [k for k in keys.json()["items"]] if keys.status_code == 200 else keys.status_code,
        [
            client.get(f"/v1/meters/{m}/readings", params={"limit": 1000}, headers=h).json()
            for m in victim.meters
        ],
    )


@pytest.mark.parametrize("kind", ["other tenant", "other site"])
def test_no_route_gives_a_caller_the_victims_data(client: TestClient, kind: str) -> None:
    scenario, victim = setup(client, kind)
    before = victim_state(client, victim)
    values = path_values(scenario)
    checked = []
    for method, path, op in operations(client):
        url = path
        names_victim = False
        for param in op.get("parameters", []):
            if param["in"] == "path":
                if param["name"] not in values:
                    pytest.fail(
                        f"{method.upper()} {path}: no victim value for path parameter {param['name']!r}"
                    )
                url = url.replace("{" + param["name"] + "}", values[param["name"]])
                names_victim = True
            elif param.get("required"):
                pytest.fail(
                    f"{method.upper()} {path}: required {param['in']} parameter {param['name']!r}"
                )
        query = {}
        if any(p["name"] == "site_id" and p["in"] == "query" for p in op.get("parameters", [])):
            query["site_id"] = scenario.victim_sites[0]
        body = None
        if "requestBody" in op:
            make = BODIES.get((method, path))
            if make is None:
                pytest.fail(f"{method.upper()} {path}: add a body naming the victim to BODIES")
            body = make(scenario)
            names_victim = True
        r = client.request(method.upper(), url, params=query, json=body, headers=scenario.caller)
        sent = url + json.dumps(query) + json.dumps(body)
        where = f"{kind}: {method.upper()} {url} -> {r.status_code}"
        assert r.status_code < 500, where + " " + r.text[:300]
        if names_victim:
            assert r.status_code in DENIED, where + " " + r.text[:300]
        leaked = [s for s in scenario.forbidden() if s not in sent and s in r.text]
        assert not leaked, f"{where} leaks {leaked}: {r.text[:300]}"
        checked.append((method, path))
    assert len(checked) >= 18
    assert victim_state(client, victim) == before
    # and the victim's keys still work
    assert client.get("/v1/organisation", headers=victim.headers).status_code == 200


def test_unknown_routes_are_problem_404(client: TestClient) -> None:
    a = make_org(client, "alpha")
    r = client.get("/v1/nothing", headers=a.headers)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
