from __future__ import annotations

import json
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bitgoeul.errors import ModelFormatError, NotFittedError
from bitgoeul.forecast.baselines import PersistenceEnsemble, SeasonalNaive
from bitgoeul.forecast.gbm import LightGBMForecaster
from bitgoeul.forecast.persist import load_model, save_model
from bitgoeul.forecast.synthetic import generate_load_history

from .conftest import SEOUL, small_model

HISTORY = generate_load_history(2, days=50, seed=11)
AS_OF = pd.Timestamp("2024-02-12", tz=SEOUL)
LATER = AS_OF + pd.Timedelta("3D")


@pytest.fixture(scope="module")
def fitted() -> LightGBMForecaster:
    return small_model().fit(HISTORY, as_of=AS_OF)


@pytest.fixture(scope="module")
def saved(fitted: LightGBMForecaster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model(fitted, tmp_path_factory.mktemp("model") / "model.zip")


def test_a_saved_lightgbm_model_predicts_exactly_as_before(
    fitted: LightGBMForecaster, saved: Path
) -> None:
    again = load_model(saved)
    assert isinstance(again, LightGBMForecaster)
    for origin in (AS_OF, LATER):
        pd.testing.assert_frame_equal(
            again.predict(HISTORY, as_of=origin, horizon=24),
            fitted.predict(HISTORY, as_of=origin, horizon=24),
        )
    assert again.get_params() == fitted.get_params()
    assert again.as_of_ == fitted.as_of_
    assert again.meters_.keys() == fitted.meters_.keys()


def test_the_model_file_records_features_window_meters_and_versions(saved: Path) -> None:
    with zipfile.ZipFile(saved) as archive:
        meta = json.loads(archive.read("meta.json"))
        names = archive.namelist()
    assert meta["model_class"] == "LightGBMForecaster"
    assert meta["feature_names"][:3] == ["lead", "hour", "day_of_week"]
    assert set(meta["versions"]) == {"bitgoeul", "lightgbm", "numpy", "pandas", "python"}
    assert set(meta["fitted"]["meters"]) == {"m001", "m002"}
    assert meta["fitted"]["as_of"].startswith("2024-02-11T15:00:00")
    assert meta["fitted"]["train_start"] < meta["fitted"]["train_end"]
    assert {"booster_p10.txt", "booster_p50.txt", "booster_p90.txt"} <= set(names)
    assert not [n for n in names if n.endswith((".pkl", ".pickle"))]


@pytest.mark.parametrize(
    "make", [SeasonalNaive, lambda: SeasonalNaive(season="week"), PersistenceEnsemble]
)
def test_a_saved_baseline_predicts_exactly_as_before(
    make: Callable[[], Any], tmp_path: Path
) -> None:
    model = make().fit(HISTORY, as_of=AS_OF)
    again = load_model(save_model(model, tmp_path / "b.zip"))
    assert type(again) is type(model)
    assert again.get_params() == model.get_params()
    pd.testing.assert_frame_equal(
        again.predict(HISTORY, as_of=LATER, horizon=48),
        model.predict(HISTORY, as_of=LATER, horizon=48),
    )


def rewrite(
    source: Path,
    target: Path,
    *,
    meta: Callable[[dict[str, Any]], None] | None = None,
    member: tuple[str, bytes] | None = None,
) -> Path:
    with zipfile.ZipFile(source) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(contents["meta.json"])
    if meta is not None:
        meta(data)
    contents["meta.json"] = json.dumps(data).encode()
    if member is not None:
        contents[member[0]] = member[1]
    with zipfile.ZipFile(target, "w") as archive:
        for name, payload in contents.items():
            archive.writestr(name, payload)
    return target


def _set(path: list[str], value: object) -> Callable[[dict[str, Any]], None]:
    def apply(meta: dict[str, Any]) -> None:
        node = meta
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return apply


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (_set(["format_version"], 2), "format version 2"),
        (_set(["model_class"], "Prophet"), "unknown model class"),
        (_set(["versions", "lightgbm"], "3.3.5"), "LightGBM 3.3.5"),
        (_set(["feature_names"], ["lead", "hour"]), "feature set differs"),
        (_set(["format"], "something-else"), "format is"),
        (_set(["fitted", "base_offsets"], {"0.5": 0.0}), "base offsets for levels"),
    ],
)
def test_an_incompatible_model_file_is_refused_naming_what_differs(
    saved: Path, tmp_path: Path, change: Callable[[dict[str, Any]], None], match: str
) -> None:
    with pytest.raises(ModelFormatError, match=match):
        load_model(rewrite(saved, tmp_path / "bad.zip", meta=change))


def test_a_corrupted_model_file_is_refused(saved: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(saved) as archive:
        booster = archive.read("booster_p50.txt")
    tampered = rewrite(
        saved, tmp_path / "t.zip", member=("booster_p50.txt", booster.replace(b"1", b"2", 1))
    )
    with pytest.raises(ModelFormatError, match="checksum"):
        load_model(tampered)
    truncated = tmp_path / "cut.zip"
    truncated.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(ModelFormatError, match="not a readable model archive"):
        load_model(truncated)
    garbage = tmp_path / "g.zip"
    garbage.write_text("not a zip")
    with pytest.raises(ModelFormatError):
        load_model(garbage)


def test_an_unfitted_model_cannot_be_saved(tmp_path: Path) -> None:
    with pytest.raises(NotFittedError):
        save_model(small_model(), tmp_path / "m.zip")
    with pytest.raises(NotFittedError):
        save_model(SeasonalNaive(), tmp_path / "m.zip")
    assert not (tmp_path / "m.zip").exists()


def test_a_seed_ensemble_round_trips_every_member(tmp_path: Path) -> None:
    model = small_model(point_models=2).fit(HISTORY, as_of=AS_OF)
    path = save_model(model, tmp_path / "ensemble.zip")
    with zipfile.ZipFile(path) as archive:
        assert {"booster_p50.txt", "booster_p50_1.txt"} <= set(archive.namelist())
    again = load_model(path)
    assert isinstance(again, LightGBMForecaster)
    assert len(again.boosters_[0.5]) == 2
    pd.testing.assert_frame_equal(
        again.predict(HISTORY, as_of=AS_OF, horizon=24),
        model.predict(HISTORY, as_of=AS_OF, horizon=24),
    )


def test_the_meter_codes_round_trip(fitted: LightGBMForecaster, saved: Path) -> None:
    with zipfile.ZipFile(saved) as archive:
        meta = json.loads(archive.read("meta.json"))
    assert meta["feature_names"][-1] == "meter"
    assert meta["fitted"]["meter_codes"] == {"m001": 0, "m002": 1}
    again = load_model(saved)
    assert isinstance(again, LightGBMForecaster)
    assert again.meter_codes_ == fitted.meter_codes_


def test_a_file_from_before_the_meter_feature_still_loads(tmp_path: Path) -> None:
    model = small_model(meter_feature=False).fit(HISTORY, as_of=AS_OF)
    path = save_model(model, tmp_path / "old.zip")

    def as_written_before(meta: dict[str, Any]) -> None:
        del meta["params"]["meter_feature"]
        del meta["fitted"]["meter_codes"]

    old = load_model(rewrite(path, tmp_path / "older.zip", meta=as_written_before))
    assert isinstance(old, LightGBMForecaster)
    assert old.meter_feature is False
    pd.testing.assert_frame_equal(
        old.predict(HISTORY, as_of=AS_OF, horizon=24),
        model.predict(HISTORY, as_of=AS_OF, horizon=24),
    )


def test_a_file_from_before_the_base_loads_starting_from_a_constant(tmp_path: Path) -> None:
    model = small_model(base=None).fit(HISTORY, as_of=AS_OF)
    path = save_model(model, tmp_path / "old.zip")

    def as_written_before(meta: dict[str, Any]) -> None:
        assert meta["params"]["base"] == []
        del meta["params"]["base"]
        del meta["fitted"]["base_offsets"]

    old = load_model(rewrite(path, tmp_path / "older.zip", meta=as_written_before))
    assert isinstance(old, LightGBMForecaster)
    assert old.base == () and old.base_offsets_ == {0.1: 0.0, 0.5: 0.0, 0.9: 0.0}
    pd.testing.assert_frame_equal(
        old.predict(HISTORY, as_of=AS_OF, horizon=24),
        model.predict(HISTORY, as_of=AS_OF, horizon=24),
    )


def test_the_base_round_trips(fitted: LightGBMForecaster, saved: Path) -> None:
    again = load_model(saved)
    assert isinstance(again, LightGBMForecaster)
    assert again.base == fitted.base == ("same_hour_mean7",)
    assert again.base_offsets_ == fitted.base_offsets_
    # P10 and P90 start below and above the base: the offsets are not a placeholder
    assert fitted.base_offsets_[0.1] < 0 < fitted.base_offsets_[0.9]


def test_a_meter_model_without_codes_is_refused(saved: Path, tmp_path: Path) -> None:
    def drop_codes(meta: dict[str, Any]) -> None:
        meta["fitted"]["meter_codes"] = {}

    with pytest.raises(ModelFormatError, match="no codes"):
        load_model(rewrite(saved, tmp_path / "nocodes.zip", meta=drop_codes))


def test_savers_of_one_path_at_once_leave_one_whole_file(
    fitted: LightGBMForecaster, tmp_path: Path
) -> None:
    target = tmp_path / "shared.zip"
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def save() -> None:
        start.wait()
        try:
            for _ in range(3):
                save_model(fitted, target)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [p.name for p in tmp_path.iterdir()] == ["shared.zip"]  # no temporary file left
    pd.testing.assert_frame_equal(
        load_model(target).predict(HISTORY, as_of=LATER, horizon=24),
        fitted.predict(HISTORY, as_of=LATER, horizon=24),
    )
