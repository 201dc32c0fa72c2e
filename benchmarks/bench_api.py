"""API load test (issue 5): concurrent writers and readers against a real ``bitgoeul serve``.

Everything runs on loopback (127.0.0.1) and stops by itself after ``--batches``
batches have been acknowledged (or after ``--max-seconds``):

* a fresh store gets one organisation (library call, before the server starts);
* ``bitgoeul serve`` is started as a child process on a free port; the meters
  are registered through the API;
* ``--writers`` threads post JSON batches of ``--batch`` readings (bodies are
  serialised before the clock starts, so the clients spend their time on HTTP);
* ``--readers`` threads query a meter's daily usage
  (``GET /v1/meters/{id}/usage?period=day``), pausing ``--read-interval``
  seconds between queries, until the writers are done;
* the same readings are then ingested by the library into fresh stores:
  ``bitgoeul.ingest_frame`` of the whole table in one call (the bulk baseline),
  and one call per batch (what one request would cost without group commit).

Reported: sustained readings/s acknowledged by the API, p50/p99 latency of
writes and reads, and the ratio of API throughput to bulk ingest (goal >= 0.3).

Usage::

    .venv/bin/python benchmarks/bench_api.py                 # 600 batches x 1,000 readings, 16 writers
    .venv/bin/python benchmarks/bench_api.py --batches 20 --readers 1   # smoke run

Prints a Markdown table; ``--json FILE`` writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
RATIO_GOAL = 0.3
TZ_OFFSET = dt.timezone(dt.timedelta(hours=9))
START = dt.datetime(2025, 1, 1, tzinfo=TZ_OFFSET)
STEP = dt.timedelta(minutes=15)


@dataclass
class Result:
    """What one run measured."""

    batches: int
    batch_readings: int
    writers: int
    readers: int
    read_interval: float = 0.0
    readings: int = 0
    seconds: float = 0.0
    readings_per_s: float = 0.0
    write_p50_ms: float = 0.0
    write_p99_ms: float = 0.0
    reads: int = 0
    read_p50_ms: float = 0.0
    read_p99_ms: float = 0.0
    max_group_requests: int = 0
    bulk_seconds: float = 0.0
    bulk_readings_per_s: float = 0.0
    per_batch_seconds: float = 0.0
    per_batch_readings_per_s: float = 0.0
    ratio_to_bulk: float = 0.0
    ratio_to_per_batch: float = 0.0
    errors: list[str] = field(default_factory=list)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)


def free_port() -> int:
    """Return a TCP port free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def batch_readings(index: int, *, size: int, meters: int) -> list[dict[str, Any]]:
    """Readings of batch ``index``: ``size`` consecutive 15-minute intervals of one meter.

    Batches cycle over the meters, so every batch is new data (no conflicts).
    """
    meter = index % meters
    offset = (index // meters) * size
    name = f"m{meter:04d}"
    out = []
    for i in range(size):
        ts = START + (offset + i) * STEP
        out.append(
            {
                "meter_id": name,
                "ts": ts.isoformat(),
                "energy_kwh": round(0.05 + 0.4 * ((offset + i + 7 * meter) % 96) / 96, 4),
            }
        )
    return out


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by the nearest-rank method [same unit]."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
    return ordered[rank - 1]


class Server:
    """A ``bitgoeul serve`` child process on loopback; a context manager."""

    def __init__(
        self,
        store: Path,
        *,
        port: int,
        operator_token: str = "bench-op",
        wrapper: list[str] | None = None,
    ) -> None:
        self.wrapper = wrapper or []
        self.store = store
        self.port = port
        self.operator_token = operator_token
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in __exit__)

    def __enter__(self) -> Server:
        cmd = [
            *self.wrapper,
            sys.executable,
            "-m",
            "bitgoeul",
            "serve",
            "--store",
            str(self.store),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--operator-token",
            self.operator_token,
            "--quiet",
        ]
        self.proc = subprocess.Popen(
            cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=bool(self.wrapper)
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.output()}")
            try:
                status, _ = request(self.port, "GET", "/healthz")
            except OSError:
                time.sleep(0.1)
                continue
            if status == 200:
                return self
        raise RuntimeError(f"the server did not start in 60 s:\n{self.output()}")

    def output(self) -> str:
        """The server's console output so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            if self.wrapper:  # Ctrl-C to the group: the server stops, the profiler writes
                os.killpg(self.proc.pid, signal.SIGINT)
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes]:
    """Send one request (on ``conn`` if given, else a new connection); return status, body."""
    own = conn is None
    c = conn or http.client.HTTPConnection(HOST, port, timeout=120)
    try:
        c.request(method, path, body=body, headers=headers or {})
        resp = c.getresponse()
        return resp.status, resp.read()
    finally:
        if own:
            c.close()


def setup_tenant(store: Path, *, meters: int, port: int | None = None) -> str:
    """Create the organisation in ``store`` (server stopped); return its admin token."""
    from bitgoeul.services.tenancy import create_organisation
    from bitgoeul.store import open_store

    db = open_store(str(store))
    try:
        issued = create_organisation(db, "bench", name="Load test")
    finally:
        db.close()
    return issued.token


def register_meters(port: int, token: str, meters: int) -> None:
    """Create one site and ``meters`` meters through the API."""
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    status, body = request(
        port, "POST", "/v1/sites", json.dumps({"site_id": "bench"}).encode(), auth
    )
    if status != 201:
        raise RuntimeError(f"POST /v1/sites: {status} {body[:300]!r}")
    for m in range(meters):
        meter = {"meter_id": f"m{m:04d}", "site_id": "bench", "interval_s": 900}
        status, body = request(port, "POST", "/v1/meters", json.dumps(meter).encode(), auth)
        if status != 201:
            raise RuntimeError(f"POST /v1/meters: {status} {body[:300]!r}")


def run_load(
    port: int,
    token: str,
    bodies: list[bytes],
    *,
    writers: int,
    readers: int,
    meters: int,
    max_seconds: float,
    read_interval: float,
    result: Result,
) -> None:
    """Post every body with ``writers`` threads while ``readers`` threads query usage."""
    auth = {"Authorization": f"Bearer {token}"}
    lock = threading.Lock()
    next_index = [0]
    write_ms: list[float] = []
    read_ms: list[float] = []
    acked = [0]
    groups = [0]
    done = threading.Event()
    deadline = time.monotonic() + max_seconds

    def writer() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=120)
        headers = {**auth, "Content-Type": "application/json"}
        try:
            while time.monotonic() < deadline:
                with lock:
                    index = next_index[0]
                    next_index[0] += 1
                if index >= len(bodies):
                    return
                t0 = time.perf_counter()
                status, body = request(
                    port, "POST", "/v1/readings", bodies[index], headers, conn=conn
                )
                elapsed = (time.perf_counter() - t0) * 1000
                if status != 200:
                    with lock:
                        result.errors.append(f"write {index}: {status} {body[:200]!r}")
                    continue
                answer = json.loads(body)
                with lock:
                    write_ms.append(elapsed)
                    acked[0] += answer["received"]
                    groups[0] = max(groups[0], answer["group_requests"])
        finally:
            conn.close()

    def reader(number: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=120)
        i = number
        try:
            while True:  # at least one read, then until the writers are done
                path = f"/v1/meters/m{i % meters:04d}/usage?period=day&limit=1000"
                t0 = time.perf_counter()
                status, body = request(port, "GET", path, None, auth, conn=conn)
                elapsed = (time.perf_counter() - t0) * 1000
                with lock:
                    if status == 200:
                        read_ms.append(elapsed)
                    else:
                        result.errors.append(f"read {path}: {status} {body[:200]!r}")
                i += 1
                if done.wait(read_interval):
                    return
        finally:
            conn.close()

    write_threads = [threading.Thread(target=writer) for _ in range(writers)]
    read_threads = [threading.Thread(target=reader, args=(n,)) for n in range(readers)]
    t0 = time.perf_counter()
    for t in write_threads + read_threads:
        t.start()
    for t in write_threads:
        t.join()
    seconds = time.perf_counter() - t0
    done.set()
    for t in read_threads:
        t.join()
    result.readings = acked[0]
    result.seconds = seconds
    result.readings_per_s = acked[0] / seconds if seconds else 0.0
    result.write_p50_ms = percentile(write_ms, 0.50)
    result.write_p99_ms = percentile(write_ms, 0.99)
    result.reads = len(read_ms)
    result.read_p50_ms = percentile(read_ms, 0.50)
    result.read_p99_ms = percentile(read_ms, 0.99)
    result.max_group_requests = groups[0]


def library_baselines(
    batches: list[list[dict[str, Any]]], workdir: Path, *, meters: int, result: Result
) -> None:
    """Time the library's ingest of the same readings: one call, and one call per batch."""
    import pyarrow as pa

    from bitgoeul import ingest_frame
    from bitgoeul.ingest.source import READINGS_SCHEMA
    from bitgoeul.model import Meter, Organisation, Site
    from bitgoeul.store import open_store

    def table_of(rows: list[dict[str, Any]]) -> pa.Table:
        return pa.table(
            {
                "meter_id": pa.array([r["meter_id"] for r in rows], pa.string()),
                "ts": pa.array(
                    [dt.datetime.fromisoformat(r["ts"]) for r in rows],
                    pa.timestamp("us", tz="UTC"),
                ),
                "energy_kwh": pa.array([r["energy_kwh"] for r in rows], pa.float64()),
            },
            schema=READINGS_SCHEMA,
        )

    def fresh(name: str) -> Any:
        db = open_store(str(workdir / name))
        db.upsert_organisation(Organisation(org_id="bench", name=""))
        db.upsert_site(Site(site_id="bench", org_id="bench", name="", timezone="Asia/Seoul"))
        for m in range(meters):
            db.upsert_meter(
                Meter(meter_id=f"m{m:04d}", site_id="bench", timezone="Asia/Seoul", interval_s=900)
            )
        return db

    tables = [table_of(b) for b in batches]
    whole = pa.concat_tables(tables)
    db = fresh("bulk.duckdb")
    try:
        t0 = time.perf_counter()
        report = ingest_frame(whole, db, name="bulk")
        result.bulk_seconds = time.perf_counter() - t0
    finally:
        db.close()
    if report.inserted != whole.num_rows:
        result.errors.append(f"bulk ingest inserted {report.inserted} of {whole.num_rows}")
    result.bulk_readings_per_s = whole.num_rows / result.bulk_seconds
    db = fresh("per_batch.duckdb")
    try:
        t0 = time.perf_counter()
        for t in tables:
            ingest_frame(t, db, name="batch")
        result.per_batch_seconds = time.perf_counter() - t0
    finally:
        db.close()
    result.per_batch_readings_per_s = whole.num_rows / result.per_batch_seconds


def run(args: argparse.Namespace) -> Result:
    """Run the load test and the library baselines; return what they measured."""
    result = Result(
        batches=args.batches,
        batch_readings=args.batch,
        writers=args.writers,
        readers=args.readers,
        read_interval=args.read_interval,
    )
    result.load_before = os.getloadavg()
    batches = [batch_readings(i, size=args.batch, meters=args.meters) for i in range(args.batches)]
    bodies = [json.dumps({"readings": b}).encode() for b in batches]
    with tempfile.TemporaryDirectory(prefix="bitgoeul-bench-api-") as folder:
        workdir = Path(folder)
        store = workdir / "api.duckdb"
        token = setup_tenant(store, meters=args.meters)
        port = free_port()
        wrapper = args.server_wrapper.split() if args.server_wrapper else None
        with Server(store, port=port, wrapper=wrapper) as server:
            register_meters(port, token, args.meters)
            run_load(
                port,
                token,
                bodies,
                writers=args.writers,
                readers=args.readers,
                meters=args.meters,
                max_seconds=args.max_seconds,
                read_interval=args.read_interval,
                result=result,
            )
            if server.proc is not None and server.proc.poll() is not None:
                result.errors.append(f"the server died:\n{server.output()[-2000:]}")
        library_baselines(batches, workdir, meters=args.meters, result=result)
    result.load_after = os.getloadavg()
    if result.bulk_readings_per_s:
        result.ratio_to_bulk = result.readings_per_s / result.bulk_readings_per_s
    if result.per_batch_readings_per_s:
        result.ratio_to_per_batch = result.readings_per_s / result.per_batch_readings_per_s
    return result


def markdown(result: Result) -> str:
    """The result as a Markdown table."""
    r = result
    goal = "met" if r.ratio_to_bulk >= RATIO_GOAL else "NOT met"
    rows = [
        ("readings acknowledged", f"{r.readings:,} in {r.seconds:.2f} s"),
        ("API ingest, sustained", f"{r.readings_per_s:,.0f} readings/s"),
        ("write latency p50 / p99", f"{r.write_p50_ms:.1f} / {r.write_p99_ms:.1f} ms"),
        ("reads (daily usage)", f"{r.reads:,}"),
        ("read latency p50 / p99", f"{r.read_p50_ms:.1f} / {r.read_p99_ms:.1f} ms"),
        ("largest commit group", f"{r.max_group_requests} requests"),
        (
            "library bulk ingest (one call)",
            f"{r.bulk_readings_per_s:,.0f} readings/s ({r.bulk_seconds:.2f} s)",
        ),
        (
            f"library ingest, one call per {r.batch_readings:,} readings",
            f"{r.per_batch_readings_per_s:,.0f} readings/s ({r.per_batch_seconds:.2f} s)",
        ),
        ("API / bulk (goal >= 0.3)", f"{r.ratio_to_bulk:.2f} ({goal})"),
        ("API / per-batch library", f"{r.ratio_to_per_batch:.2f}"),
        (
            "load average before / after",
            f"{r.load_before[0]:.2f} / {r.load_after[0]:.2f} ({os.cpu_count()} CPUs)",
        ),
    ]
    lines = [
        f"API load test: {r.batches} batches x {r.batch_readings:,} readings, "
        f"{r.writers} writers, {r.readers} readers (pause {r.read_interval:g} s), 127.0.0.1",
        "",
        "| measure | value |",
        "| --- | --- |",
        *[f"| {a} | {b} |" for a, b in rows],
    ]
    if r.errors:
        lines += ["", f"{len(r.errors)} errors, first: {r.errors[0]}"]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", type=int, default=600, help="batches to post in all")
    p.add_argument("--batch", type=int, default=1000, help="readings per batch")
    p.add_argument("--meters", type=int, default=20, help="meters the batches cycle over")
    p.add_argument("--writers", type=int, default=16, help="concurrent posting clients")
    p.add_argument("--readers", type=int, default=2, help="concurrent daily-usage readers")
    p.add_argument(
        "--read-interval",
        type=float,
        default=0.1,
        help="pause of each reader between queries [s]; 0 reads back to back",
    )
    p.add_argument("--max-seconds", type=float, default=300.0, help="stop posting after this")
    p.add_argument(
        "--server-wrapper",
        default="",
        help="prefix of the server command, e.g. 'py-spy record -r 200 -f raw -o prof.txt --'",
    )
    p.add_argument("--json", type=Path, default=None, help="also write the result here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table; exit 1 if any request failed."""
    args = parse_args(argv)
    result = run(args)
    print(f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}")
    print(markdown(result))
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(result), indent=2))
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
