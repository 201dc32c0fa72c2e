"""One meter's usage per period: :func:`bitgoeul.services.usage` against raw DuckDB SQL.

One run:

* ingests ``--days`` days of 15-minute readings of one meter (Asia/Seoul, seed 0)
  into a fresh store file;
* times ``usage(store, meter, freq)`` for day and hour periods (best of
  ``--repeat``): the rollup query plus the Python objects the API and the CLI read
  (local start, end, label, energy, count);
* times the same sums in raw DuckDB on the same connection (``date_trunc`` in the
  zone, ``GROUP BY``, ``ORDER BY``, fetched as Python tuples), and checks that both
  give the same totals per period.

Usage::

    .venv/bin/python benchmarks/bench_usage.py            # 730 days: 730 days, 17,520 hours
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bitgoeul.services import ingest_frame, usage
from bitgoeul.store import open_store

ZONE = "Asia/Seoul"


def best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """Return the shortest wall time of ``repeat`` calls [s] and the last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(str(Path(folder) / "usage.duckdb"))
        ts = pd.date_range("2024-11-01", periods=96 * args.days, freq="15min", tz=ZONE)
        energy = np.random.default_rng(0).uniform(0.1, 1.0, len(ts))
        ingest_frame(pd.DataFrame({"meter_id": "m", "ts": ts, "energy_kwh": energy}), store)
        con = store.connection
        print("| periods | count | `usage()` [ms] | raw DuckDB [ms] | ours / raw |")
        print("|---|---:|---:|---:|---:|")
        for freq in ("day", "hour"):
            ours_s, periods = best_of(args.repeat, lambda f=freq: usage(store, "m", f))
            sql = (
                f"SELECT date_trunc('{freq}', ts AT TIME ZONE '{ZONE}') AS p, sum(energy_kwh), "
                "count(*) FROM reading GROUP BY p ORDER BY p"
            )
            raw_s, rows = best_of(args.repeat, lambda q=sql: con.execute(q).fetchall())
            if len(rows) != len(periods) or not all(
                math.isclose(r[1], p.energy_kwh, rel_tol=1e-12)
                for r, p in zip(rows, periods, strict=True)
            ):
                raise SystemExit(f"{freq}: usage() and raw DuckDB disagree")
            print(
                f"| {freq} | {len(periods):,} | {ours_s * 1e3:.1f} | {raw_s * 1e3:.1f} "
                f"| {ours_s / raw_s:.2f} |"
            )
        store.close()


if __name__ == "__main__":
    main()
