"""Fixtures of the API tests: a real app on a temporary DuckDB file, tenants with data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bitgoeul.api import Settings, create_app

OPERATOR = "operator-secret"
KST = dt.timezone(dt.timedelta(hours=9))


@dataclass
class Org:
    """A tenant made through the API: its admin token and what it holds."""

    org_id: str
    token: str
    sites: list[str] = field(default_factory=list)
    meters: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def hourly(
    meter_id: str, days: int, *, start: dt.datetime | None = None, base: float = 0.5
) -> list[dict[str, Any]]:
    """Hourly readings of ``days`` days from ``start`` (default 2026-10-01 00:00 KST)."""
    t0 = start or dt.datetime(2026, 10, 1, tzinfo=KST)
    return [
        {
            "meter_id": meter_id,
            "ts": (t0 + dt.timedelta(hours=h)).isoformat(),
            "energy_kwh": round(base + (h % 24) / 48, 6),
        }
        for h in range(days * 24)
    ]


def make_org(
    client: TestClient, org_id: str, *, sites: int = 1, meters_per_site: int = 1, days: int = 0
) -> Org:
    """Create an organisation with sites, meters and ``days`` of hourly readings each."""
    r = client.post(
        "/v1/organisations",
        json={"org_id": org_id, "name": org_id.upper()},
        headers={"X-Operator-Token": OPERATOR},
    )
    assert r.status_code == 201, r.text
    org = Org(org_id=org_id, token=r.json()["admin_key"]["token"])
    for s in range(sites):
        site_id = f"{org_id}-site{s}"
        r = client.post("/v1/sites", json={"site_id": site_id, "name": "본사"}, headers=org.headers)
        assert r.status_code == 201, r.text
        org.sites.append(site_id)
        for m in range(meters_per_site):
            meter_id = f"{site_id}-m{m}"
            r = client.post(
                "/v1/meters",
                json={
                    "meter_id": meter_id,
                    "site_id": site_id,
                    "interval_s": 3600,
                    "contract_class": "residential-low",
                },
                headers=org.headers,
            )
            assert r.status_code == 201, r.text
            org.meters.append(meter_id)
            if days:
                r = client.post(
                    "/v1/readings", json={"readings": hourly(meter_id, days)}, headers=org.headers
                )
                assert r.status_code == 200, r.text
    return org


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(store_path=str(tmp_path / "s.duckdb"), operator_token=OPERATOR)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c
