"""Fit time of the lightgbm+mlp model's network (QuantileMLP) on the CPU and on a GPU.

The network of :class:`bitgoeul.forecast.hybrid.HybridForecaster` trains on the
same feature rows as the boosters: about 55,000 for the seven SGSC households
(365 day-ahead origins x 24 leads, less the masked ones) and at most
``max_train_rows`` = 200,000. This script fits it on rows of those sizes
(random features of the same width, 28 columns with a tenth missing in four
of them, a target that depends on them) with the model's defaults (30 epochs,
batches of 512), on every device it finds, and prints seconds per fit and the
ratio to the first device (the CPU), side by side in one run. With
``--batch`` it also times larger batches, which a GPU needs to be busy.

It loads ``src/bitgoeul/forecast/neural.py`` by path, which needs only NumPy
and PyTorch, so it runs on a GPU machine where the rest of Bitgoeul's
dependencies are not installed.

Run (repository root)::

    .venv/bin/python benchmarks/bench_neural.py                 # here: the CPU only
    python3 benchmarks/bench_neural.py --rows 55000 200000 --batch 512 4096
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 28  # the model's feature columns (features.FEATURE_NAMES), the meter code apart


def load_neural() -> Any:
    """``bitgoeul.forecast.neural``, loaded from its file (no other Bitgoeul import)."""
    path = ROOT / "src" / "bitgoeul" / "forecast" / "neural.py"
    spec = importlib.util.spec_from_file_location("bitgoeul_neural", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bitgoeul_neural"] = module
    spec.loader.exec_module(module)
    return module


def rows(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random feature rows of the model's width, a tenth missing in four columns."""
    rng = np.random.default_rng(seed)
    x = rng.normal(1.0, 0.3, size=(n, WIDTH))
    for j in (9, 12, 24, 25):
        x[rng.random(n) < 0.1, j] = np.nan
    y = np.nan_to_num(x[:, 15]) * (1 + 0.2 * np.sin(x[:, 1])) + rng.normal(0, 0.2, n)
    meter = rng.integers(0, 7, n)
    return x, y, meter


def time_fit(neural: Any, n: int, device: str, batch: int, threads: int) -> dict[str, Any]:
    x, y, meter = rows(n)
    mlp = neural.QuantileMLP((0.1, 0.5, 0.9), batch_size=batch, device=device, num_threads=threads)
    t0 = time.perf_counter()
    mlp.fit(x, y, meter=meter, n_meters=7)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    p = mlp.predict(x)
    predict_s = time.perf_counter() - t0
    rmse = float(np.sqrt(np.mean((p[:, 1] - y) ** 2)))
    return {
        "rows": n,
        "device": device,
        "batch": batch,
        "threads": threads,
        "fit_s": fit_s,
        "predict_s": predict_s,
        "rmse": rmse,
    }


def device_checks(neural: Any) -> dict[str, Any]:
    """Is a GPU fit repeatable, and does a GPU-fitted network predict the same on the CPU?"""
    x, y, meter = rows(5_000, seed=1)

    def fit() -> Any:
        return neural.QuantileMLP((0.1, 0.5, 0.9), epochs=5, device="cuda").fit(
            x, y, meter=meter, n_meters=7
        )

    first, second = fit(), fit()
    on_cpu = neural.QuantileMLP.from_arrays(first.config(), first.to_arrays(), device="cpu")
    p_gpu, p_cpu = first.predict(x, meter=meter), on_cpu.predict(x, meter=meter)
    return {
        "gpu_refit_max_abs_diff": float(np.abs(first.predict(x) - second.predict(x)).max()),
        "gpu_vs_cpu_predict_max_abs_diff": float(np.abs(p_gpu - p_cpu).max()),
        "target_std": float(np.std(y)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[55_000])
    parser.add_argument("--batch", type=int, nargs="+", default=[512])
    parser.add_argument("--threads", type=int, default=2, help="PyTorch CPU threads")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "_data" / "neural.json", help="JSON"
    )
    args = parser.parse_args(argv)
    neural = load_neural()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(
        f"torch {torch.__version__}, python {platform.python_version()}, "
        f"{torch.get_num_threads()} CPU threads available, GPU: {gpu}"
    )
    if torch.cuda.is_available():  # one small fit first: CUDA's start-up is not the model's time
        time_fit(neural, 2_000, "cuda", 512, args.threads)
    results = []
    print("| rows | batch | device | fit [s] | predict [s] | fit / CPU fit | RMSE |")
    print("|---|---|---|---|---|---|---|")
    for n in args.rows:
        for batch in args.batch:
            cpu = None
            for device in devices:
                r = time_fit(neural, n, device, batch, args.threads)
                cpu = cpu or r["fit_s"]
                results.append(r)
                print(
                    f"| {n} | {batch} | {device} | {r['fit_s']:.1f} | {r['predict_s']:.2f} | "
                    f"{r['fit_s'] / cpu:.2f} | {r['rmse']:.3f} |",
                    flush=True,
                )
    checks = {}
    if torch.cuda.is_available():
        checks = device_checks(neural)
        print("checks on the GPU: " + json.dumps(checks))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"gpu": gpu, "results": results, "checks": checks}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
