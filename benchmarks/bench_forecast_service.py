"""Forecasting a fleet through the service: a fit per request against one shared fit.

A fresh DuckDB store holds one organisation's ``--meters`` synthetic hourly meters
(``bitgoeul.forecast.synthetic.generate_load_history``, a year each). Every meter is
forecast day-ahead with the global LightGBM model as of the same midnight, as the
API's ``GET /v1/meters/{id}/forecast`` does, twice in the same process:

- without a cache: each request fits the organisation's model again (the peer: what the
  service did before the cache);
- with :class:`bitgoeul.services.forecast.ModelCache`: the first request fits, the others
  read the same readings, hash them and reuse the model;
- with a ``ModelCache`` on a folder: one cache fits the first meter's model and writes it,
  then a new cache (as in the next CLI call or a restarted service) loads the file.

Both must give the same numbers; the script checks that before it reports.

Run::

    .venv/bin/python benchmarks/bench_forecast_service.py [--meters 20] [--days 365]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd

from bitgoeul.forecast.synthetic import generate_load_history
from bitgoeul.services import MeterDefaults, ingest_frame
from bitgoeul.services.forecast import ModelCache, forecast_meter
from bitgoeul.store import open_store

OUT = Path(__file__).resolve().parent / "_data" / "forecast_service.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=20)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args(argv)
    history = generate_load_history(args.meters, days=args.days + 1, seed=0, start="2025-01-01")
    as_of = (pd.Timestamp("2025-01-01", tz="Asia/Seoul") + pd.Timedelta(days=args.days)).isoformat()
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(str(Path(folder) / "fleet.duckdb"))
        frame = history.drop(columns=["temp_c"])
        ingest_frame(frame, store, defaults=MeterDefaults(org_id="fleet", site_id="fleet-site"))
        meters = sorted(history["meter_id"].unique())
        options = {"as_of": as_of, "horizon": "24h", "model": "lightgbm"}

        def run(cache: ModelCache | None) -> tuple[list[float], list[pd.DataFrame]]:
            seconds, frames = [], []
            for meter in meters:
                t0 = time.perf_counter()
                result = forecast_meter(store, meter, cache=cache, **options)
                seconds.append(time.perf_counter() - t0)
                frames.append(result.forecast)
            return seconds, frames

        cold, cold_frames = run(None)
        cache = ModelCache()
        warm, warm_frames = run(cache)
        models = Path(folder) / "models"
        t0 = time.perf_counter()
        forecast_meter(store, meters[0], cache=ModelCache(directory=models), **options)
        fit_and_save = time.perf_counter() - t0
        (model_file,) = models.glob("*.zip")
        next_call = ModelCache(directory=models)
        t0 = time.perf_counter()
        loaded = forecast_meter(store, meters[0], cache=next_call, **options)
        load = time.perf_counter() - t0
        if next_call.loaded != 1:
            raise AssertionError("the second cache fitted instead of loading the file")
        file_mb = model_file.stat().st_size / 1e6
        store.close()
    for a, b in zip(cold_frames, warm_frames, strict=True):
        pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(loaded.forecast, cold_frames[0])
    result = {
        "command": "benchmarks/bench_forecast_service.py "
        f"--meters {args.meters} --days {args.days}",
        "machine": f"{platform.machine()}, {platform.system()}",
        "meters": args.meters,
        "days": args.days,
        "no_cache_total_s": sum(cold),
        "no_cache_per_meter_s": sum(cold) / len(cold),
        "cache_total_s": sum(warm),
        "cache_first_s": warm[0],
        "cache_hit_mean_s": sum(warm[1:]) / max(1, len(warm) - 1),
        "fits": cache.misses,
        "hits": cache.hits,
        "speedup": sum(cold) / sum(warm),
        "folder_fit_and_save_s": fit_and_save,
        "folder_load_s": load,
        "model_file_mb": file_mb,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    print(
        f"| meters | no cache: total / per meter | cache: total, first, later mean | speed-up |\n"
        f"|---|---|---|---|\n"
        f"| {args.meters} | {sum(cold):.1f} s / {sum(cold) / len(cold):.2f} s | "
        f"{sum(warm):.1f} s, {warm[0]:.2f} s, {result['cache_hit_mean_s']:.3f} s | "
        f"{result['speedup']:.1f}x |\n\n"
        f"model folder: first request (fit + write the file) {fit_and_save:.2f} s; the next "
        f"cache's first request (load the file) {load:.2f} s; file {file_mb:.1f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
