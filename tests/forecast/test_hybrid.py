"""The neural learner (QuantileMLP) and the lightgbm+mlp model built on it."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from bitgoeul.errors import ModelFormatError
from bitgoeul.forecast.gbm import LightGBMForecaster, base_score
from bitgoeul.forecast.hybrid import HybridForecaster
from bitgoeul.forecast.neural import QuantileMLP, resolve_device
from bitgoeul.forecast.persist import load_model, save_model
from bitgoeul.forecast.synthetic import generate_load_history

from .conftest import SEOUL, small_model
from .test_persist import _set, rewrite

HISTORY = generate_load_history(2, days=70, seed=5, start="2022-01-01")
AS_OF = pd.Timestamp("2022-03-02", tz=SEOUL)
LEVELS = (0.1, 0.5, 0.9)
SMALL_NET = {"mlp_epochs": 8, "mlp_hidden": 32, "device": "cpu"}


def small_hybrid(**options: object) -> HybridForecaster:
    """small_model's LightGBM settings with a small network on the CPU."""
    lightgbm = small_model().get_params()
    return HybridForecaster(**{**lightgbm, **SMALL_NET, **options})


def _rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = 2 * x[:, 0] + x[:, 1] ** 2 + rng.normal(0, 0.3, n)
    return x, y


# -- the learner ------------------------------------------------------------------------
def test_the_network_learns_the_function_and_a_calibrated_band() -> None:
    x, y = _rows(6000, 0)
    mlp = QuantileMLP(LEVELS, epochs=15, device="cpu", num_threads=1).fit(x, y)
    x_new, y_new = _rows(3000, 1)
    p = mlp.predict(x_new)
    rmse = float(np.sqrt(np.mean((p[:, 1] - y_new) ** 2)))
    assert rmse < 0.5 < float(np.std(y_new))  # the spread of y is about 2.4
    inside = float(np.mean((y_new >= p[:, 0]) & (y_new <= p[:, 2])))
    assert 0.7 <= inside <= 0.9  # nominal 80 %
    assert (p[:, 0] < p[:, 2]).mean() > 0.99


def test_a_missing_input_is_flagged_so_the_network_can_tell_it_from_a_value() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4000, 2))
    gone = rng.random(4000) < 0.3
    x[gone, 0] = np.nan
    y = np.where(gone, 5.0, x[:, 0])  # a missing reading means "5", not the median (about 0)
    mlp = QuantileMLP((0.5,), epochs=15, device="cpu", num_threads=1).fit(x, y)
    assert mlp.flagged_.tolist() == [0]
    p = mlp.predict(np.array([[np.nan, 0.0], [0.0, 0.0], [1.0, 0.0]]))[:, 0]
    assert np.isfinite(p).all()
    assert abs(p[0] - 5) < 0.5 and abs(p[1]) < 0.5 and abs(p[2] - 1) < 0.5


def test_the_meter_embedding_separates_meters_and_an_unknown_meter_still_gets_a_value() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 1))
    meter = rng.integers(0, 2, 3000)
    y = x[:, 0] + np.where(meter == 1, 3.0, 0.0)
    mlp = QuantileMLP((0.5,), epochs=15, device="cpu", num_threads=1)
    mlp.fit(x, y, meter=meter, n_meters=2)
    zero = np.zeros((1, 1))
    a, b, unknown = (mlp.predict(zero, meter=np.array([m]))[0, 0] for m in (0, 1, -1))
    assert abs(a) < 0.5 and abs(b - 3) < 0.5
    # a meter not fitted on is the mean meter, not the embedding's untrained first row
    weights = mlp.net_.embedding.weight.detach()
    torch.testing.assert_close(weights[0], weights[1:].mean(dim=0))
    assert min(a, b) < unknown < max(a, b)


def test_a_fit_is_deterministic_and_round_trips_through_arrays_exactly() -> None:
    x, y = _rows(2000, 4)
    first = QuantileMLP(LEVELS, epochs=3, device="cpu", num_threads=1).fit(x, y)
    second = QuantileMLP(LEVELS, epochs=3, device="cpu", num_threads=1).fit(x, y)
    np.testing.assert_array_equal(first.predict(x), second.predict(x))
    buffer = io.BytesIO()
    np.savez(buffer, **first.to_arrays())
    with np.load(io.BytesIO(buffer.getvalue()), allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    again = QuantileMLP.from_arrays(first.config(), arrays, device="cpu")
    np.testing.assert_array_equal(again.predict(x), first.predict(x))
    other = QuantileMLP(LEVELS, epochs=3, seed=1, device="cpu", num_threads=1).fit(x, y)
    assert not np.array_equal(other.predict(x), first.predict(x))


def test_the_process_thread_setting_is_restored_after_a_fit() -> None:
    before = torch.get_num_threads()
    x, y = _rows(500, 5)
    QuantileMLP((0.5,), epochs=1, device="cpu", num_threads=1).fit(x, y)
    assert torch.get_num_threads() == before


def test_device_names() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")


# -- the hybrid model -------------------------------------------------------------------
@pytest.fixture(scope="module")
def hybrid() -> HybridForecaster:
    return small_hybrid().fit(HISTORY, as_of=AS_OF)


def test_with_weight_zero_the_hybrid_forecasts_exactly_what_lightgbm_does() -> None:
    lightgbm = small_model().fit(HISTORY, as_of=AS_OF)
    trees_only = small_hybrid(mlp_weight=0.0).fit(HISTORY, as_of=AS_OF)
    pd.testing.assert_frame_equal(
        trees_only.predict(HISTORY, as_of=AS_OF, horizon=24),
        lightgbm.predict(HISTORY, as_of=AS_OF, horizon=24),
    )


def test_the_point_forecast_is_the_weighted_mean_of_the_two_learners(
    hybrid: HybridForecaster,
) -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(1.0, 0.3, size=(200, len(hybrid.feature_names)))
    x[:, -1] = rng.integers(0, 2, 200)  # the meter codes
    members = hybrid._members()
    trees = LightGBMForecaster._predict_levels(hybrid, members, x)
    network = hybrid.mlp_.predict(x[:, :-1], meter=x[:, -1].astype(np.int64))
    network += base_score(x, hybrid.base)[:, None]
    got = hybrid._predict_levels(members, x)
    assert not np.allclose(trees[:, 1], network[:, 1])  # the two learners do differ
    middle = 0.5 * trees[:, 1] + 0.5 * network[:, 1]
    inside = (trees[:, 0] <= middle) & (middle <= trees[:, 2])
    assert inside.mean() > 0.5
    np.testing.assert_allclose(got[inside, 1], middle[inside], rtol=1e-12)
    np.testing.assert_array_equal(got[inside][:, [0, 2]], trees[inside][:, [0, 2]])


def test_the_hybrid_ignores_data_at_and_after_as_of(hybrid: HybridForecaster) -> None:
    altered = HISTORY.copy()
    later = altered["ts"] >= AS_OF.tz_convert("UTC")
    altered.loc[later, "energy_kwh"] *= 40.0
    altered.loc[later, "temp_c"] = 45.0
    again = small_hybrid().fit(altered, as_of=AS_OF)
    pd.testing.assert_frame_equal(
        again.predict(altered, as_of=AS_OF, horizon=24),
        hybrid.predict(HISTORY, as_of=AS_OF, horizon=24),
    )


def test_the_hybrid_forecast_has_ordered_quantiles(hybrid: HybridForecaster) -> None:
    out = hybrid.predict(HISTORY, as_of=AS_OF, horizon=24)
    assert list(out.columns) == ["meter_id", "ts", "p10_kwh", "p50_kwh", "p90_kwh"]
    values = out[["p10_kwh", "p50_kwh", "p90_kwh"]].to_numpy()
    assert len(out) == 48 and np.isfinite(values).all() and (values >= 0).all()
    assert (np.diff(values, axis=1) >= 0).all()
    assert hybrid.name == "lightgbm+mlp"


def test_a_saved_hybrid_predicts_exactly_as_before(
    hybrid: HybridForecaster, tmp_path: Path
) -> None:
    path = save_model(hybrid, tmp_path / "hybrid.zip")
    with zipfile.ZipFile(path) as archive:
        assert "mlp.npz" in archive.namelist()
        versions = json.loads(archive.read("meta.json"))["versions"]
    assert versions["torch"].split("+")[0] == torch.__version__.split("+")[0]
    again = load_model(path)
    assert isinstance(again, HybridForecaster)
    assert again.get_params() == hybrid.get_params()
    later = AS_OF + pd.Timedelta("2D")
    for origin in (AS_OF, later):
        pd.testing.assert_frame_equal(
            again.predict(HISTORY, as_of=origin, horizon=24),
            hybrid.predict(HISTORY, as_of=origin, horizon=24),
        )


def test_a_hybrid_file_without_its_network_is_refused(
    hybrid: HybridForecaster, tmp_path: Path
) -> None:
    path = save_model(hybrid, tmp_path / "hybrid.zip")
    no_config = rewrite(path, tmp_path / "a.zip", meta=_set(["fitted", "mlp"], None))
    with pytest.raises(ModelFormatError, match="without its network"):
        load_model(no_config)

    def narrower(meta: dict[str, object]) -> None:
        _set(["fitted", "mlp", "quantiles"], [0.5])(meta)  # type: ignore[arg-type]

    with pytest.raises(ModelFormatError, match="network's levels"):
        load_model(rewrite(path, tmp_path / "b.zip", meta=narrower))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"mlp_weight": 1.5}, "mlp_weight"),
        ({"blend": "some"}, "blend"),
        ({"mlp_epochs": 0}, "mlp_epochs"),
        ({"mlp_dropout": 1.0}, "mlp_dropout"),
        ({"device": "tpu"}, "device must be"),
    ],
)
def test_the_hybrid_refuses_bad_options(options: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        small_hybrid(**options)


def test_without_pytorch_the_hybrid_is_refused_with_the_install_hint(
    hybrid: HybridForecaster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bitgoeul.services.forecast import make_model

    path = save_model(hybrid, tmp_path / "hybrid.zip")
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails, as without it
    with pytest.raises(ValueError, match=r"pip install 'bitgoeul\[neural\]'"):
        make_model("lightgbm+mlp", timezone=SEOUL)
    with pytest.raises(ModelFormatError, match="needs PyTorch"):
        load_model(path)
    assert make_model("lightgbm", timezone=SEOUL).name == "lightgbm"  # the default needs none
