"""Score LightGBMForecaster settings on tuning origins disjoint from the benchmark's.

The model's defaults were chosen with this script, never on the origins that
``bench_forecast.py`` reports: for each series, the 20 origins that
``choose_origins`` would pick, moved 5 days later, any day that is one of the
benchmark's 30 origins left out. It runs the three simple baselines once per
dataset and origin set (kept in ``--out`` for the next variant) and our model
with the defaults changed by ``--kw`` (constructor arguments) and ``--extra``
(LightGBM parameters added to every booster's), then prints NRMSE, the ratio to
the series' best simple baseline, coverage and NMBE per series, and the means
the issue's goals (b) and (c) use. With ``--peers`` it also runs statsforecast
(AutoETS, MSTL) and mlforecast on the same origins (cached like the baselines;
needs the bench extra) and prints each series' best peer, for goal (a).

Run (repository root)::

    .venv/bin/python benchmarks/tune_forecast.py --name defaults
    .venv/bin/python benchmarks/tune_forecast.py --name no-meter --kw '{"meter_feature": false}'
    .venv/bin/python benchmarks/tune_forecast.py --name linear --extra '{"linear_tree": true}'
    .venv/bin/python benchmarks/tune_forecast.py --name homes --sets sgsc
    .venv/bin/python benchmarks/tune_forecast.py --name second-set --shift 10
    .venv/bin/python benchmarks/tune_forecast.py --name homes-vs-peers --sets sgsc --peers
    .venv/bin/python benchmarks/tune_forecast.py --name hybrid --model lightgbm+mlp --sets sgsc
    .venv/bin/python benchmarks/tune_forecast.py --name week --horizon 168 --origins 20

With ``--horizon 168`` the forecasts are a week long, the model's ``max_horizon`` is set to
match, and the origins are the week-ahead benchmark's way of choosing them (spread so that a
week of data follows each), moved and thinned the same way; none is a week-ahead benchmark
origin (``bench_forecast.py --horizon 168 --origins 8``).
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_forecast as bf

OUT = Path(__file__).resolve().parent / "_data" / "tuning"
SHIFT_D = 5  # the tuning origins are the 20 chosen days moved this many days later


WEEK_BENCH_ORIGINS = 8  # origins of the week-ahead benchmark run (docs/benchmarks.md)


def tuning_origins(
    dataset: bf.Dataset, n: int, shift_days: int = SHIFT_D, *, horizon: int = bf.HORIZON_H
) -> list[pd.Timestamp]:
    """``n`` origins moved ``shift_days`` later, none of them a benchmark origin."""
    bench = set(bf.choose_origins(dataset, 30))
    if horizon != bf.HORIZON_H:
        bench |= set(bf.choose_origins(dataset, WEEK_BENCH_ORIGINS, horizon=horizon))
    last = dataset.history["ts"].max()
    shift = pd.Timedelta(days=shift_days)
    moved = [o + shift for o in bf.choose_origins(dataset, n, horizon=horizon)]
    return [o for o in moved if o not in bench and o + pd.Timedelta(hours=horizon) <= last]


def cached(path: Path, run: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """``run()``'s forecasts, kept in ``path`` for the next variant."""
    if path.exists():
        frame: pd.DataFrame = pickle.loads(path.read_bytes())
        return frame
    frame = run()
    path.write_bytes(pickle.dumps(frame))
    return frame


def score(
    name: str,
    n: int,
    out: Path,
    shift_days: int = SHIFT_D,
    *,
    peers: bool = False,
    model: str = bf.OURS,
    horizon: int = bf.HORIZON_H,
) -> list[dict[str, Any]]:
    """Backtest the baselines and peers (cached) and our model on one dataset's tuning origins."""
    loaders = {
        "cnu": bf.load_cnu,
        "national": bf.load_national,
        "jeju": bf.load_jeju,
        "sgsc": bf.load_sgsc,
    }
    dataset = bf.prepare(loaders[name]())
    origins = tuning_origins(dataset, n, shift_days, horizon=horizon)
    key = f"{name}_{n}_shift{shift_days}" + ("" if horizon == bf.HORIZON_H else f"_h{horizon}")
    frames = [
        cached(
            out / f"baselines_{key}.pkl",
            lambda: bf.run_ours(dataset, origins, only=bf.BASELINES, horizon=horizon)[0],
        )
    ]
    if peers:
        found = cached(
            out / f"peers_{key}.pkl",
            lambda: bf.run_peers(dataset, origins, masked=False, horizon=horizon)[0],
        )
        frames.append(bf.attach_actuals(found, dataset.history))
    t0 = time.perf_counter()
    ours, _ = bf.run_ours(dataset, origins, only=[model], horizon=horizon)
    seconds = time.perf_counter() - t0
    forecasts = pd.concat([*frames, ours], ignore_index=True)
    scores = bf.add_ratios(bf.score_models(forecasts, dataset.history))
    table = scores[scores["model"] == model]
    print(f"{name}: {len(origins)} origins, our fits {seconds:.0f} s", flush=True)
    rows = []
    for row in table.itertuples():
        found = {
            "series": row.meter_id,
            "kind": dataset.kind,
            "nrmse": row.nrmse,
            "ratio": row.nrmse_ratio,
            "coverage": row.coverage,
            "nmbe": row.nmbe,
        }
        if peers:
            mine = scores[(scores["meter_id"] == row.meter_id) & scores["model"].isin(bf.PEERS)]
            best = mine.loc[mine["nrmse"].idxmin()]
            found.update(best_peer=best["model"], peer_nrmse=best["nrmse"])
        rows.append(found)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="label of the variant")
    parser.add_argument(
        "--model", default=bf.OURS, choices=bf.LEARNED, help="which of our learned models"
    )
    parser.add_argument("--kw", default="{}", help="JSON: the model's arguments")
    parser.add_argument("--extra", default="{}", help="JSON: LightGBM parameters to add")
    parser.add_argument("--sets", default="cnu,national", help="cnu, national, jeju, sgsc")
    parser.add_argument("--origins", type=int, default=20, help="before leaving out collisions")
    parser.add_argument(
        "--shift",
        type=int,
        default=SHIFT_D,
        help="days the origins are moved (another value: a second, disjoint tuning set)",
    )
    parser.add_argument("--peers", action="store_true", help="also score the peers (goal (a))")
    parser.add_argument(
        "--horizon", type=int, default=bf.HORIZON_H, help="hours forecast (168: week-ahead)"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    bf.GBM_KWARGS.update(json.loads(args.kw))
    extra = json.loads(args.extra)
    if extra:
        from bitgoeul.forecast.gbm import LightGBMForecaster

        base = LightGBMForecaster.lightgbm_params

        def params(self: LightGBMForecaster, level: float, *, member: int = 0) -> dict[str, Any]:
            return {**base(self, level, member=member), **extra}

        LightGBMForecaster.lightgbm_params = params  # type: ignore[method-assign]
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [
        row
        for name in args.sets.split(",")
        for row in score(
            name,
            args.origins,
            args.out,
            args.shift,
            peers=args.peers,
            model=args.model,
            horizon=args.horizon,
        )
    ]
    table = pd.DataFrame(rows)
    print(
        f"\n{args.name}: --model {args.model} --kw {args.kw} --extra {args.extra} "
        f"--shift {args.shift} --horizon {args.horizon}"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    big = table[table["kind"].isin(["building", "national"])]
    homes = table[table["kind"] == "household"]
    if len(big):
        print(f"buildings+national: mean ratio {big['ratio'].mean():.4f}")
    if len(homes):
        print(f"households: mean ratio to the best simple baseline {homes['ratio'].mean():.4f}")
    print(f"mean coverage {table['coverage'].mean():.4f}")
    if args.peers:
        below = int((table["nrmse"] < table["peer_nrmse"]).sum())
        print(f"below every peer: {below}/{len(table)} series")
    (args.out / f"{args.name}.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
