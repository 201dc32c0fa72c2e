from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bitgoeul.forecast.metrics import (
    coverage,
    cvrmse,
    mase,
    nmbe,
    nrmse,
    pinball_loss,
    score,
    smape,
)

Y = np.array([10.0, 20.0, 30.0, 40.0])
F = np.array([12.0, 18.0, 33.0, 40.0])  # errors y - f: -2, 2, -3, 0


def test_point_metrics_match_hand_computations() -> None:
    mean = 25.0
    sse = 4 + 4 + 9 + 0
    assert nrmse(Y, F) == pytest.approx(math.sqrt(sse / 4) / mean)
    assert cvrmse(Y, F) == pytest.approx(math.sqrt(sse / 3) / mean)
    assert cvrmse(Y, F, p=2) == pytest.approx(math.sqrt(sse / 2) / mean)
    assert nmbe(Y, F) == pytest.approx(-3 / (3 * mean))
    assert smape(Y, F) == pytest.approx(np.mean([4 / 22, 4 / 38, 6 / 63, 0.0]))


def test_metrics_skip_nan_pairs_and_return_nan_when_undefined() -> None:
    assert nrmse([1.0, np.nan, 3.0], [2.0, 5.0, 2.0]) == pytest.approx(0.5)
    assert math.isnan(nrmse([0.0, 0.0], [1.0, 1.0]))
    assert math.isnan(cvrmse([1.0], [1.0]))
    assert smape([0.0], [0.0]) == 0.0
    with pytest.raises(ValueError, match="same length"):
        nrmse([1.0], [1.0, 2.0])


def test_mase_scales_by_the_in_sample_seasonal_naive_error() -> None:
    history = np.array(
        [1.0, 2.0, 4.0, 6.0, np.nan, 9.0]
    )  # season 2: |4-1|, |6-2|, |9-6|... NaN skipped
    scale = np.mean([3.0, 4.0, 3.0])
    assert mase([5.0, 7.0], [4.0, 9.0], insample_kwh=history, season=2) == pytest.approx(
        1.5 / scale
    )


def test_pinball_loss_and_coverage_match_hand_computations() -> None:
    assert pinball_loss(Y, F, level=0.1) == pytest.approx(np.mean([0.9 * 2, 0.1 * 2, 0.9 * 3, 0.0]))
    assert pinball_loss(Y, F, level=0.5) == pytest.approx(np.mean(np.abs(Y - F)) / 2)
    assert coverage(Y, Y - 1, Y + 1) == 1.0
    assert coverage(Y, F, F + 5) == pytest.approx(0.5)  # 10 < 12 and 20 in [18, 23], 30 < 33, 40 in


def test_score_gives_one_row_per_meter_and_a_pooled_row() -> None:
    frame = pd.DataFrame(
        {
            "meter_id": ["a"] * 4 + ["b"] * 4,
            "actual_kwh": np.r_[Y, Y * 10],
            "p10_kwh": np.r_[F - 1, F * 10 - 10],
            "p50_kwh": np.r_[F, F * 10],
            "p90_kwh": np.r_[F + 1, F * 10 + 10],
            "model": "m",
        }
    )
    out = score(frame).set_index("meter_id")
    assert list(out.index) == ["a", "b", "all"]
    assert out.loc["a", "nrmse"] == pytest.approx(nrmse(Y, F))
    assert out.loc["b", "nrmse"] == pytest.approx(nrmse(Y, F))  # scale-free
    assert out.loc["all", "n"] == 8
    assert out.loc["all", "rmse_kwh"] == pytest.approx(math.sqrt((17 + 1700) / 8))
    assert out.loc["a", "coverage"] == pytest.approx(0.25)
    assert out.loc["a", "pinball_p90"] == pytest.approx(pinball_loss(Y, F + 1, level=0.9))
    assert "mase" not in out.columns
    assert set(out["model"]) == {"m"}


def test_score_computes_mase_from_the_history_before_each_origin() -> None:
    ts = pd.date_range("2025-01-01", periods=72, freq="h", tz="UTC")
    values = np.r_[np.zeros(24), np.ones(24), np.full(24, 5.0)]  # day-over-day diff 1 on day 2
    history = pd.DataFrame({"meter_id": "m", "ts": ts, "energy_kwh": values})
    origin = ts[48]
    frame = pd.DataFrame(
        {
            "meter_id": "m",
            "origin": origin,
            "ts": ts[48:50],
            "actual_kwh": [5.0, 5.0],
            "p50_kwh": [3.0, 4.0],
        }
    )
    out = score(frame, history=history).set_index("meter_id")
    assert out.loc["m", "mase"] == pytest.approx(1.5 / 1.0)  # day 3 is after the origin: unseen


def test_score_refuses_a_frame_without_actuals() -> None:
    with pytest.raises(ValueError, match="actual_kwh"):
        score(pd.DataFrame({"meter_id": ["a"], "p50_kwh": [1.0]}))
