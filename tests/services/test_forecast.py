"""Forecasts of stored meters: the CLI shape, the as-of rule, saved models, backtests, bills."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bitgoeul.cli import app
from bitgoeul.errors import NotFoundError
from bitgoeul.services import MeterDefaults, ingest_frame
from bitgoeul.services.forecast import ModelCache, backtest_meters, forecast_meter, make_model
from bitgoeul.store import DuckDBStore, open_store


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_forecast_cli_prints_the_documented_json(buildings: str) -> None:
    code, out, err = run(
        "forecast",
        "C14",
        "--as-of",
        "2022-03-01T00:00",
        "--horizon",
        "24h",
        "--model",
        "persistence",
        "--store",
        buildings,
        "--json",
    )
    assert code == 0, err
    body = json.loads(out)
    assert body["meter_id"] == "C14" and body["model"] == "persistence"
    assert body["as_of"] == "2022-03-01T00:00:00+09:00"
    rows = body["forecast"]
    assert len(rows) == 24
    assert rows[0]["ts"] == "2022-03-01T00:00:00+09:00"
    assert rows[-1]["ts"] == "2022-03-01T23:00:00+09:00"
    for row in rows:
        assert row["p10_kwh"] <= row["p50_kwh"] <= row["p90_kwh"]
        assert all(math.isfinite(row[k]) for k in ("p10_kwh", "p50_kwh", "p90_kwh"))


def test_lightgbm_forecast_ignores_data_at_and_after_as_of(buildings: str, tmp_path: Path) -> None:
    store = open_store(buildings, read_only=True)
    try:
        before = forecast_meter(
            store, "C14", as_of="2022-03-01T00:00", horizon="24h", train_days=60
        )
    finally:
        store.close()
    # a copy of the store whose readings from the origin on are wildly different
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(Path(buildings).read_bytes())
    altered = open_store(str(copy))
    try:
        ts = pd.date_range("2022-03-01", periods=24 * 20, freq="h", tz="Asia/Seoul")
        frame = pd.DataFrame({"meter_id": "C14", "ts": ts, "energy_kwh": 10_000.0})
        ingest_frame(frame, altered, on_conflict="correct")
        after = forecast_meter(
            altered, "C14", as_of="2022-03-01T00:00", horizon="24h", train_days=60
        )
    finally:
        altered.close()
    assert before.model == "lightgbm" and set(before.train_meters) == {"A06", "C14"}
    pd.testing.assert_frame_equal(before.forecast, after.forecast)


def test_saved_model_gives_the_same_forecast(buildings: str, tmp_path: Path) -> None:
    model = tmp_path / "c14.bgm"
    args = ["forecast", "C14", "--as-of", "2022-02-01T00:00", "--store", buildings, "--json"]
    code, out, err = run(*args, "--model", "seasonal-naive-week", "--save", str(model))
    assert code == 0, err
    assert model.is_file()
    code, again, err = run(*args, "--model-file", str(model))
    assert code == 0, err
    assert json.loads(again)["forecast"] == json.loads(out)["forecast"]
    broken = tmp_path / "broken.bgm"
    broken.write_bytes(b"not a model")
    code, _, err = run(*args, "--model-file", str(broken))
    assert code == 2 and "broken.bgm" in err


def test_the_cli_keeps_a_fitted_model_for_the_next_call(
    buildings: str, model_dir: Path, tmp_path: Path
) -> None:
    args = ["forecast", "C14", "--as-of", "2022-02-01T00:00", "--store", buildings, "--json"]
    code, out, err = run(*args, "--model", "persistence")
    assert code == 0, err
    (cached,) = model_dir.glob("*.zip")  # $BITGOEUL_MODEL_DIR, set for every test
    code, again, err = run(*args, "--model", "persistence")
    assert code == 0, err
    assert again == out
    assert list(model_dir.glob("*.zip")) == [cached]
    # the next call reads the file rather than fitting: put another model's fit there
    other = tmp_path / "week.bgm"
    code, week, err = run(*args, "--model", "seasonal-naive-week", "--save", str(other))
    assert code == 0, err
    assert json.loads(week)["forecast"] != json.loads(out)["forecast"]
    cached.write_bytes(other.read_bytes())
    code, swapped, err = run(*args, "--model", "persistence")
    assert code == 0, err
    assert json.loads(swapped)["forecast"] == json.loads(week)["forecast"]
    # --no-cache neither reads nor writes the folder
    code, fresh, err = run(*args, "--model", "persistence", "--no-cache")
    assert code == 0, err
    assert fresh == out
    code, _, err = run(
        *args[:3], "2022-02-02T00:00", *args[4:], "--model", "persistence", "--no-cache"
    )
    assert code == 0, err
    assert list(model_dir.glob("*.zip")) == [cached]


def test_backtest_scores_each_meter_and_the_pool(buildings: str) -> None:
    store = open_store(buildings, read_only=True)
    try:
        result = backtest_meters(store, ["A06", "C14"], model="persistence", origins=3)
    finally:
        store.close()
    assert len(result.origins) == 3
    assert all(o.hour == 0 and o.tz is not None for o in result.origins)
    scores = result.scores
    assert len(scores) == 3  # two meters and the pooled row
    assert scores.select_dtypes("number").notna().all().all()
    code, out, err = run(
        "forecast",
        "backtest",
        "A06",
        "C14",
        "--model",
        "seasonal-naive-day",
        "--origins",
        "2",
        "--store",
        buildings,
        "--json",
    )
    assert code == 0, err
    assert len(json.loads(out)["scores"]) == 3
    # the table: one row per meter and the pooled one, readable in 80 columns
    code, out, err = run(
        "forecast", "backtest", "A06", "C14", "--model", "persistence", "--origins", "2",
        "--store", buildings,
    )  # fmt: skip
    assert code == 0, err
    header = next(line for line in out.splitlines() if "NRMSE" in line)
    assert header.split() == [
        "meter", "hours", "NRMSE", "MASE", "SMAPE", "CV(RMSE)", "NMBE", "pinball", "P10-P90",
    ]  # fmt: skip
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[3:] if line.strip()}
    assert {"A06", "C14", "all"} <= set(rows)
    assert rows["all"][0] == "96"  # 2 origins x 24 h x 2 meters: a count, not 96.000
    assert max(len(line) for line in out.splitlines()) <= 80


def test_month_end_bill_forecast_can_use_a_model(tmp_path: Path) -> None:
    from bitgoeul.services.billing import bill_meter
    from bitgoeul.synthetic import generate_readings

    store: DuckDBStore = open_store(str(tmp_path / "h.duckdb"))
    start = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    ingest_frame(generate_readings(2, 96 * 100, start=start, seed=2), store)
    as_of = dt.date(2025, 9, 5)
    profile = bill_meter(store, "m0001", as_of=as_of)
    model = bill_meter(store, "m0001", as_of=as_of, model="persistence")
    assert profile.forecast is not None and model.forecast is not None
    assert profile.forecast.energy.so_far_kwh == model.forecast.energy.so_far_kwh
    assert "persistence" in model.forecast.energy.method.lower()
    band = model.forecast.energy
    assert band.so_far_kwh <= band.p10_kwh <= band.p50_kwh <= band.p90_kwh
    # with a cache the model is fitted once for the day, and the bill is the same
    cache = ModelCache(directory=tmp_path / "models")
    first = bill_meter(store, "m0001", as_of=as_of, model="persistence", cache=cache)
    second = bill_meter(store, "m0001", as_of=as_of, model="persistence", cache=cache)
    assert (cache.misses, cache.hits) == (1, 1)
    assert first.to_dict() == second.to_dict() == model.to_dict()
    loaded = ModelCache(directory=tmp_path / "models")
    assert bill_meter(store, "m0001", as_of=as_of, model="persistence", cache=loaded).to_dict() == (
        model.to_dict()
    )
    assert loaded.loaded == 1


def test_the_global_model_learns_only_from_the_meters_own_organisation() -> None:
    from bitgoeul.services.forecast import _train_meters

    store = open_store(":memory:")
    ts = pd.date_range("2026-10-01", periods=48, freq="h", tz="Asia/Seoul")
    for org, meters in (("a", ("a1", "a2")), ("b", ("b1",))):
        for meter_id in meters:
            frame = pd.DataFrame({"meter_id": meter_id, "ts": ts, "energy_kwh": 1.0})
            ingest_frame(frame, store, defaults=MeterDefaults(org_id=org, site_id=f"{org}-site"))
    assert _train_meters(store, store.get_meter("a1")) == ["a1", "a2"]
    assert _train_meters(store, store.get_meter("b1")) == ["b1"]


def test_a_forecast_from_less_than_a_day_of_history_says_so() -> None:
    from bitgoeul.errors import ForecastError

    store = open_store(":memory:")
    ts = pd.date_range("2026-11-22T09:00", periods=3, freq="15min", tz="Asia/Seoul")
    frame = pd.DataFrame({"meter_id": "new", "ts": ts, "energy_kwh": 0.4})
    ingest_frame(frame, store, defaults=MeterDefaults())
    with pytest.raises(ForecastError, match=r"3 reading.*at least one day of history \(96"):
        forecast_meter(store, "new", as_of="2026-11-23T00:00", model="persistence")


@pytest.mark.parametrize(
    ("as_of", "error", "message"),
    [
        # before the first reading: nothing to learn from
        ("2026-08-01T00:00", "NotFoundError", r"readings start at 2026-09-01T00:00:00\+09:00"),
        # long after the last one, beyond the days read for fitting
        ("2028-01-01T00:00", "NotFoundError", r"in the 365 days before .*to 2026-10-30T23:00"),
        # within them, but too long after for the model's recent features: no empty answer
        ("2027-03-01T00:00", "ForecastError", r"readings end at 2026-10-30T23:00:00\+09:00"),
    ],
)
def test_a_forecast_far_from_the_readings_says_where_they_are(
    as_of: str, error: str, message: str
) -> None:
    from bitgoeul import errors

    store = open_store(":memory:")
    ts = pd.date_range("2026-09-01", "2026-10-31", freq="h", tz="Asia/Seoul", inclusive="left")
    frame = pd.DataFrame({"meter_id": "m1", "ts": ts, "energy_kwh": 0.5 + 0.1 * (ts.hour > 8)})
    ingest_frame(frame, store, defaults=MeterDefaults())
    for model in ("lightgbm", "persistence"):
        with pytest.raises(getattr(errors, error), match=message):
            forecast_meter(store, "m1", as_of=as_of, model=model)
    assert (
        len(forecast_meter(store, "m1", as_of="2026-11-02T00:00", model="lightgbm").forecast) == 24
    )


def test_a_forecast_inside_a_long_gap_says_it_is_a_gap() -> None:
    store = open_store(":memory:")
    for start in ("2025-01-01", "2026-09-01"):  # two stretches of readings, 20 months apart
        ts = pd.date_range(start, periods=24 * 30, freq="h", tz="Asia/Seoul")
        frame = pd.DataFrame({"meter_id": "m1", "ts": ts, "energy_kwh": 0.5})
        ingest_frame(frame, store, defaults=MeterDefaults())
    with pytest.raises(NotFoundError, match=r"365 days before 2026-08-01T00:00:00\+09:00, a gap"):
        forecast_meter(store, "m1", as_of="2026-08-01T00:00", model="persistence")


def test_the_hybrid_model_forecasts_a_stored_meter_from_the_cli(buildings: str) -> None:
    code, out, err = run(
        "forecast",
        "C14",
        "--as-of",
        "2022-03-01T00:00",
        "--model",
        "lightgbm+mlp",
        "--store",
        buildings,
        "--json",
    )
    assert code == 0, err
    body = json.loads(out)
    assert body["model"] == "lightgbm+mlp" and len(body["forecast"]) == 24
    for row in body["forecast"]:
        assert 0 <= row["p10_kwh"] <= row["p50_kwh"] <= row["p90_kwh"]
    # the same fleet as the lightgbm model: a global model over the site's meters
    store = open_store(buildings, read_only=True)
    try:
        again = forecast_meter(
            store, "C14", as_of="2022-03-01T00:00", horizon="24h", model="lightgbm+mlp"
        )
    finally:
        store.close()
    assert set(again.train_meters) == {"A06", "C14"}
    # the same fit again (seeded): the JSON's values, which are rounded to 6 decimals
    assert [round(v, 6) for v in again.forecast["p50_kwh"]] == [
        row["p50_kwh"] for row in body["forecast"]
    ]


def test_a_model_keeps_the_public_holidays_of_its_meters_zone() -> None:
    for zone, country in [
        ("Asia/Seoul", "KR"),
        ("Australia/Sydney", "AU"),
        ("Europe/London", "GB"),
        ("America/New_York", "US"),
        ("UTC", None),  # no one country's
    ]:
        for name in ("lightgbm", "lightgbm+mlp"):
            assert make_model(name, timezone=zone).get_params()["holidays_country"] == country


def test_a_horizon_reaches_at_most_one_billing_cycle(buildings: str) -> None:
    from bitgoeul.services.forecast import MAX_HORIZON_DAYS, parse_horizon

    assert parse_horizon(f"{MAX_HORIZON_DAYS}d", interval_s=900) == MAX_HORIZON_DAYS * 96
    assert parse_horizon(MAX_HORIZON_DAYS * 24, interval_s=3600) == MAX_HORIZON_DAYS * 24
    for longer in (f"{MAX_HORIZON_DAYS + 1}d", "999d", MAX_HORIZON_DAYS * 24 + 1):
        with pytest.raises(ValueError, match=r"longer than 31d"):
            parse_horizon(longer, interval_s=3600)
    # the CLI refuses it by name before fitting anything
    code, _, err = run(
        "forecast", "C14", "--as-of", "2022-03-01T00:00", "--horizon", "999d", "--store", buildings
    )
    assert code == 2 and "horizon '999d' is longer than 31d" in " ".join(err.split())
