"""kill -9 a real ``bitgoeul serve`` mid-stream: every acknowledged reading survives, once."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import signal
import threading
import time
from pathlib import Path

import duckdb
import pytest
from tests.conftest import load_bench_api

from bitgoeul.model import Meter, Site
from bitgoeul.services.tenancy import create_organisation
from bitgoeul.store import open_store

from .conftest import KST

METERS = 4
WRITERS = 4
BATCH = 400


def batch(number: int) -> list[dict[str, object]]:
    """Batch ``number``: BATCH new 15-minute readings of one meter (values encode the batch)."""
    meter = f"d{number % METERS}"
    first = (number // METERS) * BATCH
    t0 = dt.datetime(2026, 1, 1, tzinfo=KST)
    return [
        {
            "meter_id": meter,
            "ts": (t0 + dt.timedelta(minutes=15 * (first + i))).isoformat(),
            "energy_kwh": round(number + i / 1000, 6),
        }
        for i in range(BATCH)
    ]


def stored_readings(store: Path) -> dict[tuple[str, dt.datetime], list[float]]:
    """Every row of the reading table, by (meter, ts): a list, so duplicates show."""
    con = duckdb.connect(str(store), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        rows = con.execute(
            "SELECT m.meter_id, r.ts, r.energy_kwh FROM reading r JOIN meter m USING (meter_key)"
        ).fetchall()
    finally:
        con.close()
    out: dict[tuple[str, dt.datetime], list[float]] = {}
    for meter_id, ts, value in rows:
        out.setdefault((meter_id, ts.astimezone(dt.UTC)), []).append(value)
    return out


@pytest.mark.slow
def test_acknowledged_readings_survive_kill_9_exactly_once(tmp_path: Path) -> None:
    bench = load_bench_api()
    store = tmp_path / "durable.duckdb"
    db = open_store(str(store))
    token = create_organisation(db, "durable").token
    db.upsert_site(Site(site_id="plant", org_id="durable"))
    for m in range(METERS):
        db.upsert_meter(Meter(meter_id=f"d{m}", site_id="plant", interval_s=900))
    db.close()

    acked: dict[int, list[dict[str, object]]] = {}
    sent: dict[int, list[dict[str, object]]] = {}
    failures: list[str] = []
    lock = threading.Lock()
    counter = iter(range(1_000_000))
    stop = threading.Event()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    with bench.Server(store, port=bench.free_port()) as server:
        port = server.port

        def writer() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                while not stop.is_set():
                    with lock:
                        number = next(counter)
                    readings = batch(number)
                    # Every fifth request re-sends an acknowledged batch: idempotent, no copies.
                    with lock:
                        if number % 5 == 4 and acked:
                            readings = acked[max(acked)]
                        sent[number] = readings
                    try:
                        conn.request(
                            "POST", "/v1/readings", json.dumps({"readings": readings}), headers
                        )
                        resp = conn.getresponse()
                        body = resp.read()
                    except OSError:
                        return  # the server is gone
                    if resp.status == 200:
                        assert json.loads(body)["committed"] is True
                        with lock:
                            acked[number] = readings
                    else:
                        with lock:
                            failures.append(f"{resp.status} {body[:200]!r}")
            finally:
                conn.close()

        threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acked) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGKILL)  # mid-stream: writers are still posting
        server.proc.wait()
        stop.set()
        for t in threads:
            t.join()
    assert not failures, failures[:3]
    assert len(acked) >= 40, "too few batches acknowledged before the kill"
    assert len(sent) > len(acked), "the kill did not interrupt any request"

    # Restart on the same store: it opens (the WAL replays) and serves the data.
    with bench.Server(store, port=bench.free_port()) as server:
        status, body = bench.request(
            server.port,
            "GET",
            "/v1/meters?limit=1000",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert status == 200
        counts = {m["meter_id"]: m["reading_count"] for m in json.loads(body)["items"]}
    rows = stored_readings(store)
    assert sum(counts.values()) == len(rows)
    duplicated = {k: v for k, v in rows.items() if len(v) != 1}
    assert not duplicated, list(duplicated.items())[:3]
    for number, readings in acked.items():
        for r in readings:
            key = (str(r["meter_id"]), dt.datetime.fromisoformat(str(r["ts"])).astimezone(dt.UTC))
            assert rows.get(key) == [r["energy_kwh"]], (number, key)
    # A request is atomic: one the kill cut off is stored whole or not at all.
    for number, readings in sent.items():
        if number in acked:
            continue
        present = [
            (str(r["meter_id"]), dt.datetime.fromisoformat(str(r["ts"])).astimezone(dt.UTC)) in rows
            for r in readings
        ]
        assert all(present) or not any(present), number
