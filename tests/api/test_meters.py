"""Meters and readings through the HTTP API: ingest semantics, limits, range queries."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitgoeul.api import Settings, create_app
from bitgoeul.api.routes.meters import _from_json
from bitgoeul.api.schemas import ReadingBatch

from .conftest import KST, OPERATOR, Org, hourly, make_org

PROBLEM = "application/problem+json"


def stored(client: TestClient, org: Org, meter_id: str) -> dict[str, float]:
    """Every stored reading of a meter, ts (UTC ISO) -> kWh, walking all pages."""
    out: dict[str, float] = {}
    cursor = None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        r = client.get(f"/v1/meters/{meter_id}/readings", params=params, headers=org.headers)
        assert r.status_code == 200, r.text
        for item in r.json()["items"]:
            assert item["ts"] not in out
            out[item["ts"]] = item["energy_kwh"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return out


# -- meters ---------------------------------------------------------------------------------
def test_meters_are_registered_listed_and_read(client: TestClient) -> None:
    a = make_org(client, "alpha", meters_per_site=0)
    body = {
        "meter_id": "hq-main",
        "site_id": a.sites[0],
        "interval_s": 900,
        "contract_class": "residential-low",
        "reading_day": 15,
    }
    r = client.post("/v1/meters", json=body, headers=a.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["timezone"] == "Asia/Seoul"  # the site's
    assert created["reading_day"] == 15
    assert created["reading_count"] == 0
    assert client.get("/v1/meters/hq-main", headers=a.headers).json() == created
    assert client.get("/v1/meters", headers=a.headers).json()["items"] == [created]
    assert client.post("/v1/meters", json=body, headers=a.headers).status_code == 422
    bad_day = client.post(
        "/v1/meters", json={**body, "meter_id": "x", "reading_day": 32}, headers=a.headers
    )
    assert bad_day.status_code == 422
    assert bad_day.json()["errors"][0]["field"] == "body:/reading_day"
    no_site = client.post(
        "/v1/meters", json={**body, "meter_id": "y", "site_id": "nowhere"}, headers=a.headers
    )
    assert no_site.status_code == 404
    assert client.get("/v1/meters/nothing", headers=a.headers).status_code == 404


def test_meter_list_filters_by_site_and_counts_readings(client: TestClient) -> None:
    a = make_org(client, "alpha", sites=2, days=2)
    items = client.get("/v1/meters", params={"site_id": a.sites[1]}, headers=a.headers).json()[
        "items"
    ]
    assert [m["meter_id"] for m in items] == [a.meters[1]]
    assert items[0]["reading_count"] == 48
    assert items[0]["first_ts"].startswith("2026-09-30T15:00:00")
    total = sum(r["energy_kwh"] for r in hourly(a.meters[1], 2))
    assert math.isclose(items[0]["total_energy_kwh"], total, rel_tol=1e-12)


# -- ingest ---------------------------------------------------------------------------------
def test_same_batch_twice_changes_nothing(client: TestClient) -> None:
    a = make_org(client, "alpha")
    batch = {"readings": hourly(a.meters[0], 3)}
    first = client.post("/v1/readings", json=batch, headers=a.headers).json()
    assert first["committed"] is True
    assert first["received"] == 72
    assert first["group"]["inserted"] == 72
    before = stored(client, a, a.meters[0])
    again = client.post("/v1/readings", json=batch, headers=a.headers)
    assert again.status_code == 200
    assert again.json()["group"]["inserted"] == 0
    assert again.json()["group"]["unchanged"] == 72
    assert stored(client, a, a.meters[0]) == before
    assert len(before) == 72


def test_a_conflicting_batch_is_refused_whole(client: TestClient) -> None:
    a = make_org(client, "alpha")
    meter = a.meters[0]
    client.post("/v1/readings", json={"readings": hourly(meter, 1)}, headers=a.headers)
    before = stored(client, a, meter)
    later = hourly(meter, 1, start=dt.datetime(2026, 10, 2, tzinfo=KST))
    changed = dict(hourly(meter, 1)[5], energy_kwh=9.0)
    r = client.post("/v1/readings", json={"readings": [*later, changed]}, headers=a.headers)
    assert r.status_code == 409
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["type"] == "/problems/conflict"
    assert "nothing was written" in problem["detail"]
    assert problem["field"] == "energy_kwh"
    assert stored(client, a, meter) == before  # the 24 new readings were not written either


def test_on_conflict_correct_replaces_values(client: TestClient) -> None:
    a = make_org(client, "alpha")
    meter = a.meters[0]
    client.post("/v1/readings", json={"readings": hourly(meter, 1)}, headers=a.headers)
    fix = [dict(hourly(meter, 1)[5], energy_kwh=9.0)]
    r = client.post(
        "/v1/readings", params={"on_conflict": "correct"}, json={"readings": fix}, headers=a.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["group"]["corrected"] == 1
    values = stored(client, a, meter)
    assert values["2026-09-30T20:00:00Z"] == 9.0
    assert len(values) == 24
    bad = client.post(
        "/v1/readings",
        params={"on_conflict": "overwrite"},
        json={"readings": fix},
        headers=a.headers,
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query:/on_conflict"


@pytest.mark.parametrize(
    ("record", "field", "words"),
    [
        ({"ts": "2026-11-01T00:00:00"}, "ts", "timezone"),
        ({"ts": "yesterday"}, "ts", "datetime"),
        ({"energy_kwh": -1}, "energy_kwh", "greater than or equal"),
        ({"energy_kwh": "lots"}, "energy_kwh", "number"),
        ({"meter_id": 7}, "meter_id", "string"),
        ({"extra": 1}, "extra", "not permitted"),
    ],
)
def test_invalid_records_are_named_by_index_and_field(
    client: TestClient, record: dict[str, object], field: str, words: str
) -> None:
    a = make_org(client, "alpha")
    readings = hourly(a.meters[0], 1)
    readings[7] = {**readings[7], **record}
    r = client.post("/v1/readings", json={"readings": readings}, headers=a.headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["type"] == "/problems/invalid-request"
    assert problem["errors"][0]["field"] == f"body:/readings/7/{field}"
    assert words in problem["errors"][0]["message"]
    assert stored(client, a, a.meters[0]) == {}


@pytest.mark.parametrize(
    ("energy", "words"),
    [
        ("NaN", "finite number"),
        ("Infinity", "finite number"),
        ("1e308", "1e+308 kWh is beyond the largest reading accepted (1e+12 kWh)"),
    ],
)
def test_non_finite_or_implausible_energy_is_refused(
    client: TestClient, energy: str, words: str
) -> None:
    a = make_org(client, "alpha")
    body = '{"readings": [{"meter_id": "%s", "ts": "2026-11-01T00:00:00+09:00", "energy_kwh": %s}]}'
    r = client.post(
        "/v1/readings",
        content=body % (a.meters[0], energy),
        headers={**a.headers, "content-type": "application/json"},
    )
    assert r.status_code == 422
    error = r.json()["errors"][0]
    assert error["field"] == "body:/readings/0/energy_kwh"
    assert words in error["message"]
    assert stored(client, a, a.meters[0]) == {}


def test_a_csv_upload_beyond_any_meter_is_named_by_line(client: TestClient) -> None:
    a = make_org(client, "alpha")
    body = f"meter_id,ts,energy_kwh\n{a.meters[0]},2026-11-01T00:00:00+09:00,2e12\n"
    r = client.post("/v1/readings", content=body, headers={**a.headers, "content-type": "text/csv"})
    assert r.status_code == 422
    assert "upload.csv, line 2, field 'energy_kwh'" in r.json()["detail"]
    assert stored(client, a, a.meters[0]) == {}


def test_unknown_meter_is_named_by_index(client: TestClient) -> None:
    a = make_org(client, "alpha")
    readings = hourly(a.meters[0], 1)
    readings[3] = {**readings[3], "meter_id": "ghost"}
    r = client.post("/v1/readings", json={"readings": readings}, headers=a.headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body:/readings/3/meter_id"
    assert "ghost" in r.json()["detail"]


@pytest.mark.parametrize(
    "body",
    ["not json", "[]", '{"readings": []}', '{"readings": {}}', '{"rows": []}', "null"],
)
def test_malformed_bodies_are_422(client: TestClient, body: str) -> None:
    a = make_org(client, "alpha")
    r = client.post(
        "/v1/readings", content=body, headers={**a.headers, "content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM


def test_unsupported_media_type_is_415(client: TestClient) -> None:
    a = make_org(client, "alpha")
    r = client.post(
        "/v1/readings", content=b"<xml/>", headers={**a.headers, "content-type": "application/xml"}
    )
    assert r.status_code == 415
    assert r.headers["content-type"] == PROBLEM
    assert "text/csv" in r.json()["detail"]


def test_a_body_over_the_limit_is_413(tmp_path: Path) -> None:
    app = create_app(
        Settings(
            store_path=str(tmp_path / "s.duckdb"), operator_token=OPERATOR, max_body_bytes=2000
        )
    )
    with TestClient(app) as client:
        a = make_org(client, "alpha")
        big = json.dumps({"readings": hourly(a.meters[0], 2)})
        assert len(big) > 2000
        r = client.post(
            "/v1/readings", content=big, headers={**a.headers, "content-type": "application/json"}
        )
        assert r.status_code == 413
        assert r.headers["content-type"] == PROBLEM
        assert "2,000 bytes" in r.json()["detail"]

        def chunks():  # no Content-Length: counted as it streams
            for i in range(0, len(big), 500):
                yield big[i : i + 500].encode()

        r = client.post(
            "/v1/readings",
            content=chunks(),
            headers={**a.headers, "content-type": "application/json"},
        )
        assert r.status_code == 413
        assert r.json()["type"] == "/problems/too-large"
        small = {"readings": hourly(a.meters[0], 1)[:5]}
        assert client.post("/v1/readings", json=small, headers=a.headers).status_code == 200


def test_too_many_readings_is_413(tmp_path: Path) -> None:
    app = create_app(
        Settings(
            store_path=str(tmp_path / "s.duckdb"), operator_token=OPERATOR, max_batch_readings=10
        )
    )
    with TestClient(app) as client:
        a = make_org(client, "alpha")
        r = client.post(
            "/v1/readings", json={"readings": hourly(a.meters[0], 1)[:11]}, headers=a.headers
        )
        assert r.status_code == 413
        assert "11 readings" in r.json()["detail"]
        assert "limit is 10" in r.json()["detail"]
        csv = "meter_id,ts,energy_kwh\n" + "".join(
            f"{x['meter_id']},{x['ts']},{x['energy_kwh']}\n" for x in hourly(a.meters[0], 1)[:11]
        )
        r = client.post(
            "/v1/readings", content=csv, headers={**a.headers, "content-type": "text/csv"}
        )
        assert r.status_code == 413
        assert (
            client.post(
                "/v1/readings", json={"readings": hourly(a.meters[0], 1)[:10]}, headers=a.headers
            ).status_code
            == 200
        )


def test_csv_upload_ingests_and_names_bad_lines(client: TestClient) -> None:
    a = make_org(client, "alpha")
    meter = a.meters[0]
    rows = hourly(meter, 1)
    csv = "meter_id,ts,energy_kwh\n" + "".join(
        f"{x['meter_id']},{x['ts']},{x['energy_kwh']}\n" for x in rows
    )
    r = client.post(
        "/v1/readings",
        content=csv,
        headers={**a.headers, "content-type": "text/csv; charset=utf-8"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["received"] == 24
    assert r.json()["group"]["inserted"] == 24
    assert len(stored(client, a, meter)) == 24
    bad = csv.replace(f"{rows[4]['energy_kwh']}\n", "abc\n", 1)
    r = client.post("/v1/readings", content=bad, headers={**a.headers, "content-type": "text/csv"})
    assert r.status_code == 422
    problem = r.json()
    assert (problem["source"], problem["line"], problem["field"]) == ("upload.csv", 6, "energy_kwh")
    ghost = csv + "ghost,2026-10-05T00:00:00+09:00,1.0\n"
    r = client.post(
        "/v1/readings", content=ghost, headers={**a.headers, "content-type": "text/csv"}
    )
    assert r.status_code == 422
    assert (r.json()["line"], r.json()["field"]) == (26, "meter_id")
    conflict = csv.replace(f"{rows[2]['energy_kwh']}\n", "7.5\n", 1)
    r = client.post(
        "/v1/readings", content=conflict, headers={**a.headers, "content-type": "text/csv"}
    )
    assert r.status_code == 409
    assert r.json()["line"] == 4
    assert (
        client.post(
            "/v1/readings",
            content="meter_id,ts,energy_kwh\n",
            headers={**a.headers, "content-type": "text/csv"},
        ).status_code
        == 422
    )


# -- range queries --------------------------------------------------------------------------
def test_readings_are_queried_by_half_open_range(client: TestClient) -> None:
    a = make_org(client, "alpha", days=2)
    meter = a.meters[0]
    params = {"start": "2026-10-01T06:00:00+09:00", "end": "2026-10-01T09:00:00+09:00"}
    r = client.get(f"/v1/meters/{meter}/readings", params=params, headers=a.headers)
    assert r.status_code == 200
    assert [i["ts"] for i in r.json()["items"]] == [
        "2026-09-30T21:00:00Z",
        "2026-09-30T22:00:00Z",
        "2026-09-30T23:00:00Z",
    ]
    naive = client.get(
        f"/v1/meters/{meter}/readings", params={"start": "2026-10-01T06:00:00"}, headers=a.headers
    )
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "query:/start"
    bad_cursor = client.get(
        f"/v1/meters/{meter}/readings", params={"cursor": "!!"}, headers=a.headers
    )
    assert bad_cursor.status_code == 422


def test_usage_sums_readings_per_local_day(client: TestClient) -> None:
    a = make_org(client, "alpha", days=3)
    r = client.get(f"/v1/meters/{a.meters[0]}/usage", params={"period": "day"}, headers=a.headers)
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["label"] for i in items] == ["2026-10-01", "2026-10-02", "2026-10-03"]
    day = sum(x["energy_kwh"] for x in hourly(a.meters[0], 1))
    assert all(math.isclose(i["energy_kwh"], day, rel_tol=1e-9) for i in items)
    assert all(i["readings"] == 24 for i in items)
    ends = [i["end"] for i in items]
    assert ends == [
        "2026-10-02T00:00:00+09:00",
        "2026-10-03T00:00:00+09:00",
        "2026-10-04T00:00:00+09:00",
    ]
    backwards = client.get(
        f"/v1/meters/{a.meters[0]}/usage",
        params={"start": "2026-10-03", "end": "2026-10-01"},
        headers=a.headers,
    )
    assert backwards.status_code == 422
    finer = client.get(
        f"/v1/meters/{a.meters[0]}/usage", params={"period": "15min"}, headers=a.headers
    )
    assert finer.status_code == 422, finer.text
    assert "reads every 1 h: 15min periods are finer than its readings" in finer.json()["detail"]


def test_analytics_routes_answer_for_a_meter_with_data(client: TestClient) -> None:
    a = make_org(client, "alpha", days=21)
    m = a.meters[0]
    # readings from 1 October: bill month 2026-11 (reading day 1) is October, in progress
    bill = client.get(f"/v1/meters/{m}/bill", params={"cycle": "2026-11"}, headers=a.headers)
    assert bill.status_code == 200, bill.text
    assert bill.json()["meter_id"] == m and bill.json()["energy_kwh"] > 0
    before = client.get(f"/v1/meters/{m}/bill", params={"cycle": "2026-10"}, headers=a.headers)
    assert before.status_code == 404 and "no readings in cycle 2026-10" in before.json()["detail"]
    forecast = client.get(
        f"/v1/meters/{m}/forecast",
        params={"model": "persistence", "horizon": "24h"},
        headers=a.headers,
    )
    assert forecast.status_code == 200, forecast.text
    rows = forecast.json()["forecast"]
    assert len(rows) == 24
    assert all(r["p10_kwh"] <= r["p50_kwh"] <= r["p90_kwh"] for r in rows)
    standby = client.get(f"/v1/meters/{m}/standby", headers=a.headers)
    assert standby.status_code == 200
    assert standby.json()["power_w"] > 0
    quality = client.get(f"/v1/meters/{m}/quality", headers=a.headers)
    assert quality.status_code == 200
    unknown_model = client.get(
        f"/v1/meters/{m}/forecast", params={"model": "oracle"}, headers=a.headers
    )
    assert unknown_model.status_code == 422


def test_a_restarted_service_loads_the_fitted_models_from_its_model_dir(tmp_path: Path) -> None:
    config = Settings(
        store_path=str(tmp_path / "s.duckdb"),
        operator_token=OPERATOR,
        model_dir=str(tmp_path / "models"),
    )
    params = {"model": "persistence", "horizon": "24h", "as_of": "2026-10-15T00:00:00+09:00"}
    with TestClient(create_app(config)) as client:
        a = make_org(client, "alpha", days=21)
        first = client.get(f"/v1/meters/{a.meters[0]}/forecast", params=params, headers=a.headers)
        assert first.status_code == 200, first.text
        assert client.app.state.bitgoeul.models.misses == 1  # type: ignore[attr-defined]
    assert len(list((tmp_path / "models").glob("*.zip"))) == 1
    with TestClient(create_app(config)) as client:  # the same store, a new process's state
        again = client.get(f"/v1/meters/{a.meters[0]}/forecast", params=params, headers=a.headers)
        assert again.status_code == 200, again.text
        models = client.app.state.bitgoeul.models  # type: ignore[attr-defined]
        assert (models.loaded, models.misses) == (1, 0)
    assert again.json()["forecast"] == first.json()["forecast"]


# -- the fast JSON path agrees with the model ---------------------------------------------
_stamp = st.one_of(
    st.datetimes(
        min_value=dt.datetime(1971, 1, 1),
        max_value=dt.datetime(2100, 1, 1),
        timezones=st.sampled_from([dt.UTC, KST, dt.timezone(dt.timedelta(hours=-5, minutes=-30))]),
    ).map(lambda t: t.isoformat()),
    st.sampled_from(
        [
            "2026-11-01T00:00:00",
            "2026-11-01",
            "2026-11-01T00:00:00Z",
            "2026-11-01 00:00+09:00",
            "2026-11-01T00:00:00+0900",
            "2026-02-30T00:00:00+09:00",
            "2026-11-01T00:00:00.1234567+09:00",
            "1700000000",
            "",
        ]
    ),
    st.integers(0, 2_000_000_000),
)
_energy = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 10**20),
    st.sampled_from(["0.5", "x", True, None]),
)
_record = st.fixed_dictionaries(
    {
        "meter_id": st.one_of(st.text(max_size=8), st.integers()),
        "ts": _stamp,
        "energy_kwh": _energy,
    },
    optional={"extra": st.none()},
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_record, min_size=1, max_size=4))
def test_fast_json_path_accepts_exactly_what_the_model_accepts(
    records: list[dict[str, object]],
) -> None:
    raw = json.dumps({"readings": records}).encode()
    try:
        model = ReadingBatch.model_validate_json(raw)
    except ValueError:
        model = None
    try:
        table = _from_json(raw, 1000)
    except Exception:
        table = None
    assert (model is None) == (table is None)
    if model is not None and table is not None:
        assert table.column("meter_id").to_pylist() == [r.meter_id for r in model.readings]
        assert table.column("ts").to_pylist() == [r.ts.astimezone(dt.UTC) for r in model.readings]
        assert table.column("energy_kwh").to_pylist() == [r.energy_kwh for r in model.readings]


def test_latest_gives_the_newest_reading_its_power_and_the_day_so_far(
    client: TestClient,
) -> None:
    org = make_org(client, "live", days=3)  # hourly, 2026-10-01 .. 10-03 KST
    meter = org.meters[0]
    r = client.get(f"/v1/meters/{meter}/latest", headers=org.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ts"] == "2026-10-03T23:00:00+09:00"
    expected_last = round(0.5 + 23 / 48, 6)
    assert body["energy_kwh"] == pytest.approx(expected_last)
    assert body["power_kw"] == pytest.approx(expected_last)  # an hour: kWh == mean kW
    assert body["today_kwh"] == pytest.approx(sum(0.5 + h / 48 for h in range(24)), abs=1e-4)
    assert body["cycle_kwh"] == pytest.approx(3 * body["today_kwh"], abs=1e-3)
    assert body["cycle_start"] == "2026-10-01" and body["age_s"] > 0
    empty = make_org(client, "quiet")
    r = client.get(f"/v1/meters/{empty.meters[0]}/latest", headers=empty.headers)
    assert r.status_code == 200 and r.json()["ts"] is None


def test_an_organisations_meters_share_one_fitted_forecasting_model(client: TestClient) -> None:
    a = make_org(client, "alpha", meters_per_site=2, days=21)
    b = make_org(client, "beta", days=21)
    models = client.app.state.bitgoeul.models  # type: ignore[attr-defined]
    params = {"model": "lightgbm", "horizon": "24h", "as_of": "2026-10-21T00:00:00+09:00"}
    bodies = []
    for meter in a.meters:
        r = client.get(f"/v1/meters/{meter}/forecast", params=params, headers=a.headers)
        assert r.status_code == 200, r.text
        bodies.append(r.json())
    assert (models.misses, models.hits) == (1, 1)
    assert all(set(body["train_meters"]) == set(a.meters) for body in bodies)
    # another organisation's meter never gets a model fitted on alpha's readings
    r = client.get(f"/v1/meters/{b.meters[0]}/forecast", params=params, headers=b.headers)
    assert r.status_code == 200, r.text
    assert r.json()["train_meters"] == b.meters
    assert (models.misses, models.hits) == (2, 1)
