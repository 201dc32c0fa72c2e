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
from bitgoeul.store import open_store

AS_OF = "2022-03-01T00:00"
OPTIONS = {"as_of": AS_OF, "horizon": "24h", "train_days": 60}


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
