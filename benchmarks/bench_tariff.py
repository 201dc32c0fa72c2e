"""Residential billing benchmark: vectorised ``compute_bills`` against a per-bill loop.

One run:

* draws ``--bills`` random customer-cycles (seed ``--seed``): energy uniform in
  0-2,000 kWh (float), a start day uniform in 2021-01-01 .. 2026-12-01, a length of
  28-31 days, low or high voltage with equal odds;
* bills all of them with :func:`bitgoeul.tariff.compute_bills` (best of ``--repeat``);
* bills the first ``--sample`` of them one by one with
  :func:`bitgoeul.tariff.compute_bill` in a plain Python loop (the same book, passed
  explicitly, so neither side reads files);
* checks that both agree to the won on every field of the sample, and reports bills/s
  and the ratio (goal: >= 100x).

Usage::

    .venv/bin/python benchmarks/bench_tariff.py            # 1,000,000 bills, 10,000 looped
    .venv/bin/python benchmarks/bench_tariff.py --bills 100000 --sample 2000   # quick
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time

import numpy as np

from bitgoeul.tariff import compute_bill, compute_bills, load_tariffs
from bitgoeul.tariff.bill import WON_FIELDS

RATIO_GOAL = 100.0


def draw_cycles(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random customer-cycles: kWh, start and end (datetime64[D]), contract key."""
    rng = np.random.default_rng(seed)
    energy_kwh = rng.uniform(0.0, 2000.0, n)
    first = np.datetime64("2021-01-01")
    span = int((np.datetime64("2026-12-01") - first).astype(int)) + 1
    start = first + rng.integers(0, span, n).astype("timedelta64[D]")
    end = start + (rng.integers(28, 32, n) - 1).astype("timedelta64[D]")
    contract = np.where(rng.random(n) < 0.5, "residential-low", "residential-high")
    return energy_kwh, start, end, contract


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bills", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    book = load_tariffs()
    energy_kwh, start, end, contract = draw_cycles(args.bills, args.seed)

    vector_s = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        won = compute_bills(energy_kwh, start, end, contract=contract, book=book)
        vector_s.append(time.perf_counter() - t0)
    best_vector = min(vector_s)

    sample = min(args.sample, args.bills)
    starts = start[:sample].astype(dt.date).tolist()
    ends = end[:sample].astype(dt.date).tolist()
    kwhs = energy_kwh[:sample].tolist()
    keys = contract[:sample].tolist()
    t0 = time.perf_counter()
    bills = [
        compute_bill(kwhs[i], starts[i], ends[i], contract=keys[i], book=book)
        for i in range(sample)
    ]
    loop_s = time.perf_counter() - t0

    mismatches = [
        i
        for i, bill in enumerate(bills)
        if any(getattr(bill, f) != int(won[f][i]) for f in WON_FIELDS)
    ]
    if mismatches:
        i = mismatches[0]
        print(f"MISMATCH at {i}: {bills[i].won()} != { {f: int(won[f][i]) for f in WON_FIELDS} }")
    assert not mismatches, f"{len(mismatches)} of {sample} bills differ between the two paths"

    vector_rate = args.bills / best_vector
    loop_rate = sample / loop_s
    ratio = vector_rate / loop_rate
    results = {
        "bills": args.bills,
        "sample": sample,
        "seed": args.seed,
        "vector_s": vector_s,
        "vector_bills_per_s": vector_rate,
        "loop_s": loop_s,
        "loop_bills_per_s": loop_rate,
        "ratio": ratio,
        "goal": RATIO_GOAL,
        "agree_to_the_won": True,
        "total_won_sum": int(won["total_won"].sum()),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
    }
    print("| path | bills | time | bills/s |")
    print("| --- | ---: | ---: | ---: |")
    print(
        f"| `compute_bills` (numpy, best of {args.repeat}) | {args.bills:,} | "
        f"{best_vector:.3f} s | {vector_rate:,.0f} |"
    )
    print(f"| `compute_bill` loop | {sample:,} | {loop_s:.3f} s | {loop_rate:,.0f} |")
    print()
    verdict = "met" if ratio >= RATIO_GOAL else "MISSED"
    print(
        f"ratio {ratio:,.0f}x (goal >= {RATIO_GOAL:.0f}x: {verdict}); "
        f"all {sample:,} sampled bills agree to the won on {len(WON_FIELDS)} fields"
    )
    print(
        f"runs of compute_bills: {', '.join(f'{s:.3f} s' for s in vector_s)}; "
        f"{results['machine']}, Python {results['python']}, numpy {results['numpy']}"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
