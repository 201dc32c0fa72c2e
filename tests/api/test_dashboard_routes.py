from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from bitgoeul.api import Settings, create_app
from bitgoeul.services import MeterDefaults, ingest_frame
from bitgoeul.services.tenancy import create_organisation, issue_key
from bitgoeul.store import open_store
from bitgoeul.synthetic import generate_readings

SEOUL = ZoneInfo("Asia/Seoul")


@dataclass(frozen=True)
class Keys:
    admin: str
    share: str
    rival: str


def _meter(table: pa.Table, meter_id: str) -> pa.Table:
    ids = pa.array([meter_id] * table.num_rows, pa.string())
    return table.set_column(table.schema.get_field_index("meter_id"), "meter_id", ids)


@pytest.fixture(scope="module")
def client_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Keys]]:
    path: Path = tmp_path_factory.mktemp("dashboard-api") / "s.duckdb"
    store = open_store(str(path))
    admin = create_organisation(store, "acme")
    rival = create_organisation(store, "rival")
    year = generate_readings(1, 35_040, start=dt.datetime(2025, 11, 15, tzinfo=SEOUL), seed=4)
    home = generate_readings(1, 24 * 90, interval_s=3600, seed=5)
    for table, meter_id, org, site in (
        (year, "plant-main", "acme", "plant"),
        (home, "home-main", "acme", "home"),
        (home, "rival-main", "rival", "rival-hq"),
    ):
        defaults = MeterDefaults(org_id=org, site_id=site, contract_class="residential-low")
        ingest_frame(_meter(table, meter_id), store, defaults=defaults)
    share = issue_key(store, "acme", scopes=["read"], share=True, site_ids=["home"])
    store.close()
    with TestClient(create_app(Settings(store_path=str(path)))) as client:
        yield client, Keys(admin.token, share.token, rival.token)


@pytest.fixture
def client(client_keys: tuple[TestClient, Keys]) -> TestClient:
    return client_keys[0]


@pytest.fixture
def keys(client_keys: tuple[TestClient, Keys]) -> Keys:
    return client_keys[1]


def test_meter_dashboard_route_returns_compact_aggregates(client: TestClient, keys: Keys) -> None:
    response = client.get(
        "/v1/meters/plant-main/dashboard?lang=en", headers={"Authorization": f"Bearer {keys.admin}"}
    )
    assert response.status_code == 200
    assert len(response.content) < 30_000  # a year of 15-minute readings, aggregated
    board = response.json()
    assert board["meter"]["readings"] == 35_040
    assert board["today"]["date"] == "2026-11-14"
    assert len(board["today"]["today_kw"]) == 96
    assert len(board["daily"]["dates"]) == 30 and len(board["monthly"]["months"]) == 12
    assert board["bill"]["forecast"]["p10_kwh"] <= board["bill"]["forecast"]["p90_kwh"]
    assert len(board["forecast"]["ts"]) == 192
    assert board["lang"] == "en" and board["labels"]["code_gap"] == "gap"


def test_fleet_lists_exactly_the_meters_the_key_reaches(client: TestClient, keys: Keys) -> None:
    def fleet(key: str) -> list[str]:
        response = client.get("/v1/fleet", headers={"X-API-Key": key})
        assert response.status_code == 200
        return [m["meter_id"] for m in response.json()["items"]]

    assert fleet(keys.admin) == ["home-main", "plant-main"]
    assert fleet(keys.share) == ["home-main"]  # limited to site home
    assert fleet(keys.rival) == ["rival-main"]


def test_fleet_rows_carry_status_and_energy(client: TestClient, keys: Keys) -> None:
    body = client.get("/v1/fleet?lang=ko", headers={"X-API-Key": keys.admin}).json()
    plant = next(m for m in body["items"] if m["meter_id"] == "plant-main")
    assert plant["today"] == "2026-11-14"
    assert plant["last_reading"] == "2026-11-14T23:45:00+09:00"
    assert plant["today_kwh"] > 0 and plant["month_kwh"] > plant["today_kwh"]
    assert plant["quality"]["status"] in ("ok", "warning")
    assert plant["quality"]["total"] == sum(plant["quality"]["counts"].values())
    assert body["labels"]["quality_ok"] == "정상"


@pytest.mark.parametrize(
    ("who", "meter_id"),
    [("share", "plant-main"), ("rival", "plant-main"), ("admin", "rival-main"), ("admin", "nope")],
)
def test_meter_dashboard_of_an_unreachable_meter_is_404(
    client: TestClient, keys: Keys, who: str, meter_id: str
) -> None:
    response = client.get(
        f"/v1/meters/{meter_id}/dashboard", headers={"X-API-Key": getattr(keys, who)}
    )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "readings" not in response.text


@pytest.mark.parametrize("path", ["/v1/fleet", "/v1/meters/plant-main/dashboard"])
def test_dashboard_json_needs_a_key(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"X-API-Key": "bgk_x_y"}).status_code == 401


def test_lang_must_be_korean_or_english(client: TestClient, keys: Keys) -> None:
    response = client.get("/v1/fleet?lang=fr", headers={"X-API-Key": keys.admin})
    assert response.status_code == 422


def test_page_and_its_files_are_served_offline(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert '<script src="/web/plotly.min.js"' in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from a CDN
    plotly = client.get("/web/plotly.min.js")
    assert plotly.status_code == 200
    assert len(plotly.content) > 1_000_000 and b"plotly.js" in plotly.content[:500]
    assert "max-age" in plotly.headers["cache-control"]
    assert client.get("/web/app.js").headers["content-type"].startswith("text/javascript")
    strings = client.get("/web/i18n.json").json()
    assert strings["ko"].keys() == strings["en"].keys()
    assert client.get("/web/secret.py").status_code == 404
    assert client.get("/web/..%2Fapi%2Fapp.py").status_code == 404


def test_openapi_documents_the_json_routes_only(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/fleet", "/v1/meters/{meter_id}/dashboard"):
        operation = paths[path]["get"]
        assert operation["tags"] == ["dashboard"]
        assert operation["summary"]
        assert operation["description"]
    assert "/" not in paths and not any(p.startswith("/web") for p in paths)


def test_fleet_is_paged(client: TestClient, keys: Keys) -> None:
    headers = {"X-API-Key": keys.admin}
    first = client.get("/v1/fleet?limit=1", headers=headers).json()
    assert [m["meter_id"] for m in first["items"]] == ["home-main"]
    assert first["next_cursor"]
    second = client.get(f"/v1/fleet?limit=1&cursor={first['next_cursor']}", headers=headers).json()
    assert [m["meter_id"] for m in second["items"]] == ["plant-main"]
    assert second["next_cursor"] is None
    assert client.get("/v1/fleet?limit=0", headers=headers).status_code == 422
