"""A cache of fitted forecasting models: one global fit serves every meter of an organisation."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from bitgoeul.forecast.baselines import SeasonalNaive
from bitgoeul.services import ingest_frame
from bitgoeul.services.forecast import ModelCache, forecast_meter
from bitgoeul.store import MeterStore, open_store

AS_OF = "2022-03-01T00:00"
OPTIONS = {"as_of": AS_OF, "horizon": "24h", "train_days": 60}
DAYS = ["2022-02-20T00:00", "2022-02-21T00:00", "2022-02-22T00:00"]  # three models, in order


@pytest.fixture
def store_path(buildings: str, tmp_path: Path) -> str:
    """A copy of the two-building store that each test may change."""
    return str(shutil.copy(buildings, tmp_path / "cnu.duckdb"))


def test_the_meters_of_one_organisation_share_one_fit(store_path: str) -> None:
    store = open_store(store_path)
    cache = ModelCache()
    a06 = forecast_meter(store, "A06", cache=cache, **OPTIONS)
    c14 = forecast_meter(store, "C14", cache=cache, **OPTIONS)
    assert (cache.misses, cache.hits, len(cache)) == (1, 1, 1)
    # the cached model forecasts exactly what a fit of one's own would have
    for result in (a06, c14):
        alone = forecast_meter(store, result.meter_id, **OPTIONS)
        pd.testing.assert_frame_equal(result.forecast, alone.forecast)
        assert set(result.train_meters) == {"A06", "C14"}
    store.close()


def test_a_reading_before_as_of_refits_and_one_after_does_not(store_path: str) -> None:
    store = open_store(store_path)
    cache = ModelCache()
    first = forecast_meter(store, "C14", cache=cache, **OPTIONS)

    def reading(ts: str, kwh: float) -> pd.DataFrame:
        when = pd.Timestamp(ts, tz="Asia/Seoul")
        return pd.DataFrame({"meter_id": ["A06"], "ts": [when], "energy_kwh": [kwh]})

    # data at or after as_of is never read by the fit: the model is reused
    ingest_frame(reading("2022-03-01T05:00", 999.0), store, on_conflict="correct")
    forecast_meter(store, "C14", cache=cache, **OPTIONS)
    assert (cache.misses, cache.hits) == (1, 1)
    # a corrected reading the fit reads makes another model
    ingest_frame(reading("2022-02-27T05:00", 999.0), store, on_conflict="correct")
    again = forecast_meter(store, "C14", cache=cache, **OPTIONS)
    assert (cache.misses, cache.hits) == (2, 1)
    assert not again.forecast["p50_kwh"].equals(first.forecast["p50_kwh"])
    store.close()


def test_the_least_recently_used_model_goes_first() -> None:
    cache = ModelCache(size=2)
    fits: list[str] = []

    def fit(name: str) -> SeasonalNaive:
        fits.append(name)
        return SeasonalNaive()

    for key in ("a", "b", "a", "c", "a", "b"):
        cache.get_or_fit((key,), lambda key=key: fit(key))
    # "b" was dropped for "c" (least recently used), then fitted again
    assert fits == ["a", "b", "c", "b"]
    assert (cache.hits, cache.misses, len(cache)) == (2, 4, 2)
    with pytest.raises(ValueError, match="size"):
        ModelCache(size=0)


def test_concurrent_requests_for_one_model_fit_it_once() -> None:
    cache = ModelCache()
    calls: list[int] = []

    def slow_fit() -> SeasonalNaive:
        calls.append(1)
        time.sleep(0.2)
        return SeasonalNaive()

    got: list[object] = []
    threads = [
        threading.Thread(target=lambda: got.append(cache.get_or_fit(("k",), slow_fit)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(got) == 4
    assert all(model is got[0] for model in got)


def test_a_model_folder_hands_the_fit_to_the_next_process(store_path: str, tmp_path: Path) -> None:
    folder = tmp_path / "models"
    store = open_store(store_path)
    first_cache = ModelCache(directory=folder)
    first = forecast_meter(store, "C14", cache=first_cache, **OPTIONS)
    assert (first_cache.misses, first_cache.loaded) == (1, 0)
    assert len(list(folder.glob("*.zip"))) == 1
    # a new cache (as in the next CLI call) loads the file instead of fitting
    second_cache = ModelCache(directory=folder)
    second = forecast_meter(store, "C14", cache=second_cache, **OPTIONS)
    assert (second_cache.misses, second_cache.loaded, second_cache.hits) == (0, 1, 0)
    pd.testing.assert_frame_equal(second.forecast, first.forecast)  # exactly the fitted model's
    # the loaded model also serves the organisation's other meter, as the fitted one does
    other = forecast_meter(store, "A06", cache=second_cache, **OPTIONS)
    assert (second_cache.hits, other.train_meters) == (1, ("A06", "C14"))
    store.close()


def test_a_damaged_model_file_is_fitted_again_and_replaced(store_path: str, tmp_path: Path) -> None:
    folder = tmp_path / "models"
    store = open_store(store_path)
    first = forecast_meter(store, "C14", cache=ModelCache(directory=folder), **OPTIONS)
    (path,) = folder.glob("*.zip")
    path.write_bytes(b"not a model")
    cache = ModelCache(directory=folder)
    again = forecast_meter(store, "C14", cache=cache, **OPTIONS)
    assert (cache.rejected, cache.misses, cache.loaded) == (1, 1, 0)
    pd.testing.assert_frame_equal(again.forecast, first.forecast)
    fresh = ModelCache(directory=folder)
    forecast_meter(store, "C14", cache=fresh, **OPTIONS)
    assert fresh.loaded == 1  # the file was rewritten
    store.close()


def save_day(store: MeterStore, folder: Path, day: str, **limits: int) -> Path:
    """Forecast C14 as of ``day`` through a new cache on ``folder``; return the file it wrote."""
    before = set(folder.glob("*.zip"))
    cache = ModelCache(directory=folder, **limits)
    forecast_meter(
        store, "C14", cache=cache, **{**OPTIONS, "model": "seasonal-naive-day", "as_of": day}
    )
    (written,) = set(folder.glob("*.zip")) - before
    time.sleep(0.05)  # distinct modification times
    return written


def test_the_model_folder_keeps_the_most_recently_used_files(
    store_path: str, tmp_path: Path
) -> None:
    folder = tmp_path / "models"
    store = open_store(store_path)
    paths = [save_day(store, folder, day, files=2) for day in DAYS]
    assert [p.exists() for p in paths] == [False, True, True]
    with pytest.raises(ValueError, match="files"):
        ModelCache(directory=folder, files=0)
    store.close()


def test_the_model_folder_keeps_to_its_size_but_always_keeps_the_new_model(
    store_path: str, tmp_path: Path
) -> None:
    folder = tmp_path / "models"
    store = open_store(store_path)
    paths = [save_day(store, folder, day, max_bytes=10**9) for day in DAYS]
    # room for the new file and the newest old one, not for two old ones
    cap = 2 * paths[-1].stat().st_size + paths[-2].stat().st_size // 2
    paths.append(save_day(store, folder, "2022-02-23T00:00", max_bytes=cap))
    assert [p.exists() for p in paths] == [False, False, True, True]
    save_day(store, folder, AS_OF, max_bytes=1)
    assert len(list(folder.glob("*.zip"))) == 1  # the one just written, though over the size
    with pytest.raises(ValueError, match="max_bytes"):
        ModelCache(directory=folder, max_bytes=0)
    store.close()


def test_a_folder_that_cannot_be_written_costs_only_the_saving(
    store_path: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    store = open_store(store_path)
    cache = ModelCache(directory=blocker / "models")  # its parent is a file: mkdir fails
    result = forecast_meter(store, "C14", cache=cache, **{**OPTIONS, "model": "persistence"})
    assert len(result.forecast) == 24 and cache.misses == 1
    store.close()


def test_a_model_whose_settings_changed_is_fitted_anew(
    store_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bitgoeul.forecast.baselines import PersistenceEnsemble
    from bitgoeul.services import forecast

    folder = tmp_path / "models"
    store = open_store(store_path)
    options = {**OPTIONS, "model": "persistence"}
    forecast_meter(store, "C14", cache=ModelCache(directory=folder), **options)
    # a later version whose "persistence" reads 14 days, not 7: the old file is not its model
    monkeypatch.setitem(
        forecast.MODELS, "persistence", lambda tz, h, d: PersistenceEnsemble(days=14)
    )
    later = ModelCache(directory=folder)
    result = forecast_meter(store, "C14", cache=later, **options)
    assert (later.loaded, later.misses) == (0, 1)
    alone = forecast_meter(store, "C14", **options)  # no cache: a fit of the 14-day model
    pd.testing.assert_frame_equal(result.forecast, alone.forecast)
    assert len(list(folder.glob("*.zip"))) == 2
    store.close()
