"""Where one fit and forecast of the default model spends its time.

Fits ``LightGBMForecaster`` (the benchmark's day-ahead settings) on one
dataset as of one of the benchmark's origins, under :mod:`cProfile`, and
prints the wall time and the functions with the most cumulative time.

Run (repository root)::

    .venv/bin/python benchmarks/profile_forecast.py --dataset sgsc --origin 15
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_forecast as bf

LOADERS = {
    "cnu": bf.load_cnu,
    "national": bf.load_national,
    "jeju": bf.load_jeju,
    "sgsc": bf.load_sgsc,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(LOADERS), default="sgsc")
    parser.add_argument("--origin", type=int, default=15, help="index among the 30 origins")
    parser.add_argument("--top", type=int, default=25, help="functions to print")
    args = parser.parse_args(argv)
    dataset = bf.prepare(LOADERS[args.dataset]())
    as_of = bf.choose_origins(dataset, 30)[args.origin]
    history = dataset.history
    lo = as_of - pd.Timedelta(days=bf.OUR_TRAIN_DAYS + bf.READ_MARGIN_D)
    reads = history[(history["ts"] >= lo) & (history["ts"] < as_of)]
    model = bf.our_models(dataset.timezone, dataset.holidays, only=[bf.OURS])[bf.OURS]()

    profile = cProfile.Profile()
    t0 = time.perf_counter()
    profile.enable()
    model.fit(reads, as_of=as_of)
    model.predict(reads, as_of=as_of, horizon=bf.HORIZON_H, quantiles=bf.QUANTILES)
    profile.disable()
    wall = time.perf_counter() - t0
    meters = reads["meter_id"].nunique()
    print(f"{args.dataset} as of {as_of}: {meters} meters, {len(reads)} readings, {wall:.1f} s")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(args.top)
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
