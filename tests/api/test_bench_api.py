"""A tiny run of the API load test (benchmarks/bench_api.py) reports sane numbers."""

from __future__ import annotations

import math

import pytest
from tests.conftest import load_bench_api


@pytest.mark.slow
def test_tiny_load_test_reports_sane_numbers() -> None:
    bench = load_bench_api()
    args = bench.parse_args(
        ["--batches", "12", "--batch", "100", "--meters", "3", "--writers", "3", "--readers", "1"]
    )
    result = bench.run(args)
    assert result.errors == []
    assert result.readings == 1200  # every batch acknowledged
    assert 0 < result.seconds < 60
    assert math.isclose(result.readings_per_s, result.readings / result.seconds)
    assert 0 < result.write_p50_ms <= result.write_p99_ms
    assert result.reads >= 1
    assert 0 < result.read_p50_ms <= result.read_p99_ms
    assert 1 <= result.max_group_requests <= 3
    assert result.bulk_readings_per_s > 0
    assert result.per_batch_readings_per_s > 0
    assert math.isclose(result.ratio_to_bulk, result.readings_per_s / result.bulk_readings_per_s)
    table = bench.markdown(result)
    assert "| API / bulk (goal >= 0.3) |" in table
    assert "12 batches x 100 readings" in table


def test_percentile_is_nearest_rank() -> None:
    bench = load_bench_api()
    values = [float(v) for v in range(1, 101)]
    assert bench.percentile(values, 0.5) == 50.0
    assert bench.percentile(values, 0.99) == 99.0
    assert bench.percentile([7.0], 0.99) == 7.0
    assert math.isnan(bench.percentile([], 0.5))


def test_batches_are_new_data_for_each_meter() -> None:
    bench = load_bench_api()
    seen = set()
    for i in range(40):
        for r in bench.batch_readings(i, size=50, meters=7):
            key = (r["meter_id"], r["ts"])
            assert key not in seen
            seen.add(key)
    assert len(seen) == 2000
