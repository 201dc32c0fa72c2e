from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bitgoeul.forecast.gbm import LightGBMForecaster
from bitgoeul.forecast.synthetic import generate_load_history

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CNU = DATA / "kr_cnu_campus_buildings_hourly"
SEOUL = "Asia/Seoul"


def small_model(**options: object) -> LightGBMForecaster:
    """A LightGBM forecaster small enough for a test (a fraction of a second to fit)."""
    settings: dict[str, object] = {
        "max_horizon": 24,
        "train_days": 28,
        "n_estimators": 25,
        "num_leaves": 15,
        "min_child_samples": 20,
        "calibration_days": 7,
        "min_calibration": 20,
        "num_threads": 1,
    }
    settings.update(options)
    return LightGBMForecaster(**settings)  # type: ignore[arg-type]


def read_cnu(code: str) -> pd.DataFrame:
    """One CNU building as a long-format history (hourly, KST -> UTC); fails if absent."""
    files = sorted(CNU.glob(f"{code}_*.csv")) if CNU.is_dir() else []
    if not files:  # like the shared_data fixture: missing real data is a failure, not a skip
        pytest.fail(f"real test data missing: {CNU}/{code}_*.csv (../shared/data beside the repo)")
    raw = pd.read_csv(files[0])
    ts = pd.to_datetime(raw["date"], format="%Y-%m-%d %H:%M").dt.tz_localize(SEOUL)
    return pd.DataFrame(
        {
            "meter_id": code,
            "ts": ts.dt.tz_convert("UTC"),
            "energy_kwh": raw["energy"].astype(float),
            "temp_c": raw["temperatures(C)"].astype(float),
        }
    )


@pytest.fixture(scope="session")
def office() -> pd.DataFrame:
    """Two synthetic building meters, 80 days of hours from 2022-01-01 (Seollal inside)."""
    return generate_load_history(2, days=80, seed=3, start="2022-01-01")
