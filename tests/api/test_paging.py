"""Every list in the OpenAPI schema is paged: walking its pages returns each item once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .conftest import KST, Org, hourly, make_org

PAGE = 2


def list_routes(client: TestClient) -> list[str]:
    """GET paths of the schema that take a ``cursor``: the lists."""
    schema = client.app.openapi()  # type: ignore[attr-defined]
    return sorted(
        path
        for path, ops in schema["paths"].items()
        if "get" in ops and any(p["name"] == "cursor" for p in ops["get"].get("parameters", []))
    )


@pytest.fixture
def org(client: TestClient) -> Org:
    a = make_org(client, "alpha", sites=3, meters_per_site=2, days=3)
    for n in range(4):
        client.post("/v1/keys", json={"scopes": ["read"], "name": f"k{n}"}, headers=a.headers)
    # A meter with gaps and a spike, so the quality list has several findings.
    gappy = "alpha-gappy"
    r = client.post(
        "/v1/meters",
        json={"meter_id": gappy, "site_id": a.sites[0], "interval_s": 3600},
        headers=a.headers,
    )
    assert r.status_code == 201
    readings = [
        r
        for i, r in enumerate(hourly(gappy, 20, start=dt.datetime(2026, 9, 1, tzinfo=KST)))
        if i % 37 not in (5, 6, 7)
    ]
    for i in range(0, len(readings), 61):
        readings[i]["energy_kwh"] = 250.0
    assert (
        client.post("/v1/readings", json={"readings": readings}, headers=a.headers).status_code
        == 200
    )
    a.meters.append(gappy)
    return a


def fill(path: str, org: Org) -> str:
    values = {"meter_id": org.meters[-1], "site_id": org.sites[0]}
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    if "{" in path:
        pytest.fail(f"test_paging cannot fill the path parameters of {path}: add them to fill()")
    return path


EXTRA = {"/v1/meters/{meter_id}/usage": {"period": "hour"}}


def test_every_list_walks_all_pages_without_duplicates_or_losses(
    client: TestClient, org: Org
) -> None:
    routes = list_routes(client)
    assert {"/v1/keys", "/v1/sites", "/v1/meters", "/v1/meters/{meter_id}/readings"} <= set(routes)
    for route in routes:
        url = fill(route, org)
        extra: dict[str, Any] = EXTRA.get(route, {})
        whole = client.get(url, params={**extra, "limit": 1000}, headers=org.headers)
        assert whole.status_code == 200, (route, whole.text)
        everything = whole.json()["items"]
        assert whole.json()["next_cursor"] is None
        assert len(everything) > PAGE, f"{route}: give the fixture more than {PAGE} items to page"
        walked: list[Any] = []
        cursor = None
        pages = 0
        while True:
            params = {**extra, "limit": PAGE, **({"cursor": cursor} if cursor else {})}
            r = client.get(url, params=params, headers=org.headers)
            assert r.status_code == 200, (route, r.text)
            page = r.json()
            assert len(page["items"]) <= PAGE
            walked.extend(page["items"])
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
            assert pages <= len(everything), f"{route}: the cursor does not advance"
        assert walked == everything, route
        assert pages == -(-len(everything) // PAGE), route


@pytest.mark.parametrize("limit", [0, 1001, -1])
def test_page_size_is_bounded(client: TestClient, org: Org, limit: int) -> None:
    for route in list_routes(client):
        r = client.get(fill(route, org), params={"limit": limit}, headers=org.headers)
        assert r.status_code == 422, route
        assert r.json()["errors"][0]["field"] == "query:/limit"
