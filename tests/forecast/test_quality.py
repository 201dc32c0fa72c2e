from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bitgoeul.forecast.quality import find_and_mask, mask_flagged
from bitgoeul.model import DataIssue


def varied(days: int = 30) -> pd.DataFrame:
    ts = pd.date_range("2025-03-01", periods=24 * days, freq="h", tz="UTC")
    hour = ts.hour.to_numpy()
    energy = 2.0 + np.sin(2 * np.pi * hour / 24) + 0.01 * (np.arange(ts.size) % 7)
    return pd.DataFrame({"meter_id": "m1", "ts": ts, "energy_kwh": energy})


def test_find_and_mask_masks_a_zero_run_and_a_spike_and_counts_them() -> None:
    history = varied()
    history.loc[200:209, "energy_kwh"] = 0.0  # a 10-hour outage
    history.loc[400, "energy_kwh"] = 40.0  # a spike, ~13x the usual peak
    masked, report = find_and_mask(history, interval_s=3600, timezone="Asia/Seoul")
    nan = masked["energy_kwh"].isna().to_numpy()
    assert nan[200:210].all() and nan[400]
    assert nan.sum() == 11
    assert report.counts == {"m1": {"zero_run": 10, "spike": 1}}
    assert report.total == 11
    assert report.to_frame()["intervals"].sum() == 11
    untouched = ~nan
    assert np.array_equal(masked["energy_kwh"][untouched], history["energy_kwh"][untouched])


def test_find_and_mask_reads_and_masks_only_before_as_of() -> None:
    history = varied()
    history.loc[400, "energy_kwh"] = 40.0
    history.loc[600:609, "energy_kwh"] = 0.0
    as_of = history["ts"].iloc[500]
    masked, report = find_and_mask(history, interval_s=3600, as_of=as_of)
    assert np.isnan(masked["energy_kwh"].iloc[400])
    assert (masked["energy_kwh"].iloc[600:610] == 0.0).all()  # after as_of: unchanged
    assert report.counts == {"m1": {"spike": 1}}


def test_mask_flagged_uses_only_the_chosen_codes_and_the_issue_meter() -> None:
    ts = pd.date_range("2025-01-01", periods=6, freq="h", tz="UTC")
    history = pd.DataFrame(
        {"meter_id": ["a"] * 3 + ["b"] * 3, "ts": ts[:3].append(ts[:3]), "energy_kwh": 1.0}
    )
    issues = [
        DataIssue("spike", "a", ts[1].to_pydatetime(), ts[2].to_pydatetime(), ""),
        DataIssue("gap", "b", ts[0].to_pydatetime(), ts[3].to_pydatetime(), ""),
    ]
    masked, report = mask_flagged(history, issues, codes=("spike",))
    assert masked["energy_kwh"].isna().tolist() == [False, True, False, False, False, False]
    assert report.counts == {"a": {"spike": 1}}
    assert [i.code for i in report.issues] == ["spike"]
    with pytest.raises(ValueError, match="unknown issue code"):
        mask_flagged(history, issues, codes=("spikes",))
