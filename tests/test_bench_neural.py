"""benchmarks/bench_neural.py: its rows have the model's width, and a tiny run works."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from bitgoeul.forecast.features import FEATURE_NAMES

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_neural.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_neural", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_neural"] = module
    spec.loader.exec_module(module)
    return module


def test_the_timed_rows_have_the_width_of_the_models_features(bench: ModuleType) -> None:
    x, y, meter = bench.rows(100)
    assert x.shape == (100, len(FEATURE_NAMES))
    assert y.shape == (100,)
    assert set(meter) <= set(range(7))


def test_a_tiny_run_times_the_cpu_and_writes_its_results(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "neural.json"
    assert bench.main(["--rows", "600", "--threads", "1", "--out", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    cpu = [r for r in results if r["device"] == "cpu"]
    assert len(cpu) == 1
    assert cpu[0]["rows"] == 600
    assert cpu[0]["fit_s"] > 0
    _, y, _ = bench.rows(600)
    assert cpu[0]["rmse"] < 0.9 * float(y.std())  # better than a constant forecast
