"""Ingest and rollup benchmark (issue 2): Bitgoeul's store against raw DuckDB and Polars.

One run measures, side by side on the same generated files (long CSV and Parquet
ZSTD, from :mod:`bitgoeul.synthetic`):

* bulk ingest with :func:`bitgoeul.services.ingest.ingest_file` into a fresh store
  against raw DuckDB ``COPY`` / ``INSERT ... SELECT * FROM read_parquet`` into a
  bare table, each in a child process (wall time and peak RSS);
* where our ingest spends its time (SQL statement by statement, and the rest), for
  both loaders: the bulk reader of clean canonical files and the line parser;
* an idempotent re-ingest of the same CSV;
* daily and hourly per-meter rollups in Asia/Seoul: ``rollup_all`` against a
  hand-written DuckDB query on the raw table and Polars ``group_by_dynamic``;
* bytes per reading on disk: our store, the raw DuckDB table, Parquet ZSTD;
* peak RSS of an ingest of ``--rows`` and of ``--big-rows`` readings (and again
  under ``BITGOEUL_MEMORY_LIMIT`` when over the goal).

Usage::

    .venv/bin/python benchmarks/bench_ingest.py            # 10 M rows + 40 M memory run
    .venv/bin/python benchmarks/bench_ingest.py --quick    # ~1 M rows smoke run

Results: a Markdown table on stdout and JSON in ``<workdir>/results.json``.
Generated files are kept in ``--workdir`` and reused by later runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

GIB = 1 << 30
TZ = "Asia/Seoul"
RESULT_PREFIX = "RESULT "
_STAGE_NAME = re.compile(r"stage_(agg_|keys_)?\d+")
INGEST_RATIO_GOAL = 0.5
ROLLUP_RATIO_GOAL = 0.8
RSS_GOAL_BYTES = int(1.5 * GIB)
RSS_FLAT_GOAL = 1.25  # peak RSS at --big-rows over peak RSS at --rows


# -- child processes ---------------------------------------------------------------
def _status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status [bytes]."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # reported in kB
    raise RuntimeError(f"/proc/self/status has no {field}")


def _peak_rss_bytes() -> int:
    # VmHWM belongs to this process image: unlike getrusage's ru_maxrss it does not
    # inherit the parent's resident size across fork and exec.
    return _status_bytes("VmHWM")


def _rss_bytes() -> int:
    return _status_bytes("VmRSS")


def _remove_store(path: Path) -> None:
    for p in (path, Path(f"{path}.wal")):
        p.unlink(missing_ok=True)
    shutil.rmtree(f"{path}.tmp", ignore_errors=True)


def _child_ours(spec: dict[str, Any]) -> dict[str, Any]:
    from bitgoeul.services.ingest import ingest_file
    from bitgoeul.store import open_store

    store = open_store(spec["store"])
    rss_before = _rss_bytes()
    runs = []
    for _ in range(int(spec.get("times", 1))):
        t0 = time.perf_counter()
        report = ingest_file(spec["source"], store)
        t1 = time.perf_counter()
        store.connection.execute("CHECKPOINT")
        t2 = time.perf_counter()
        runs.append(
            {
                "seconds": t2 - t0,
                "ingest_seconds": t1 - t0,
                "checkpoint_seconds": t2 - t1,
                "inserted": report.inserted,
                "unchanged": report.unchanged,
                "rows_read": report.rows_read,
            }
        )
    store.close()
    return {"runs": runs, "rss_before": rss_before, "peak_rss": _peak_rss_bytes()}


def _child_raw(spec: dict[str, Any]) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(spec["store"])
    con.execute("CREATE TABLE reading (meter_id VARCHAR, ts TIMESTAMPTZ, energy_kwh DOUBLE)")
    rss_before = _rss_bytes()
    source = str(spec["source"]).replace("'", "''")
    t0 = time.perf_counter()
    if spec["fmt"] == "csv":
        con.execute(f"COPY reading FROM '{source}' (HEADER)")
    else:
        con.execute(f"INSERT INTO reading SELECT * FROM read_parquet('{source}')")
    t1 = time.perf_counter()
    con.execute("CHECKPOINT")
    t2 = time.perf_counter()
    rows = con.execute("SELECT count(*) FROM reading").fetchall()[0][0]
    con.close()
    run = {
        "seconds": t2 - t0,
        "ingest_seconds": t1 - t0,
        "checkpoint_seconds": t2 - t1,
        "inserted": rows,
    }
    return {"runs": [run], "rss_before": rss_before, "peak_rss": _peak_rss_bytes()}


class _TimedConnection:
    """Wraps a DuckDB connection and adds up the time of each distinct SQL statement."""

    def __init__(self, con: Any, stats: dict[str, list[float]]) -> None:
        self._real = con
        self._stats = stats

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        # stage_1, stage_agg_1, ... -> one key per statement
        key = _STAGE_NAME.sub(r"stage_\1N", " ".join(sql.split()))
        t0 = time.perf_counter()
        result = self._real.execute(sql, *args, **kwargs)
        entry = self._stats.setdefault(key[:110], [0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - t0
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _child_phases(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the real ``ingest_file`` with every SQL statement timed.

    ``spec["bulk"]`` picks the loader: the store's bulk reader (the path a clean
    canonical file takes) or the line parser (the path of every other file, and
    of a canonical file the bulk reader hands back). What is not SQL is Python:
    parsing and checks in the parser path, sha256 and bookkeeping in both.
    """
    from bitgoeul.services.ingest import ingest_file
    from bitgoeul.store import open_store

    sql: dict[str, list[float]] = {}
    store = open_store(spec["store"])
    store._con = _TimedConnection(store._con, sql)  # type: ignore[assignment]
    t0 = time.perf_counter()
    report = ingest_file(spec["source"], store, bulk=spec["bulk"])
    total = time.perf_counter() - t0
    store.close()
    top = sorted(sql.items(), key=lambda kv: -kv[1][1])[:10]
    in_sql = sum(v[1] for v in sql.values())
    return {
        "total_seconds": total,
        "loader": report.loader,
        "inserted": report.inserted,
        "phases": {"SQL (DuckDB)": in_sql, "Python (parse, checks, sha256, glue)": total - in_sql},
        "sql_top": [{"sql": k, "calls": int(v[0]), "seconds": v[1]} for k, v in top],
        "peak_rss": _peak_rss_bytes(),
    }


_CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "ours": _child_ours,
    "raw": _child_raw,
    "phases": _child_phases,
}


def run_child(spec: dict[str, Any], *, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return what it reports."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            return result
    raise RuntimeError(
        f"child {spec} failed with exit code {proc.returncode}:\n{proc.stderr[-3000:]}"
    )


# -- data --------------------------------------------------------------------------
def ensure_files(workdir: Path, rows: int, meters: int, *, parquet: bool) -> dict[str, Path]:
    """Generate (once) the CSV, and the Parquet file when asked, of ``rows`` readings."""
    from bitgoeul.synthetic import iter_readings, write_csv, write_parquet

    if rows % meters:
        raise SystemExit(f"--rows ({rows}) must be a multiple of --meters ({meters})")
    intervals = rows // meters
    stem = workdir / f"readings_{meters}m_{intervals}i_seed0"
    files = {"csv": stem.with_suffix(".csv")}
    if parquet:
        files["parquet"] = stem.with_suffix(".parquet")
    for fmt, path in files.items():
        if path.is_file():
            continue
        tmp = path.with_suffix(path.suffix + ".part")
        t0 = time.perf_counter()
        chunks = iter_readings(meters, intervals, seed=0, chunk_meters=max(1, 500_000 // intervals))
        if fmt == "csv":
            write_csv(tmp, chunks)
        else:
            write_parquet(tmp, chunks)
        tmp.rename(path)
        print(f"  generated {path.name} in {time.perf_counter() - t0:.1f} s", flush=True)
    return files


# -- measurements ------------------------------------------------------------------
def best(runs: list[dict[str, Any]]) -> float:
    return min(float(r["seconds"]) for r in runs)


def bench_ingest(files: dict[str, Path], work: Path, rows: int, repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fmt, source in files.items():
        entry: dict[str, Any] = {}
        for kind in ("ours", "raw"):
            store = work / f"{kind}_{fmt}.duckdb"
            runs, rss, before = [], [], []
            for _ in range(repeat):
                _remove_store(store)
                res = run_child(
                    {"mode": kind, "source": str(source), "store": str(store), "fmt": fmt}
                )
                runs += res["runs"]
                rss.append(res["peak_rss"])
                before.append(res["rss_before"])
                print(
                    f"  {kind:4} {fmt:7} ingest {res['runs'][0]['seconds']:7.2f} s, "
                    f"peak RSS {res['peak_rss'] / GIB:.2f} GiB",
                    flush=True,
                )
            seconds = best(runs)
            entry[kind] = {
                "seconds": seconds,
                "rows_per_s": rows / seconds,
                "runs": runs,
                "peak_rss_bytes": max(rss),
                "rss_before_bytes": min(before),
                "store": str(store),
            }
        entry["ratio_raw_over_ours"] = entry["raw"]["seconds"] / entry["ours"]["seconds"]
        out[fmt] = entry
    return out


def bench_reingest(csv: Path, store: Path, repeat: int) -> dict[str, Any]:
    res = run_child({"mode": "ours", "source": str(csv), "store": str(store), "times": repeat})
    for r in res["runs"]:
        if r["inserted"] != 0:
            raise RuntimeError(f"re-ingest inserted {r['inserted']} rows; expected none")
    print(f"  re-ingest best {best(res['runs']):.2f} s", flush=True)
    return {"seconds": best(res["runs"]), "runs": res["runs"], "peak_rss_bytes": res["peak_rss"]}


def bench_phases(files: dict[str, Path], work: Path, populated: Path) -> dict[str, Any]:
    """Where the time goes: each loader on a fresh store, and a CSV re-ingest."""
    out: dict[str, Any] = {}
    runs = [
        (f"{fmt} {loader}", source, work / f"phases_{fmt}_{loader}.duckdb", loader == "bulk")
        for fmt, source in files.items()
        for loader in ("bulk", "parser")
    ]
    for name, source, store, bulk in runs:
        _remove_store(store)
        spec = {"mode": "phases", "source": str(source), "store": str(store), "bulk": bulk}
        out[name] = run_child(spec)
        _remove_store(store)
        print(f"  phases {name}: {out[name]['total_seconds']:.2f} s", flush=True)
    spec = {"mode": "phases", "source": str(files["csv"]), "store": str(populated), "bulk": True}
    out["csv re-ingest"] = run_child(spec)
    print(f"  phases csv re-ingest: {out['csv re-ingest']['total_seconds']:.2f} s", flush=True)
    return out


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def bench_rollups(ours_store: Path, raw_store: Path, parquet: Path, repeat: int) -> dict[str, Any]:
    import duckdb
    import polars as pl
    import pyarrow as pa

    from bitgoeul.store import open_store

    store = open_store(str(ours_store), read_only=True)
    raw = duckdb.connect(str(raw_store), read_only=True)
    frame = pl.read_parquet(parquet).with_columns(pl.col("ts").dt.convert_time_zone(TZ))
    check = duckdb.connect()
    out: dict[str, Any] = {}
    for freq, trunc, every in (("day", "day", "1d"), ("hour", "hour", "1h")):
        sql = (
            f"SELECT meter_id, date_trunc('{trunc}', ts AT TIME ZONE '{TZ}') AS period_start, "
            "sum(energy_kwh) AS energy_kwh FROM reading GROUP BY ALL"
        )

        def ours(freq: Any = freq) -> pa.Table:
            return store.rollup_all(freq, timezone=TZ)

        def duck(sql: str = sql) -> pa.Table:
            return raw.sql(sql).to_arrow_table()

        def polars(every: str = every) -> pa.Table:
            return (
                frame.group_by_dynamic("ts", every=every, group_by="meter_id")
                .agg(pl.col("energy_kwh").sum())
                .to_arrow()
            )

        t_ours, a = _timed(ours, repeat)
        t_duck, b = _timed(duck, repeat)
        t_pl, c = _timed(polars, repeat)
        c = pa.table(
            {
                "meter_id": c.column("meter_id").cast(pa.string()),
                "period_start": pl.from_arrow(c.select(["ts"]))["ts"]
                .dt.replace_time_zone(None)
                .to_arrow(),
                "energy_kwh": c.column("energy_kwh"),
            }
        )
        for name, table in (("ours", a), ("duckdb", b), ("polars", c)):
            check.register(name, table)
        agree = check.sql(
            """SELECT count(*) AS groups,
                      count(*) FILTER (WHERE o.energy_kwh IS NULL OR d.energy_kwh IS NULL
                                          OR p.energy_kwh IS NULL) AS missing,
                      max(greatest(abs(o.energy_kwh - d.energy_kwh),
                                   abs(o.energy_kwh - p.energy_kwh))) AS max_abs_diff_kwh,
                      sum(o.energy_kwh) AS total_ours, sum(d.energy_kwh) AS total_duckdb,
                      sum(p.energy_kwh) AS total_polars
               FROM ours o FULL JOIN duckdb d USING (meter_id, period_start)
               FULL JOIN polars p USING (meter_id, period_start)"""
        ).fetchall()[0]
        names = [
            "groups",
            "missing",
            "max_abs_diff_kwh",
            "total_ours",
            "total_duckdb",
            "total_polars",
        ]
        agreement = dict(zip(names, agree, strict=True))
        agreement["agree"] = bool(
            agreement["missing"] == 0 and (agreement["max_abs_diff_kwh"] or 0.0) < 1e-6
        )
        out[freq] = {
            "ours_seconds": t_ours,
            "duckdb_sql_seconds": t_duck,
            "polars_seconds": t_pl,
            "ratio_duckdb_over_ours": t_duck / t_ours,
            "ratio_polars_over_ours": t_pl / t_ours,
            "rows_out": a.num_rows,
            "agreement": agreement,
        }
        print(
            f"  rollup {freq}: ours {t_ours:.3f} s, duckdb {t_duck:.3f} s, "
            f"polars {t_pl:.3f} s, agree={agreement['agree']}",
            flush=True,
        )
        for name in ("ours", "duckdb", "polars"):
            check.unregister(name)
    store.close()
    raw.close()
    return out


def bench_storage(ours_store: Path, raw_store: Path, parquet: Path, rows: int) -> dict[str, Any]:
    import duckdb

    from bitgoeul.store import open_store

    store = open_store(str(ours_store))
    ours = store.storage_bytes()
    tables = store.connection.execute(
        "SELECT table_name, estimated_size FROM duckdb_tables() ORDER BY 2 DESC"
    ).fetchall()
    store.close()
    con = duckdb.connect(str(raw_store))
    con.execute("CHECKPOINT")
    con.close()
    raw = raw_store.stat().st_size
    pq_bytes = parquet.stat().st_size
    return {
        "ours_bytes": ours,
        "raw_duckdb_bytes": raw,
        "parquet_zstd_bytes": pq_bytes,
        "ours_bytes_per_reading": ours / rows,
        "raw_duckdb_bytes_per_reading": raw / rows,
        "parquet_zstd_bytes_per_reading": pq_bytes / rows,
        "ours_tables": {t: int(n) for t, n in tables},
    }


def bench_memory(
    csv_small: Path,
    csv_big: Path,
    work: Path,
    small_rss: int,
    rows: int,
    big_rows: int,
    memory_limit: str,
) -> dict[str, Any]:
    store = work / "memory.duckdb"

    def one(source: Path, env: dict[str, str] | None) -> dict[str, Any]:
        _remove_store(store)
        res = run_child({"mode": "ours", "source": str(source), "store": str(store)}, env=env)
        _remove_store(store)
        print(
            f"  memory {source.name} env={env or {}}: peak RSS {res['peak_rss'] / GIB:.2f} GiB,"
            f" {res['runs'][0]['seconds']:.1f} s",
            flush=True,
        )
        return {
            "peak_rss_bytes": res["peak_rss"],
            "rss_before_bytes": res["rss_before"],
            "seconds": res["runs"][0]["seconds"],
        }

    out: dict[str, Any] = {"default": {str(rows): {"peak_rss_bytes": small_rss}}}
    out["default"][str(big_rows)] = one(csv_big, None)
    big_rss = out["default"][str(big_rows)]["peak_rss_bytes"]
    over = small_rss > RSS_GOAL_BYTES or big_rss > RSS_FLAT_GOAL * small_rss
    if over:
        env = {"BITGOEUL_MEMORY_LIMIT": memory_limit}
        key = f"BITGOEUL_MEMORY_LIMIT={memory_limit}"
        out[key] = {str(rows): one(csv_small, env), str(big_rows): one(csv_big, env)}
    return out


# -- report ------------------------------------------------------------------------
def _mark(ok: bool) -> str:
    return "met" if ok else "MISSED"


def markdown(results: dict[str, Any]) -> str:
    rows = results["params"]["rows"]
    lines = [
        f"Rows: {rows:,} ({results['params']['meters']:,} meters, 15-minute readings); "
        f"machine: {results['machine']['cpus']} CPUs, "
        f"{results['machine']['ram_gib']:.0f} GiB RAM",
        "",
        "| measurement | Bitgoeul | peer | ratio (goal) |",
        "| --- | --- | --- | --- |",
    ]
    for fmt, e in results["ingest"].items():
        o, r = e["ours"], e["raw"]
        ratio = e["ratio_raw_over_ours"]
        lines.append(
            f"| ingest {fmt} | {o['seconds']:.2f} s ({o['rows_per_s'] / 1e6:.2f} M rows/s) "
            f"| raw DuckDB {r['seconds']:.2f} s ({r['rows_per_s'] / 1e6:.2f} M rows/s) "
            f"| raw/ours {ratio:.2f} "
            f"(>= {INGEST_RATIO_GOAL}: {_mark(ratio >= INGEST_RATIO_GOAL)}) |"
        )
    re = results["reingest"]
    lines.append(f"| re-ingest csv (all unchanged) | {re['seconds']:.2f} s | | |")
    for freq, e in results["rollups"].items():
        for peer, label in (("duckdb", "DuckDB SQL"), ("polars", "Polars")):
            ratio = e[f"ratio_{peer}_over_ours"]
            t_peer = e["duckdb_sql_seconds" if peer == "duckdb" else "polars_seconds"]
            lines.append(
                f"| rollup {freq} ({e['rows_out']:,} groups) | {e['ours_seconds']:.3f} s "
                f"| {label} {t_peer:.3f} s "
                f"| peer/ours {ratio:.2f} (>= {ROLLUP_RATIO_GOAL}: "
                f"{_mark(ratio >= ROLLUP_RATIO_GOAL)}) |"
            )
        lines.append(f"| rollup {freq} totals agree | {e['agreement']['agree']} | | |")
    s = results["storage"]
    lines.append(
        f"| bytes per reading | {s['ours_bytes_per_reading']:.2f} "
        f"| raw DuckDB {s['raw_duckdb_bytes_per_reading']:.2f}, "
        f"Parquet ZSTD {s['parquet_zstd_bytes_per_reading']:.2f} | |"
    )
    for setting, by_rows in results["memory"].items():
        for n, m in by_rows.items():
            rss = m["peak_rss_bytes"]
            goal = f"<= 1.5 GiB: {_mark(rss <= RSS_GOAL_BYTES)}" if int(n) == rows else "flat"
            lines.append(
                f"| peak RSS, ingest {int(n):,} rows ({setting}) | {rss / GIB:.2f} GiB | | {goal} |"
            )
    for fmt, e in results["ingest"].items():
        lines.append(
            f"| peak RSS, ingest {rows:,} rows {fmt}, ours vs raw DuckDB "
            f"| {e['ours']['peak_rss_bytes'] / GIB:.2f} GiB (at start "
            f"{e['ours']['rss_before_bytes'] / GIB:.2f}) "
            f"| {e['raw']['peak_rss_bytes'] / GIB:.2f} GiB (at start "
            f"{e['raw']['rss_before_bytes'] / GIB:.2f}) | |"
        )
    lines += ["", "Phases of our ingest (one run, seconds):", ""]
    lines += [
        "| phase | " + " | ".join(results["phases"]) + " |",
        "| --- |" + " --- |" * len(results["phases"]),
    ]
    names = sorted({p for r in results["phases"].values() for p in r["phases"]})
    for name in names:
        cells = [f"{r['phases'].get(name, 0.0):.2f}" for r in results["phases"].values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cells = [f"{r['total_seconds']:.2f}" for r in results["phases"].values()]
    lines.append("| total | " + " | ".join(cells) + " |")
    for name in ("csv bulk", "csv parser", "csv re-ingest"):
        lines += ["", f"Slowest SQL statements, {name}:", ""]
        lines += ["| seconds | calls | statement (start) |", "| --- | --- | --- |"]
        for st in results["phases"][name]["sql_top"][:8]:
            text = st["sql"].replace("|", "\\|")
            lines.append(f"| {st['seconds']:.2f} | {st['calls']} | `{text}` |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    import duckdb
    import polars as pl
    import psutil
    import pyarrow as pa

    return {
        "cpus": os.cpu_count(),
        "ram_gib": psutil.virtual_memory().total / GIB,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pa.__version__,
        "polars": pl.__version__,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rows", type=int, default=10_000_000, help="readings in the main files")
    p.add_argument("--meters", type=int, default=1000, help="meters in the fleet")
    p.add_argument("--big-rows", type=int, default=40_000_000, help="readings of the memory run")
    p.add_argument("--workdir", type=Path, default=Path("benchmarks/_data"))
    p.add_argument("--repeat", type=int, default=2, help="runs per timing (best is kept)")
    p.add_argument("--memory-limit", default="1GB", help="BITGOEUL_MEMORY_LIMIT to retry with")
    p.add_argument("--quick", action="store_true", help="~1 M row smoke run")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.rows, args.meters, args.big_rows = 1_000_000, 100, 2_000_000
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        print(RESULT_PREFIX + json.dumps(_CHILDREN[spec["mode"]](spec)), flush=True)
        return 0
    started = time.perf_counter()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    print("# generating data (reused when present)", flush=True)
    files = ensure_files(work, args.rows, args.meters, parquet=True)
    big = ensure_files(work, args.big_rows, args.meters, parquet=False)["csv"]
    results: dict[str, Any] = {
        "params": {
            "rows": args.rows,
            "meters": args.meters,
            "big_rows": args.big_rows,
            "repeat": args.repeat,
            "files": {k: {"path": str(v), "bytes": v.stat().st_size} for k, v in files.items()},
        },
        "machine": machine(),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    print("# bulk ingest (child processes)", flush=True)
    results["ingest"] = bench_ingest(files, work, args.rows, args.repeat)
    ours_csv = Path(results["ingest"]["csv"]["ours"]["store"])
    raw_csv = Path(results["ingest"]["csv"]["raw"]["store"])
    print("# storage", flush=True)
    results["storage"] = bench_storage(ours_csv, raw_csv, files["parquet"], args.rows)
    print("# re-ingest", flush=True)
    results["reingest"] = bench_reingest(files["csv"], ours_csv, args.repeat)
    print("# rollups", flush=True)
    results["rollups"] = bench_rollups(ours_csv, raw_csv, files["parquet"], args.repeat)
    print("# phases", flush=True)
    results["phases"] = bench_phases(files, work, ours_csv)
    print("# memory", flush=True)
    results["memory"] = bench_memory(
        files["csv"],
        big,
        work,
        results["ingest"]["csv"]["ours"]["peak_rss_bytes"],
        args.rows,
        args.big_rows,
        args.memory_limit,
    )
    for fmt in files:
        for kind in ("ours", "raw"):
            _remove_store(Path(results["ingest"][fmt][kind]["store"]))
    results["wall_seconds"] = time.perf_counter() - started
    (work / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print()
    print(markdown(results))
    print(f"\nwall time {results['wall_seconds']:.0f} s; JSON: {work / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
