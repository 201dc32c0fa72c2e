"""Day-ahead hourly forecasts on real series: Bitgoeul's models beside statsforecast and mlforecast.

Every series is forecast 24 hours ahead from local midnights (the origins), at
least 30 per series spread over the last year of the series that has data
after the origin. At each origin every model is fitted on data strictly before
it and forecasts the next 24 hours; all forecasts are scored by
:mod:`bitgoeul.forecast.metrics` against the raw readings, so every model is
scored the same way.

Models
------
ours (:mod:`bitgoeul.forecast`), on history masked by the core's data-quality
scan (:func:`bitgoeul.forecast.quality.find_and_mask`):

* ``seasonal_naive_day``, ``seasonal_naive_week``, ``persistence_ensemble``
  (``SeasonalNaive(season="day")``, ``SeasonalNaive(season="week")``,
  ``PersistenceEnsemble()``): the simple baselines, masked by a wrapper at each
  fit and prediction, reading the last ``BASELINE_READ_D`` days;
* ``lightgbm``: ``LightGBMForecaster(timezone=..., holidays_country=...,
  **GBM_KWARGS)``, the global model, one per dataset (fitted on all of its
  meters at once) on the last ``OUR_TRAIN_DAYS`` days; it masks the same
  findings itself.
* ``lightgbm+mlp``: ``HybridForecaster(..., **GBM_KWARGS, **HYBRID_KWARGS)``,
  the same model with a quantile MLP fitted beside the boosters and averaged
  into the point forecast (:mod:`bitgoeul.forecast.hybrid`); run when PyTorch
  is installed (the ``neural`` extra) unless ``--no-hybrid``. The goals are
  checked for each of the two.

peers, "with default settings" on the raw readings (gaps linearly
interpolated, since statsforecast cannot take NaN), each fitted on the last
``PEER_WINDOW_H`` hours before the origin, forecasting 24 h with
``level=[80]`` so that the 80 % interval gives P10 and P90:

* ``sf_autoets``: ``statsforecast.models.AutoETS(season_length=24)``;
* ``sf_mstl``: ``statsforecast.models.MSTL(season_length=[24, 168])`` (its
  default trend forecaster, ``AutoETS(model="ZZN")``);
  both local models, fitted at every origin, ``StatsForecast(freq="h",
  n_jobs=SF_JOBS).forecast(df, h=24, level=[80])`` over all (meter, origin)
  windows at once;
* ``mlf_lightgbm``: ``MLForecast(models=[LGBMRegressor(verbosity=-1,
  n_jobs=1)], freq="h", lags=[24, 168], date_features=["hour",
  "dayofweek"])``, fitted on all meters of the dataset at once with
  ``prediction_intervals=PredictionIntervals(n_windows=2, h=24)``, then
  ``predict(24, level=[80])`` (``new_df=`` the window before a later origin).

Both LightGBM models (ours and mlforecast's) are refitted every
``--refit-every`` origins (default 1: at every origin) and single-threaded.

With masked peers (default; ``--no-masked-peers`` to skip) the peers are also
run on the masked history (masked hours interpolated), as ``<peer>+mask``:
the data cleaning ours get, to be fair to them. Only the peer series whose
window masking changed are rerun; the others are the raw forecasts.

The peers see naive local standard time (UTC + the zone's standard offset:
KST for the Korean series, AEST all year for SGSC), so their series are a
regular hourly grid without DST gaps or repeats; the forecasts are mapped
back to UTC before scoring.

Usage::

    .venv/bin/python benchmarks/bench_forecast.py                # full run
    .venv/bin/python benchmarks/bench_forecast.py --quick        # 2 series, 4 origins
    .venv/bin/python benchmarks/bench_forecast.py --origins 40
    .venv/bin/python benchmarks/bench_forecast.py --horizon 168 --origins 10   # week-ahead
    .venv/bin/python benchmarks/bench_forecast.py --held-out     # LCL and AMPds instead

Results: a Markdown table on stdout, ``benchmarks/_data/forecast_results.json``
and the Markdown fragment ``benchmarks/_data/benchmarks-forecast.md`` (``_h168``,
``-h168``, ``_heldout``, ``-heldout`` in the names for those runs; pasted into
``docs/benchmarks.md`` by hand, with the analysis).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "_data"
DOC = OUT / "benchmarks-forecast.md"

HORIZON_H = 24
QUANTILES = (0.1, 0.5, 0.9)
OUR_TRAIN_DAYS = 365  # history handed to our models before each origin [d] (the service's default)
PEER_WINDOW_H = 8 * 168  # statsforecast / mlforecast training window [h]: 8 weeks
WARMUP_H = PEER_WINDOW_H  # the first origin needs this much history before it [h]
BASELINE_READ_D = 120  # history a baseline reads: 90 days of band calibration + a week [d]
READ_MARGIN_D = 14  # history read before the training window (features reach back) [d]
REFIT_EVERY = 1  # LightGBM (ours and mlforecast's) refitted every this many origins
# Our global model, configured for day-ahead forecasts: it learns leads 1..24 only (the default
# 168 costs 7x the rows), one LightGBM thread (two threads on a shared 2-core machine make
# OpenMP spin: 20-50x slower), otherwise its defaults.
GBM_KWARGS: dict[str, Any] = {"max_horizon": HORIZON_H, "num_threads": 1}
DEAD_WINDOW_H = 168  # a series ends where the trailing 7 days are over half zero or missing
BASELINES = ("seasonal_naive_day", "seasonal_naive_week", "persistence_ensemble")
OURS = "lightgbm"
HYBRID = "lightgbm+mlp"
# the network on the CPU with one thread, like the boosters (a GPU would change speed only)
HYBRID_KWARGS: dict[str, Any] = {"device": "cpu"}
LEARNED = (OURS, HYBRID)  # our models that learn from a year of data (the others: baselines)
PEERS = ("sf_autoets", "sf_mstl", "mlf_lightgbm")
SF_JOBS = os.cpu_count() or 1  # statsforecast n_jobs: every core
METRICS = ("nrmse", "mase", "smape", "cvrmse", "nmbe", "pinball", "coverage")


# -- data ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dataset:
    """Series that share a time zone and a span: one global model is fitted per dataset."""

    name: str
    kind: str  # "building", "national", "regional", "aggregate" or "household"
    timezone: str
    holidays: str  # the meters' calendar: ISO 3166-1 country or ISO 3166-2 region code
    history: pd.DataFrame  # meter_id, ts (UTC, interval start), energy_kwh, temp_c (optional)
    notes: tuple[str, ...] = field(default=())


def _long(
    meter_id: str,
    local: pd.Series,
    tz: str,
    energy_kwh: pd.Series,
    temp_c: pd.Series | None = None,
) -> pd.DataFrame:
    ts = pd.DatetimeIndex(local).tz_localize(tz).tz_convert("UTC")
    frame = pd.DataFrame(
        {
            "meter_id": meter_id,
            "ts": ts,
            "energy_kwh": pd.to_numeric(energy_kwh, errors="coerce").astype("float64").to_numpy(),
        }
    )
    if temp_c is not None:
        frame["temp_c"] = pd.to_numeric(temp_c, errors="coerce").astype("float64").to_numpy()
    return frame


def load_cnu(buildings: Sequence[str] = ("A06", "C14", "D18")) -> Dataset:
    """CNU campus buildings: hourly kWh and outdoor temperature, KST naive, interval start."""
    frames = []
    for code in buildings:
        (path,) = sorted((DATA / "kr_cnu_campus_buildings_hourly").glob(f"{code}_*.csv"))
        raw = pd.read_csv(path, usecols=["date", "temperatures(C)", "energy"])
        local = pd.to_datetime(raw["date"], format="%Y-%m-%d %H:%M")
        frames.append(
            _long(f"cnu-{code}", local, "Asia/Seoul", raw["energy"], raw["temperatures(C)"])
        )
    return Dataset(
        "cnu",
        "building",
        "Asia/Seoul",
        "KR",
        pd.concat(frames, ignore_index=True),
        ("energy [kWh per hour], KST naive interval start; temp_c = temperatures(C)",),
    )


def load_national() -> Dataset:
    """Korean national hourly load [MW, hourly mean] -> kWh per hour (x 1000), with TA_C."""
    raw = pd.read_parquet(
        DATA
        / "kr_national_hourly_demand_weather"
        / "kr_national_hourly_load_weather_2013_2021.parquet",
        columns=["datetime", "TA_C", "load"],
    )
    frame = _long("kr-national", raw["datetime"], "Asia/Seoul", raw["load"] * 1000.0, raw["TA_C"])
    return Dataset(
        "national",
        "national",
        "Asia/Seoul",
        "KR",
        frame,
        ("load [MW] x 1 h x 1000 -> kWh per hour; temp_c = TA_C (KMA, mean of major stations)",),
    )


def load_jeju() -> Dataset:
    """KPX Jeju hourly transaction volume, the float years 2013-2016.

    ``raw_yearly/jeju_DMND_time_YYYY.csv``: 거래일자 (date), 시간 (hour ending
    1..24), 전력거래량(MWh). 2013-2016 are floats with a plausible system-load
    shape; from 2017 the files switch to integers with flat runs and days near
    0 MWh, so the benchmark keeps 2013-2016. Hour ending h of day D is the
    interval starting at D + (h - 1) h KST. temp_c is the KMA daily mean
    temperature of Jeju (``jeju_Dtemp_2013_2025.csv``) on every hour of its day.
    """
    folder = DATA / "kr_kpx_jeju_hourly_demand"
    parts = []
    for year in range(2013, 2017):
        path = folder / "raw_yearly" / f"jeju_DMND_time_{year}.csv"
        raw = pd.read_csv(path, encoding="utf-8-sig")
        date_col, hour_col, _, mwh_col = raw.columns
        start = pd.to_datetime(raw[date_col], format="%Y-%m-%d") + pd.to_timedelta(
            raw[hour_col].astype(int) - 1, unit="h"
        )
        parts.append(pd.DataFrame({"local": start, "mwh": raw[mwh_col].astype("float64")}))
    load = pd.concat(parts, ignore_index=True)
    temp = pd.read_csv(folder / "jeju_Dtemp_2013_2025.csv", encoding="cp949", skiprows=7)
    temp = temp.iloc[:, :3]
    temp.columns = ["date", "station", "mean_c"]
    temp["date"] = pd.to_datetime(temp["date"].astype(str).str.strip(), format="%Y-%m-%d")
    daily_c = temp.set_index("date")["mean_c"].astype("float64")
    temp_c = load["local"].dt.normalize().map(daily_c)
    frame = _long("kpx-jeju", load["local"], "Asia/Seoul", load["mwh"] * 1000.0, temp_c)
    return Dataset(
        "jeju",
        "regional",
        "Asia/Seoul",
        "KR",
        frame,
        (
            "raw_yearly 2013-2016 (float MWh; hour ending 1..24 -> interval start h-1 KST); "
            "the 2017-2022 integer files are left out (flat runs, days near 0 MWh)",
            "temp_c = KMA daily mean temperature of Jeju on each hour of the day",
        ),
    )


def _hours_from_halves(
    meter_ids: np.ndarray, local: pd.Series, kwh: np.ndarray, tz: str
) -> tuple[pd.DataFrame, int, int]:
    """Sum naive-local half-hour kWh to UTC hours on a complete hourly grid per meter.

    Readings at local times that do not exist (spring forward) or occur twice
    (autumn) cannot be placed and are dropped; an hour with fewer than two
    half-hour readings is missing (NaN). Returns the frame, the number of
    readings dropped and the number of hours left with one half-hour missing.
    """
    ts = pd.DatetimeIndex(local).tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    placed = ~ts.isna()
    half = pd.DataFrame(
        {
            "meter_id": np.asarray(meter_ids)[placed],
            "hour": ts[placed].tz_convert("UTC").floor("h"),
            "kwh": np.asarray(kwh, dtype="float64")[placed],
        }
    )
    grouped = half.groupby(["meter_id", "hour"])["kwh"]
    count = grouped.count()
    hourly = grouped.sum().where(count == 2).rename("energy_kwh").reset_index()
    frames = []
    for meter, part in hourly.groupby("meter_id", sort=True):
        grid = pd.date_range(part["hour"].min(), part["hour"].max(), freq="h", tz="UTC")
        values = part.set_index("hour")["energy_kwh"].reindex(grid)
        frames.append(
            pd.DataFrame(
                {"meter_id": meter, "ts": grid, "energy_kwh": values.to_numpy(dtype="float64")}
            )
        )
    return pd.concat(frames, ignore_index=True), int((~placed).sum()), int((count == 1).sum())


def load_sgsc() -> Dataset:
    """SGSC households: 30-min kWh summed to hours; naive Australia/Sydney -> UTC.

    ``reading_datetime`` is taken as the interval start (see
    :func:`_hours_from_halves` for the DST rule).
    """
    raw = pd.read_parquet(DATA / "au_sgsc_smart_meter10" / "sgsc_households7_halfhourly.parquet")
    frame, dropped, short = _hours_from_halves(
        ("sgsc-" + raw["customer_id"].astype(str)).to_numpy(),
        raw["reading_datetime"],
        raw["general_supply_kwh"].to_numpy(),
        "Australia/Sydney",
    )
    note = (
        f"reading_datetime taken as interval start; {dropped} of {len(raw)} "
        "half-hour readings at ambiguous or nonexistent Sydney times (DST changes) dropped; "
        f"{short} hours left with one half-hour set missing; "
        "30-min kWh summed to UTC hours"
    )
    # Ausgrid's trial homes are in New South Wales (PROVENANCE.md): NSW's days too
    return Dataset("sgsc", "household", "Australia/Sydney", "AU-NSW", frame, (note,))


def load_lcl_household() -> Dataset:
    """Low Carbon London household MAC000060: 30-min kWh summed to hours, Europe/London.

    The file has 48 half-hours on every day, DST days included, and the
    demand of ~420 London homes (``load_lcl_aggregate``) does not shift at
    the clock changes, so the stamps are read as local wall-clock interval
    starts; the half-hours the clock skips or repeats are dropped.
    """
    raw = pd.read_csv(DATA / "uk_lcl_london_smartmeter" / "MAC000060_halfhourly.csv.gz")
    stamp, kwh = raw.columns
    frame, dropped, short = _hours_from_halves(
        np.full(len(raw), "lcl-MAC000060"),
        pd.to_datetime(raw[stamp], format="%Y-%m-%d %H:%M:%S"),
        raw[kwh].to_numpy(),
        "Europe/London",
    )
    note = (
        f"naive Europe/London interval starts; {dropped} of {len(raw)} half-hour readings at "
        f"ambiguous or nonexistent times (DST changes) dropped; {short} hours left with one "
        "half-hour missing; 30-min kWh summed to UTC hours"
    )
    return Dataset("lcl", "household", "Europe/London", "GB-ENG", frame, (note,))


def load_ampds() -> Dataset:
    """AMPds R1: the house's main meter ``M_E`` [Wh per hour] -> kWh; epoch hour starts."""
    raw = pd.read_csv(
        DATA / "nilm_ampds_r1_hourly" / "AMPdsR1_1hr_Wh.csv", usecols=["TimeStamp", "M_E"]
    )
    ts = pd.to_datetime(raw["TimeStamp"], unit="s", utc=True)
    grid = pd.date_range(ts.min(), ts.max(), freq="h", tz="UTC")
    kwh = pd.Series(raw["M_E"].to_numpy(dtype="float64") / 1000.0, index=ts).reindex(grid)
    frame = pd.DataFrame({"meter_id": "ampds-M_E", "ts": grid, "energy_kwh": kwh.to_numpy()})
    note = (
        "main meter M_E (house and rental suite) Wh / 1000 -> kWh per hour, TimeStamp = UTC "
        f"interval start; {int(kwh.isna().sum())} hours missing (the repeated hours of the "
        f"autumn clock changes, one of each repeated local hour), {int((raw['M_E'] < 0).sum())} negative readings kept as read"
    )
    # the house is in Burnaby, British Columbia (PROVENANCE.md): BC's days too
    return Dataset("ampds", "household", "America/Vancouver", "CA-BC", frame, (note,))


def load_lcl_aggregate() -> Dataset:
    """Mean demand of the LCL dynamic-ToU trial's homes in 2013, with temperature.

    ``mean_all`` [kWh per home per half hour], the mean over ~350-860 homes
    (``sum_all / mean_all``), summed to hours; ``Temperature`` (London City
    Airport, whole degrees) is averaged to hours. The trial's price events
    move this demand; no model here is told the prices.
    """
    raw = pd.read_csv(
        DATA / "uk_lcl_london_smartmeter" / "lcl_dtou_2013_price_temp_aggdemand.csv.gz",
        usecols=["DateTime", "Temperature", "mean_all"],
    )
    local = pd.to_datetime(raw["DateTime"], format="%Y-%m-%d %H:%M:%S")
    ids = np.full(len(raw), "lcl-dtou-mean")
    frame, dropped, _ = _hours_from_halves(ids, local, raw["mean_all"].to_numpy(), "Europe/London")
    temp, _, _ = _hours_from_halves(ids, local, raw["Temperature"].to_numpy(), "Europe/London")
    frame["temp_c"] = temp["energy_kwh"].to_numpy() / 2.0  # mean of the hour's two readings
    note = (
        "mean_all [kWh per home per half hour] summed to UTC hours (the homes counted vary "
        f"from about 350 to 860); {dropped} half-hours at DST changes dropped; temp_c = "
        "Temperature (London City Airport) averaged to hours; the trial's price events are "
        "not given to any model"
    )
    return Dataset("lcl-dtou", "aggregate", "Europe/London", "GB-ENG", frame, (note,))


def load_held_out() -> list[Dataset]:
    """Series no load-forecasting setting was chosen on (``--held-out``).

    Issue 3's bill-forecast backtest (``bench_bill_forecast.py``) reads the
    two households, to set the daily profile forecaster; none of this
    benchmark's models was tuned on them.
    """
    return [prepare(d) for d in (load_lcl_household(), load_ampds(), load_lcl_aggregate())]


def valid_end(history: pd.DataFrame) -> tuple[pd.Timestamp, str]:
    """Return where the usable data end, and the meter that ends first.

    A meter ends at the last data, or, if its trailing week later turns more
    than half zero or missing for good, at the start of the run of zero or
    missing readings in which that happens. A dead meter that keeps reporting
    0 kWh (CNU D18: zeros from 2022-01-01 04:00 KST to the end but for one
    hour) would make every error ratio meaningless. The dataset is cut at its
    earliest meter end so that all of its meters share the origins.
    """
    ends = []
    for meter, part in history.groupby("meter_id", sort=True):
        series = part.set_index("ts")["energy_kwh"].sort_index()
        bad = (series.isna() | (series <= 0)).to_numpy()
        share = pd.Series(bad.astype(float)).rolling(DEAD_WINDOW_H).mean().to_numpy()
        ok = np.flatnonzero(share < 0.5)
        if ok.size == 0 or ok[-1] == bad.size - 1:
            ends.append((series.index[-1] + pd.Timedelta(hours=1), str(meter)))
            continue
        stop = ok[-1] + 1  # the first position whose trailing week stays mostly bad
        while stop > 0 and bad[stop - 1]:
            stop -= 1
        ends.append((series.index[stop], str(meter)))
    return min(ends)


def prepare(dataset: Dataset) -> Dataset:
    """Cut the dataset where its first meter's data end; say so in the notes."""
    end, meter = valid_end(dataset.history)
    last = dataset.history["ts"].max() + pd.Timedelta(hours=1)
    if end >= last:
        return dataset
    kept = dataset.history[dataset.history["ts"] < end].reset_index(drop=True)
    note = (
        f"all series cut at {end.tz_convert(dataset.timezone):%Y-%m-%d %H:%M} local, where "
        f"{meter}'s data end (last reading, or the start of the zero/missing run in which its "
        "trailing 7 days turn over half zero or missing for good)"
    )
    return replace(dataset, history=kept, notes=(*dataset.notes, note))


def load_datasets(*, quick: bool = False) -> list[Dataset]:
    """Every dataset of the benchmark (``quick``: two CNU buildings only)."""
    if quick:
        return [prepare(load_cnu(("A06", "C14")))]
    return [prepare(d) for d in (load_cnu(), load_national(), load_jeju(), load_sgsc())]


# -- origins ---------------------------------------------------------------------------
def choose_origins(dataset: Dataset, n: int, *, horizon: int = HORIZON_H) -> list[pd.Timestamp]:
    """``n`` local midnights spread over the last year with data after them.

    Uses :func:`bitgoeul.forecast.backtest.rolling_origins`; the spacing is
    chosen so that the first origin has ``WARMUP_H`` hours of history before it
    (the CNU series are 15 months long, so their origins cover about 10 months).
    """
    from bitgoeul.forecast.backtest import rolling_origins

    history = dataset.history
    start, end = history["ts"].min(), history["ts"].max() + pd.Timedelta(hours=1)
    span_days = (end - start - pd.Timedelta(hours=WARMUP_H + horizon)).total_seconds() / 86400
    usable = min(365.0, span_days)
    spacing = max(1, int(usable // max(n - 1, 1))) if n > 1 else None
    origins = rolling_origins(
        history, n=n, horizon=horizon, timezone=dataset.timezone, spacing_days=spacing
    )
    return [pd.Timestamp(o) for o in origins]


# -- ours ------------------------------------------------------------------------------
class Masked:
    """Wrap a forecaster so it sees the history masked by the core's quality scan."""

    def __init__(self, inner: Any, *, timezone: str) -> None:
        self.inner = inner
        self.name = inner.name
        self.timezone = timezone

    def _mask(self, history: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
        from bitgoeul.forecast.quality import find_and_mask

        masked, _ = find_and_mask(history, interval_s=3600, timezone=self.timezone, as_of=as_of)
        return masked

    def fit(self, history: pd.DataFrame, *, as_of: pd.Timestamp) -> Masked:
        self.inner.fit(self._mask(history, as_of), as_of=as_of)
        return self

    def predict(
        self,
        history: pd.DataFrame,
        *,
        as_of: pd.Timestamp,
        horizon: int,
        quantiles: Sequence[float] = QUANTILES,
    ) -> pd.DataFrame:
        masked = self._mask(history, as_of)
        return self.inner.predict(masked, as_of=as_of, horizon=horizon, quantiles=quantiles)


def our_models(
    timezone: str,
    holidays: str | None,
    *,
    only: Sequence[str] | None = None,
    horizon: int = HORIZON_H,
) -> dict[str, Callable[[], Any]]:
    """Factories of our models; the baselines wrapped in :class:`Masked`.

    ``LightGBMForecaster`` masks the same findings itself (its default
    ``mask_codes``), so it is not wrapped.
    """
    from bitgoeul.forecast.baselines import PersistenceEnsemble, SeasonalNaive
    from bitgoeul.forecast.gbm import LightGBMForecaster
    from bitgoeul.forecast.hybrid import HybridForecaster, torch_available

    gbm = {**GBM_KWARGS, "max_horizon": horizon}
    raw: dict[str, Callable[[], Any]] = {
        "seasonal_naive_day": lambda: SeasonalNaive(season="day"),
        "seasonal_naive_week": lambda: SeasonalNaive(season="week"),
        "persistence_ensemble": lambda: PersistenceEnsemble(),
        OURS: lambda: LightGBMForecaster(timezone=timezone, holidays_country=holidays, **gbm),
    }
    if torch_available():
        raw[HYBRID] = lambda: HybridForecaster(
            timezone=timezone, holidays_country=holidays, **gbm, **HYBRID_KWARGS
        )
    names = list(raw) if only is None else [m for m in raw if m in only]
    return {
        name: raw[name] if name in LEARNED else (lambda f=raw[name]: Masked(f(), timezone=timezone))
        for name in names
    }


def chunks(origins: list[pd.Timestamp], every: int) -> list[list[pd.Timestamp]]:
    """Consecutive runs of ``every`` origins: a model is fitted at the first of each."""
    return [origins[i : i + every] for i in range(0, len(origins), every)]


def run_ours(
    dataset: Dataset,
    origins: list[pd.Timestamp],
    *,
    refit_every: int = 1,
    only: Sequence[str] | None = None,
    horizon: int = HORIZON_H,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Backtest our models with :func:`bitgoeul.forecast.backtest.backtest`.

    The baselines have nothing to learn and are refitted at every origin.
    LightGBM is fitted at the first origin of every run of ``refit_every``
    origins (``refit='once'`` over that run) and forecasts the run's origins
    from the data before each of them.
    """
    from bitgoeul.forecast.backtest import backtest

    history = dataset.history
    frames, seconds = [], {}
    for name, make in our_models(
        dataset.timezone, dataset.holidays, only=only, horizon=horizon
    ).items():
        if name in LEARNED:
            every, days = refit_every, OUR_TRAIN_DAYS + READ_MARGIN_D
        else:
            every, days = 1, BASELINE_READ_D
        refit = "once" if every > 1 else "each"
        t0 = time.perf_counter()
        for run_ in chunks(origins, every):
            lo = run_[0] - pd.Timedelta(days=days)
            hi = run_[-1] + pd.Timedelta(hours=horizon)
            reads = history[(history["ts"] >= lo) & (history["ts"] < hi)]
            out = backtest(make, reads, run_, horizon=horizon, quantiles=QUANTILES, refit=refit)
            frames.append(out.assign(model=name))
        seconds[name] = time.perf_counter() - t0
    return pd.concat(frames, ignore_index=True), seconds


# -- peers -----------------------------------------------------------------------------
def standard_offset(timezone: str) -> pd.Timedelta:
    """The zone's standard (non-DST) UTC offset: the smaller of January's and July's."""
    offsets = [pd.Timestamp(f"2021-{m}-15", tz=timezone).utcoffset() for m in ("01", "07")]
    return pd.Timedelta(min(o for o in offsets if o is not None))


def panel_for(
    histories: Callable[[int], pd.DataFrame], origins: list[pd.Timestamp], timezone: str
) -> pd.DataFrame:
    """The peers' long frame: one series ``meter#k`` per meter and origin ``k``.

    Each is the ``PEER_WINDOW_H`` hours before the origin, read from
    ``histories(k)`` (long format), on a complete hourly grid with ``ds`` in
    naive local standard time; missing hours are linearly interpolated inside
    the window only (statsforecast cannot take NaN, mlforecast's lags assume
    no gaps), so nothing at or after the origin leaks in.
    """
    offset = standard_offset(timezone)
    parts = []
    for k, origin in enumerate(origins):
        end = origin.tz_convert("UTC")
        grid = pd.date_range(
            end - pd.Timedelta(hours=PEER_WINDOW_H), end, freq="h", inclusive="left"
        )
        history = histories(k)
        inside = history[(history["ts"] >= grid[0]) & (history["ts"] < end)]
        for meter, part in inside.groupby("meter_id", sort=True):
            y = part.set_index("ts")["energy_kwh"].reindex(grid)
            if y.notna().sum() < 2:
                continue
            y = y.interpolate(limit_direction="both")
            ds = (grid + offset).tz_localize(None)
            parts.append(pd.DataFrame({"unique_id": f"{meter}#{k}", "ds": ds, "y": y.to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def _from_peer(
    out: pd.DataFrame, name: str, origins: list[pd.Timestamp], timezone: str, model: str
) -> pd.DataFrame:
    offset = standard_offset(timezone)
    meter_k = out["unique_id"].astype(str).str.rsplit("#", n=1, expand=True)
    ts = (pd.DatetimeIndex(out["ds"]) - offset).tz_localize("UTC")
    origin = pd.DatetimeIndex([origins[int(k)].tz_convert("UTC") for k in meter_k[1]])
    lo, hi = f"{name}-lo-80", f"{name}-hi-80"
    return pd.DataFrame(
        {
            "meter_id": meter_k[0].to_numpy(),
            "origin": origin,
            "ts": ts,
            "lead": np.asarray((ts - origin) // pd.Timedelta(hours=1), dtype=int) + 1,
            "p10_kwh": out[lo].to_numpy() if lo in out else np.nan,
            "p50_kwh": out[name].to_numpy(),
            "p90_kwh": out[hi].to_numpy() if hi in out else np.nan,
            "model": model,
        }
    )


def run_statsforecast(
    panel: pd.DataFrame,
    origins: list[pd.Timestamp],
    timezone: str,
    *,
    suffix: str = "",
    horizon: int = HORIZON_H,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """AutoETS and MSTL: every (meter, origin) window in one ``forecast`` call per model."""
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, AutoETS

    frames, seconds = [], {}
    specs = {
        "sf_autoets": ("AutoETS", AutoETS(season_length=24)),
        "sf_mstl": ("MSTL", MSTL(season_length=[24, 168])),
    }
    for label, (name, model) in specs.items():
        sf = StatsForecast(models=[model], freq="h", n_jobs=SF_JOBS)
        t0 = time.perf_counter()
        out = sf.forecast(df=panel, h=horizon, level=[80])
        seconds[label + suffix] = time.perf_counter() - t0
        frames.append(_from_peer(out, name, origins, timezone, label + suffix))
    return pd.concat(frames, ignore_index=True), seconds


def run_mlforecast(
    panel: pd.DataFrame,
    origins: list[pd.Timestamp],
    timezone: str,
    *,
    refit_every: int = 1,
    suffix: str = "",
    horizon: int = HORIZON_H,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """mlforecast's LightGBM: one global fit on the dataset's meters per run of origins.

    Fitted at the first origin of every run of ``refit_every`` origins on the
    window before it; the run's later origins are forecast with
    ``predict(new_df=<window before the origin>)``.
    """
    from lightgbm import LGBMRegressor
    from mlforecast import MLForecast
    from mlforecast.utils import PredictionIntervals

    keys = panel["unique_id"].str.rsplit("#", n=1).str[1].astype(int)
    meters = panel["unique_id"].str.rsplit("#", n=1).str[0]

    def window(k: int) -> pd.DataFrame:
        return panel[keys == k].assign(unique_id=meters[keys == k])

    frames = []
    t0 = time.perf_counter()
    for i, k in enumerate(sorted(keys.unique())):
        part = window(k)
        if i == 0 or k % refit_every == 0:
            mlf = MLForecast(
                models=[LGBMRegressor(verbosity=-1, n_jobs=1)],
                freq="h",
                lags=[24, 168],
                date_features=["hour", "dayofweek"],
            )
            mlf.fit(part, prediction_intervals=PredictionIntervals(n_windows=2, h=horizon))
            out = mlf.predict(horizon, level=[80])
        else:
            out = mlf.predict(horizon, new_df=part, level=[80])
        out = out.assign(unique_id=out["unique_id"].astype(str) + f"#{k}")
        frames.append(_from_peer(out, "LGBMRegressor", origins, timezone, "mlf_lightgbm" + suffix))
    seconds = {"mlf_lightgbm" + suffix: time.perf_counter() - t0}
    return pd.concat(frames, ignore_index=True), seconds


def masked_histories(dataset: Dataset, origins: list[pd.Timestamp]) -> list[pd.DataFrame]:
    """The history before each origin after our quality masking (as ours see it)."""
    from bitgoeul.forecast.quality import find_and_mask

    out = []
    for origin in origins:
        history = dataset.history
        before = history[
            (history["ts"] < origin) & (history["ts"] >= origin - pd.Timedelta(days=OUR_TRAIN_DAYS))
        ]
        masked, _ = find_and_mask(before, interval_s=3600, timezone=dataset.timezone, as_of=origin)
        out.append(masked)
    return out


def _changed(raw: pd.DataFrame, masked: pd.DataFrame) -> set[str]:
    """Peer series (``meter#k``) whose masked window differs from the raw one."""
    both = raw.merge(masked, on=["unique_id", "ds"], how="outer", suffixes=("", "_m"))
    differ = ~np.isclose(both["y"], both["y_m"], rtol=0, atol=0, equal_nan=True)
    return set(both.loc[differ, "unique_id"].astype(str))


def run_peers(
    dataset: Dataset,
    origins: list[pd.Timestamp],
    *,
    masked: bool,
    refit_every: int = 1,
    horizon: int = HORIZON_H,
) -> tuple[pd.DataFrame, dict[str, float], dict[str, int]]:
    """All peers on the raw history, and with ``masked`` also on the masked history.

    Returns the forecasts, the seconds per model and counts of the peer
    series (one meter at one origin) and of those that masking changed.

    A masked peer is only rerun where masking changed what it reads: the
    statsforecast series whose window changed, the mlforecast runs of origins
    in which any window changed; elsewhere its forecast is the raw one.
    """
    tz = dataset.timezone
    panel = panel_for(lambda k: dataset.history, origins, tz)
    sf, seconds = run_statsforecast(panel, origins, tz, horizon=horizon)
    ml, ml_s = run_mlforecast(panel, origins, tz, refit_every=refit_every, horizon=horizon)
    frames = [sf, ml]
    seconds.update(ml_s)
    info = {"peer_series": int(panel["unique_id"].nunique())}
    if not masked:
        return pd.concat(frames, ignore_index=True), seconds, info
    t0 = time.perf_counter()
    views = masked_histories(dataset, origins)
    masked_panel = panel_for(lambda k: views[k], origins, tz)
    seconds["masking_for_peers"] = time.perf_counter() - t0
    changed = _changed(panel, masked_panel)
    sf_key = (
        sf["meter_id"]
        + "#"
        + sf["origin"]
        .map({o: k for k, o in enumerate([o.tz_convert("UTC") for o in origins])})
        .astype(str)
    )
    same = sf[~sf_key.isin(changed)]
    frames.append(same.assign(model=same["model"] + "+mask"))
    redo = masked_panel[masked_panel["unique_id"].isin(changed)]
    seconds.update({f"{m}+mask": 0.0 for m in ("sf_autoets", "sf_mstl", "mlf_lightgbm")})
    if not redo.empty:
        part, s = run_statsforecast(redo, origins, tz, suffix="+mask", horizon=horizon)
        frames.append(part)
        seconds.update(s)
    runs_changed = {int(u.rsplit("#", 1)[1]) // refit_every for u in changed}
    keys = masked_panel["unique_id"].str.rsplit("#", n=1).str[1].astype(int)
    redo = masked_panel[(keys // refit_every).isin(runs_changed)]
    ml_key = ml["origin"].map({o.tz_convert("UTC"): k for k, o in enumerate(origins)})
    same = ml[~(ml_key // refit_every).isin(runs_changed)]
    frames.append(same.assign(model=same["model"] + "+mask"))
    if not redo.empty:
        part, s = run_mlforecast(
            redo, origins, tz, refit_every=refit_every, suffix="+mask", horizon=horizon
        )
        frames.append(part)
        seconds.update(s)
    info["peer_series_changed_by_masking"] = len(changed)
    return pd.concat(frames, ignore_index=True), seconds, info


# -- scoring ---------------------------------------------------------------------------
def attach_actuals(forecasts: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Add ``actual_kwh`` (the raw reading, NaN where missing) to peer forecasts."""
    actual = history[["meter_id", "ts", "energy_kwh"]].rename(columns={"energy_kwh": "actual_kwh"})
    out = forecasts.drop(columns=["actual_kwh"], errors="ignore")
    return out.merge(actual, on=["meter_id", "ts"], how="left")


def score_models(forecasts: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Score every model on every meter with :func:`bitgoeul.forecast.metrics.score`.

    Returns one row per (meter_id, model) with the columns of ``METRICS``;
    ``pinball`` is the mean pinball loss of P10, P50 and P90 [kWh] and
    ``coverage`` the share of actuals within [P10, P90]. MASE's scale is the
    in-sample day-over-day MAE of the raw readings before each origin.
    """
    from bitgoeul.forecast.metrics import score

    table = score(forecasts, history=history[["meter_id", "ts", "energy_kwh"]], group="meter_id")
    table = table[table["meter_id"] != "all"].copy()
    pinball = [c for c in table.columns if str(c).startswith("pinball_")]
    table["pinball"] = table[pinball].mean(axis=1)
    missing = [m for m in (*METRICS, "n") if m not in table.columns]
    if missing:
        raise KeyError(f"score() has no columns for {missing}; it returned {list(table.columns)}")
    return table[["meter_id", "model", "n", *METRICS]].reset_index(drop=True)


def add_ratios(scores: pd.DataFrame) -> pd.DataFrame:
    """NRMSE of each model over the best simple baseline's NRMSE on the same series."""
    base = scores[scores["model"].isin(BASELINES)]
    best = base.loc[base.groupby("meter_id")["nrmse"].idxmin(), ["meter_id", "model", "nrmse"]]
    best = best.rename(columns={"model": "best_baseline", "nrmse": "best_baseline_nrmse"})
    out = scores.merge(best, on="meter_id", how="left")
    out["nrmse_ratio"] = out["nrmse"] / out["best_baseline_nrmse"]
    return out


BOOTSTRAP_DRAWS = 2000  # resamples of the origins behind a ratio's interval


def ratio_interval(
    forecasts: pd.DataFrame,
    meter_id: str,
    model: str,
    other: str,
    *,
    draws: int = BOOTSTRAP_DRAWS,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """NRMSE of ``model`` over ``other``'s on one series, with a bootstrap interval over origins.

    Only the hours both models forecast and that have an actual are read, so
    the ratio is that of their RMSEs. The origins (whole days of forecasts) are
    resampled with replacement ``draws`` times: an interval that holds 1 says
    the ranking could flip with another draw of origins from the same year.

    Returns the ratio and the ``level`` interval's bounds.
    """
    rows = forecasts[
        (forecasts["meter_id"] == meter_id) & forecasts["model"].isin([model, other])
    ].dropna(subset=["actual_kwh", "p50_kwh"])
    wide = rows.pivot_table(index=["origin", "ts"], columns="model", values="p50_kwh")
    actual = rows.drop_duplicates(["origin", "ts"]).set_index(["origin", "ts"])["actual_kwh"]
    wide = wide.dropna()
    if wide.empty or model not in wide.columns or other not in wide.columns:
        raise ValueError(f"{model} and {other} share no scored hour on {meter_id}")
    err = wide.sub(actual.reindex(wide.index), axis=0) ** 2
    per_origin = err.groupby(level="origin").sum()
    a = per_origin[model].to_numpy()
    b = per_origin[other].to_numpy()
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, a.size, size=(draws, a.size))
    ratios = np.sqrt(a[pick].sum(axis=1) / b[pick].sum(axis=1))
    tail = (1 - level) / 2
    lo, hi = np.quantile(ratios, [tail, 1 - tail])
    return float(np.sqrt(a.sum() / b.sum())), float(lo), float(hi)


def check_goals(
    scores: pd.DataFrame, kinds: dict[str, str], forecasts: pd.DataFrame, *, ours: str = OURS
) -> dict[str, Any]:
    """The issue's goals (a)-(d) for our model ``ours``, each with ``met`` True / False / None."""
    nrmse = scores.pivot(index="meter_id", columns="model", values="nrmse")
    ratio = scores.pivot(index="meter_id", columns="model", values="nrmse_ratio")
    goals: dict[str, Any] = {}
    if ours not in nrmse.columns:
        return {key: {"met": None, "note": f"{ours} did not run"} for key in "abcd"}

    peers = [p for p in PEERS if p in nrmse.columns]
    goal_a: dict[str, Any] = {
        "goal": "on every series ours has lower NRMSE than AutoETS, MSTL and mlforecast",
        "met": None,
    }
    if peers:
        lost = [
            f"{m} vs {p}"
            for m in nrmse.index
            for p in peers
            if not nrmse.at[m, ours] < nrmse.at[m, p]
        ]
        won = [m for m in nrmse.index if all(nrmse.at[m, ours] < nrmse.at[m, p] for p in peers)]
        goal_a.update(met=not lost, series_won=len(won), series=len(nrmse.index), lost=lost)
        best = {m: min(peers, key=lambda p: nrmse.at[m, p]) for m in nrmse.index}
        goal_a["best_peer"] = {
            m: (p, *ratio_interval(forecasts, m, ours, p)) for m, p in best.items()
        }
        goal_a["lost_intervals"] = {
            f"{m} vs {p}": ratio_interval(forecasts, m, ours, p)
            for m in nrmse.index
            for p in peers
            if not nrmse.at[m, ours] < nrmse.at[m, p]
        }
        masked = [f"{p}+mask" for p in peers if f"{p}+mask" in nrmse.columns]
        goal_a["lost_to_masked_peers"] = [
            f"{m} vs {p}"
            for m in nrmse.index
            for p in masked
            if not nrmse.at[m, ours] < nrmse.at[m, p]
        ]
    else:
        goal_a["note"] = "peers not run"
    goals["a"] = goal_a

    big = [m for m in ratio.index if kinds.get(m) in ("building", "national")]
    if big:
        mean = float(ratio.loc[big, ours].mean())
        goals["b"] = {
            "goal": "buildings and national: mean NRMSE ratio ours / best simple baseline <= 0.6",
            "met": bool(mean <= 0.6),
            "mean_ratio": mean,
            "per_series": {m: float(ratio.at[m, ours]) for m in big},
            "not_in_goal": {
                m: float(ratio.at[m, ours])
                for m in ratio.index
                if kinds.get(m) in ("regional", "aggregate")
            },
        }
    homes = [m for m in nrmse.index if kinds.get(m) == "household"]
    if homes and "persistence_ensemble" in nrmse.columns:
        per = {m: float(nrmse.at[m, ours] / nrmse.at[m, "persistence_ensemble"]) for m in homes}
        mean = float(np.mean(list(per.values())))
        goals["c"] = {
            "goal": "households: NRMSE ours <= 0.97 x persistence ensemble (mean of the ratios)",
            "met": bool(mean <= 0.97),
            "mean_ratio": mean,
            "households_meeting": int(sum(v <= 0.97 for v in per.values())),
            "households": len(per),
            "per_series": per,
        }
    mine = forecasts[forecasts["model"] == ours].dropna(subset=["actual_kwh"])
    inside = (mine["actual_kwh"] >= mine["p10_kwh"]) & (mine["actual_kwh"] <= mine["p90_kwh"])
    pooled = float(inside.mean())
    per_series = scores[scores["model"] == ours].set_index("meter_id")["coverage"]
    goals["d"] = {
        "goal": "our P10-P90 coverage within 75-85 % (pooled over every forecast hour)",
        "met": bool(0.75 <= pooled <= 0.85),
        "pooled_coverage": pooled,
        "series_within": int(((per_series >= 0.75) & (per_series <= 0.85)).sum()),
        "series": len(per_series),
        "per_series": {str(k): float(v) for k, v in per_series.items()},
    }
    return goals


def summarise(scores: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """Per model: mean NRMSE ratio by group of series, and series where it beats the best baseline."""
    frame = scores.assign(kind=scores["meter_id"].map(kinds))
    rows = []
    for model, part in frame.groupby("model", sort=False):
        big = part[part["kind"].isin(["building", "national"])]
        homes = part[part["kind"] == "household"]
        rows.append(
            {
                "model": model,
                "ratio_buildings_national": float(big["nrmse_ratio"].mean()),
                "ratio_households": float(homes["nrmse_ratio"].mean()),
                "ratio_all": float(part["nrmse_ratio"].mean()),
                "median_nrmse": float(part["nrmse"].median()),
                "coverage_mean": float(part["coverage"].mean()),
                "series_below_best_baseline": int((part["nrmse_ratio"] < 1).sum()),
                "series": len(part),
            }
        )
    return pd.DataFrame(rows)


# -- report ----------------------------------------------------------------------------
def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in (
        "numpy",
        "pandas",
        "lightgbm",
        "statsforecast",
        "mlforecast",
        "scikit-learn",
        "holidays",
        "torch",
    ):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _git_head() -> str:
    head = ROOT / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            return (ROOT / ".git" / ref[5:]).read_text().strip()[:12]
        return ref[:12]
    except OSError:
        return "unknown"


def _git_state() -> str:
    """``commit <head>``, plus a note when tracked files differ from it (the run is not HEAD)."""
    try:
        diff = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return f"commit {_git_head()}, working tree not checked"
    return f"commit {_git_head()}" + (" plus uncommitted changes" if diff.strip() else "")


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    number = float(value)
    return f"{number:.{digits}f}" if np.isfinite(number) else "-"


def _ordered(models: Sequence[str]) -> list[str]:
    order = [m for m in (*BASELINES, *LEARNED, *PEERS) if m in models]
    order += [f"{m}+mask" for m in PEERS if f"{m}+mask" in models]
    return order + [m for m in models if m not in order]


def markdown_tables(scores: pd.DataFrame, summary: pd.DataFrame) -> str:
    """The NRMSE matrix with ratios, a per-model summary, then every metric."""
    models = _ordered(list(dict.fromkeys(scores["model"])))
    series = list(dict.fromkeys(scores.sort_values("meter_id")["meter_id"]))
    cell = scores.set_index(["meter_id", "model"])
    lines = [
        "NRMSE per series (in brackets: ratio to the series' best simple baseline; "
        "**bold**: lowest of the row):",
        "",
        "| series | " + " | ".join(models) + " |",
        "|---" * (len(models) + 1) + "|",
    ]
    for m in series:
        best = min(
            float(cell.at[(m, model), "nrmse"]) for model in models if (m, model) in cell.index
        )
        cells = []
        for model in models:
            if (m, model) not in cell.index:
                cells.append("-")
                continue
            r = cell.loc[(m, model)]
            text = f"{_fmt(r['nrmse'])} ({_fmt(r['nrmse_ratio'], 2)})"
            cells.append(f"**{text}**" if float(r["nrmse"]) == best else text)
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Per model: mean NRMSE ratio to the best simple baseline over the buildings and the "
        "national series, over the households and over all series; median NRMSE; mean "
        "P10-P90 coverage; series where the model beats the best simple baseline:",
        "",
        "| model | ratio bldg+national | ratio households | ratio all | median NRMSE | coverage | beats baseline |",
        "|---|---|---|---|---|---|---|",
    ]
    by_model = summary.set_index("model")
    for model in models:
        r = by_model.loc[model]
        lines.append(
            f"| {model} | {_fmt(r['ratio_buildings_national'])} | {_fmt(r['ratio_households'])} "
            f"| {_fmt(r['ratio_all'])} | {_fmt(r['median_nrmse'])} | {_fmt(r['coverage_mean'])} "
            f"| {int(r['series_below_best_baseline'])}/{int(r['series'])} |"
        )
    cols = ["nrmse", "nrmse_ratio", "mase", "smape", "cvrmse", "nmbe", "pinball", "coverage"]
    lines += [
        "",
        "<details><summary>Every metric, per series and model</summary>",
        "",
        "NMBE > 0: forecasts too low. pinball: mean of the P10, P50 and P90 pinball losses "
        "[kWh per hour]. coverage: share of actuals within [P10, P90].",
        "",
        "| series | model | " + " | ".join(cols) + " |",
        "|---" * (len(cols) + 2) + "|",
    ]
    for m in series:
        for model in models:
            if (m, model) not in cell.index:
                continue
            r = cell.loc[(m, model)]
            digits = {"pinball": 4}
            values = [_fmt(r[c], digits.get(c, 3)) for c in cols]
            lines.append(f"| {m} | {model} | " + " | ".join(values) + " |")
    lines += ["", "</details>"]
    return "\n".join(lines)


def goal_lines(goals: dict[str, Any]) -> str:
    """One Markdown bullet per goal with MET / MISSED and its numbers."""
    lines = []
    for key in ("a", "b", "c", "d"):
        g = goals.get(key)
        if g is None:
            continue
        status = "not checked" if g.get("met") is None else ("MET" if g["met"] else "MISSED")
        detail = g.get("note", "")
        if key == "a" and g.get("met") is not None:
            detail = f"{g['series_won']}/{g['series']} series below all three peers"
            if g["lost"]:
                detail += "; not below: " + ", ".join(
                    f"{pair} (NRMSE ratio {r:.3f}, 95 % bootstrap interval over origins "
                    f"{lo:.3f}-{hi:.3f})"
                    for pair, (r, lo, hi) in g.get("lost_intervals", {}).items()
                )
            if g.get("best_peer"):
                detail += (
                    "; ours over the best peer per series, with its 95 % bootstrap interval: "
                    + ", ".join(
                        f"{m} {r:.3f} ({lo:.2f}-{hi:.2f}, {p})"
                        for m, (p, r, lo, hi) in g["best_peer"].items()
                    )
                )
            if g.get("lost_to_masked_peers"):
                detail += "; against the peers on masked data, not below: " + ", ".join(
                    g["lost_to_masked_peers"]
                )
        elif key == "b" and "mean_ratio" in g:
            per = ", ".join(f"{m} {v:.2f}" for m, v in g["per_series"].items())
            detail = f"mean ratio {g['mean_ratio']:.3f} ({per})"
            if g["not_in_goal"]:
                extra = ", ".join(f"{m} {v:.2f}" for m, v in g["not_in_goal"].items())
                detail += f"; outside the goal, regional: {extra}"
        elif key == "c" and "mean_ratio" in g:
            per = ", ".join(f"{v:.3f}" for v in g["per_series"].values())
            detail = (
                f"mean ratio {g['mean_ratio']:.3f} ({per}); {g['households_meeting']}/"
                f"{g['households']} households at or below 0.97"
            )
        elif key == "d" and "pooled_coverage" in g:
            detail = (
                f"pooled coverage {100 * g['pooled_coverage']:.1f} %; {g['series_within']}/"
                f"{g['series']} series within 75-85 % (per series "
                + ", ".join(f"{m} {100 * v:.0f}" for m, v in g["per_series"].items())
                + " %)"
            )
        lines.append(f"- ({key}) {g.get('goal', key)}: **{status}** - {detail}")
    return "\n".join(lines)


def throughput(seconds: dict[str, dict[str, float]], counts: dict[str, int]) -> dict[str, Any]:
    """Series forecasts (one meter at one origin: fit + predict 24 h) per second of wall time."""
    totals: dict[str, float] = {}
    for per_model in seconds.values():
        for model, s in per_model.items():
            if model in (*BASELINES, *LEARNED, *PEERS):
                totals[model] = totals.get(model, 0.0) + s
    n = sum(counts.values())
    return {
        model: {"seconds": s, "series_forecasts": n, "series_per_s": n / s if s > 0 else None}
        for model, s in totals.items()
    }


def peer_config(horizon: int = HORIZON_H) -> dict[str, str]:
    """The peers' exact configurations, as run."""
    fit = (
        f"StatsForecast(models=[...], freq='h', n_jobs={SF_JOBS}).forecast(df, h={horizon}, "
        "level=[80])"
    )
    return {
        "sf_autoets": f"AutoETS(season_length=24) via {fit}",
        "sf_mstl": f"MSTL(season_length=[24, 168]) (trend AutoETS(model='ZZN'), the default) via {fit}",
        "mlf_lightgbm": (
            "MLForecast(models=[LGBMRegressor(verbosity=-1, n_jobs=1)], freq='h', lags=[24, 168], "
            "date_features=['hour', 'dayofweek']).fit(df, prediction_intervals="
            f"PredictionIntervals(n_windows=2, h={horizon})); predict({horizon}, level=[80]) "
            "(new_df=the window before a later origin)"
        ),
        "training_window": f"last {PEER_WINDOW_H} h ({PEER_WINDOW_H // 168} weeks) before the origin",
        "input": (
            "raw readings of the window on a complete hourly grid, missing hours linearly "
            "interpolated inside the window, "
            "naive local standard time; P10/P90 = bounds of the 80 % interval"
        ),
    }


def our_config(horizon: int = HORIZON_H) -> dict[str, str]:
    """Our models' exact configurations, as run."""
    kwargs = ", ".join(f"{k}={v!r}" for k, v in {**GBM_KWARGS, "max_horizon": horizon}.items())
    hybrid = ", ".join(f"{k}={v!r}" for k, v in HYBRID_KWARGS.items())
    return {
        "lightgbm": (
            "LightGBMForecaster(timezone=<zone>, holidays_country=<the dataset's calendar, below>, "
            f"{kwargs}), other "
            f"arguments default; fed the last {OUR_TRAIN_DAYS} + {READ_MARGIN_D} days"
        ),
        HYBRID: (
            f"HybridForecaster(the same arguments, {hybrid}), other arguments default "
            "(a quantile MLP beside the boosters, averaged into P50 with weight 0.5)"
        ),
        "baselines": (
            "SeasonalNaive(season='day'), SeasonalNaive(season='week'), PersistenceEnsemble(), "
            f"defaults; fed the last {BASELINE_READ_D} days, masked by find_and_mask"
        ),
    }


CAVEATS = (
    "Peers' training window: 8 weeks. Measured on this machine (national series), one fit "
    "on 52 weeks of hourly data takes about 5.5 s (AutoETS) and 2 s (MSTL) against 0.8 s and "
    "0.3 s on 8 weeks: 52 weeks would add about 20 min to the run on 2 cores. Ours read up "
    "to 365 days (LightGBMForecaster's default train_days=365).",
    "Our LightGBM runs with `max_horizon` = the horizon scored (it learns leads 1..horizon; "
    "day-ahead learns 24, a seventh of the default 168's rows) and one thread: with two "
    "LightGBM threads on "
    "a 2-core machine shared with other jobs, a fit took 20-50x longer (OpenMP spinning). "
    "mlforecast's LGBMRegressor gets `n_jobs=1` for the same reason; statsforecast uses "
    "process workers.",
    "Scores are against the raw readings, outage hours included (e.g. all CNU buildings "
    "read 0 for 7 h on 2021-07-10): every model is scored on the same hours.",
    "No model sees weather after the origin: ours read temp_c only before it, the peers get "
    "no temperature.",
)


def goal_notes(datasets: Sequence[Dataset]) -> list[str]:
    """What each goal pools over in this run, and the holidays each dataset got."""
    count = Counter(d.kind for d in datasets for _ in d.history["meter_id"].unique())
    outside = [d.name for d in datasets if d.kind not in ("building", "national", "household")]
    big = count["building"] + count["national"]
    scope = (
        f"Goal (b) covers the {big} building and national series"
        if big
        else "Goal (b) has no series in this run (it covers buildings and national series)"
    )
    return [
        scope
        + (f"; {', '.join(outside)} shown but outside it" if outside else "")
        + f". Goal (c) is the mean over the {count['household']} households of NRMSE(ours) / "
        "NRMSE(persistence ensemble). Goal (d) pools every forecast hour of every series.",
        "Holidays (the `holidays` package's calendar of the meters' country, or of their "
        "region where it has days of its own): "
        + ", ".join(f"{d.name} {d.holidays}" for d in datasets)
        + ".",
    ]


# -- cycle end -------------------------------------------------------------------------
CYCLE_DAYS_IN = (7, 14, 21)  # cycle-end forecasts are issued this many days into the cycle [d]
CYCLE_HORIZON_H = 168  # our model forecasts the next week; ProfileLevelForecaster the rest [h]


def daily_energy(history: pd.DataFrame, meter_id: str, timezone: str) -> pd.Series:
    """Energy per local date [kWh per day]; NaN for a day with fewer than 23 measured hours."""
    part = history[history["meter_id"] == meter_id]
    local = pd.DatetimeIndex(part["ts"]).tz_convert(timezone)
    day = pd.Series(local.date, index=part.index)
    energy = part["energy_kwh"]
    grouped = energy.groupby(day)
    totals = grouped.sum(min_count=1).where(grouped.count() >= 23)
    span = pd.date_range(min(totals.index), max(totals.index), freq="D")
    return totals.reindex([t.date() for t in span])


def run_cycle_end(
    datasets: list[Dataset], *, months: int, log: Callable[[str], None] = print
) -> tuple[pd.DataFrame, float]:
    """Cycle-end energy forecasts of the last ``months`` whole calendar-month cycles.

    For each billing cycle with reading day 1 (a calendar month) whose days
    are all measured, a forecast of the cycle's total energy is issued
    ``CYCLE_DAYS_IN`` days into it with
    :func:`bitgoeul.analytics.cycle_forecast.forecast_cycle_energy` and three
    forecasters of the days to come:

    * ``profile``: its default, ``ProfileLevelForecaster`` (issue 3);
    * ``lightgbm``: :class:`bitgoeul.forecast.cycle.ModelCycleForecaster`
      with our global model (fitted on all meters of the dataset as of the
      forecast day, ``max_horizon=CYCLE_HORIZON_H``) for the next 7 days and
      ``ProfileLevelForecaster`` after;
    * ``linear``: so far / days measured x cycle days (no band).

    Returns one row per (meter, cycle, day in) and the seconds our fits took.
    """
    from bitgoeul.analytics.cycle_forecast import ProfileLevelForecaster, forecast_cycle_energy
    from bitgoeul.analytics.cycles import billing_cycles
    from bitgoeul.forecast.cycle import ModelCycleForecaster

    rows: list[dict[str, Any]] = []
    fit_s = 0.0
    for dataset in datasets:
        tz = dataset.timezone
        meters = sorted(map(str, dataset.history["meter_id"].unique()))
        daily = {m: daily_energy(dataset.history, m, tz) for m in meters}
        first = max(s.index[0] for s in daily.values()) + dt.timedelta(hours=WARMUP_H // 24)
        last = min(s.index[-1] for s in daily.values())
        cycles = [c for c in billing_cycles(first, last, 1) if first < c.start and c.end < last]
        cycles = cycles[-months:]
        log(f"{dataset.name}: cycle end, {len(meters)} series, cycles {[c.label for c in cycles]}")
        for cycle in cycles:
            for days_in in CYCLE_DAYS_IN:
                day = cycle.start + dt.timedelta(days=days_in)
                as_of = pd.Timestamp(day).tz_localize(tz)
                lo = as_of - pd.Timedelta(days=OUR_TRAIN_DAYS + READ_MARGIN_D)
                history = dataset.history
                reads = history[(history["ts"] >= lo) & (history["ts"] < as_of)]
                t0 = time.perf_counter()
                model = our_models(tz, dataset.holidays, only=[OURS], horizon=CYCLE_HORIZON_H)[
                    OURS
                ]()
                model.fit(reads, as_of=as_of)
                fit_s += time.perf_counter() - t0
                for meter in meters:
                    inside = daily[meter].loc[cycle.start : cycle.end]
                    if len(inside) != cycle.days or inside.isna().any():
                        continue
                    fallback = ProfileLevelForecaster(holidays_country=dataset.holidays)
                    plug = ModelCycleForecaster(
                        model, reads, meter_id=meter, timezone=tz, fallback=fallback
                    )
                    found = {
                        "profile": forecast_cycle_energy(
                            daily[meter], cycle, as_of=day, forecaster=fallback
                        ),
                        OURS: forecast_cycle_energy(
                            daily[meter], cycle, as_of=day, forecaster=plug
                        ),
                    }
                    f = found["profile"]
                    base = {
                        "meter_id": meter,
                        "kind": dataset.kind,
                        "cycle": cycle.label,
                        "days_in": days_in,
                        "actual_kwh": float(inside.sum()),
                    }
                    for name, g in found.items():
                        rows.append(
                            {**base, "model": name, "p10_kwh": g.p10_kwh, "p50_kwh": g.p50_kwh}
                            | {"p90_kwh": g.p90_kwh}
                        )
                    linear = f.so_far_kwh / max(f.days_observed, 1) * cycle.days
                    rows.append(
                        {**base, "model": "linear", "p50_kwh": linear} | {"p10_kwh": np.nan}
                    )
    return pd.DataFrame(rows), fit_s


def cycle_end_table(results: pd.DataFrame) -> str:
    """Median absolute percentage error of the P50 cycle total and P10-P90 coverage."""
    frame = results.assign(
        ape=(results["p50_kwh"] - results["actual_kwh"]).abs() / results["actual_kwh"],
        inside=(results["actual_kwh"] >= results["p10_kwh"])
        & (results["actual_kwh"] <= results["p90_kwh"]),
        group=results["kind"].replace(
            {"national": "building+national", "building": "building+national"}
        ),
    )
    lines = [
        "| group | days into cycle | cycles x series | median APE profile | median APE lightgbm "
        "| median APE linear | coverage profile | coverage lightgbm |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (group, days_in), part in frame.groupby(["group", "days_in"], sort=True):
        ape = part.groupby("model")["ape"].median()
        cov = part[part["model"] != "linear"].groupby("model")["inside"].mean()
        n = int((part["model"] == "linear").sum())
        lines.append(
            f"| {group} | {days_in} | {n} | {100 * ape.get('profile', np.nan):.1f} % "
            f"| {100 * ape.get(OURS, np.nan):.1f} % | {100 * ape.get('linear', np.nan):.1f} % "
            f"| {100 * cov.get('profile', np.nan):.0f} % | {100 * cov.get(OURS, np.nan):.0f} % |"
        )
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------
@dataclass
class Result:
    """Everything one run produced."""

    scores: pd.DataFrame
    summary: pd.DataFrame
    forecasts: pd.DataFrame
    goals: dict[str, Any]
    origins: dict[str, list[pd.Timestamp]]
    seconds: dict[str, dict[str, float]]
    info: dict[str, dict[str, int]]
    kinds: dict[str, str]
    refit_every: int
    wall_s: float
    horizon: int = HORIZON_H
    other_goals: dict[str, dict[str, Any]] = field(default_factory=dict)  # by model, after OURS


def run(
    datasets: list[Dataset],
    *,
    n_origins: int,
    peers: bool = True,
    masked_peers: bool = True,
    only: Sequence[str] | None = None,
    refit_every: int = REFIT_EVERY,
    horizon: int = HORIZON_H,
    log: Callable[[str], None] = print,
) -> Result:
    """Backtest every model on every dataset and score them, ``horizon`` hours ahead."""
    if refit_every < 1:
        raise ValueError(f"refit_every must be >= 1, got {refit_every!r}")
    t_start = time.perf_counter()
    forecasts, histories = [], []
    seconds: dict[str, dict[str, float]] = {}
    origins: dict[str, list[pd.Timestamp]] = {}
    info: dict[str, dict[str, int]] = {}
    kinds: dict[str, str] = {}
    for dataset in datasets:
        points = choose_origins(dataset, n_origins, horizon=horizon)
        origins[dataset.name] = points
        meters = [str(m) for m in dataset.history["meter_id"].unique()]
        kinds.update({m: dataset.kind for m in meters})
        log(
            f"{dataset.name}: {len(meters)} series, {len(points)} origins "
            f"{points[0].tz_convert(dataset.timezone):%Y-%m-%d} .. "
            f"{points[-1].tz_convert(dataset.timezone):%Y-%m-%d}"
        )
        ours, s = run_ours(dataset, points, refit_every=refit_every, only=only, horizon=horizon)
        forecasts.append(ours)
        seconds[dataset.name] = s
        log("  ours: " + ", ".join(f"{k} {v:.1f} s" for k, v in s.items()))
        info[dataset.name] = {"series_forecasts": len(meters) * len(points)}
        if peers:
            theirs, s, counts = run_peers(
                dataset, points, masked=masked_peers, refit_every=refit_every, horizon=horizon
            )
            forecasts.append(attach_actuals(theirs, dataset.history))
            seconds[dataset.name].update(s)
            info[dataset.name].update(counts)
            log("  peers: " + ", ".join(f"{k} {v:.1f} s" for k, v in s.items()))
        histories.append(dataset.history)
    every = pd.concat(forecasts, ignore_index=True)
    history = pd.concat(histories, ignore_index=True)
    scores = add_ratios(score_models(every, history))
    ran = set(scores["model"])
    return Result(
        other_goals={
            name: check_goals(scores, kinds, every, ours=name)
            for name in LEARNED[1:]
            if name in ran
        },
        scores=scores,
        summary=summarise(scores, kinds),
        forecasts=every,
        goals=check_goals(scores, kinds, every),
        origins=origins,
        seconds=seconds,
        info=info,
        kinds=kinds,
        refit_every=refit_every,
        wall_s=time.perf_counter() - t_start,
        horizon=horizon,
    )


def report(
    result: Result, *, command: str, datasets: list[Dataset], held_out: bool = False
) -> tuple[str, dict[str, Any]]:
    """The Markdown fragment and the JSON summary of a run."""
    counts = {name: v["series_forecasts"] for name, v in result.info.items()}
    speed = throughput(result.seconds, counts)
    versions = _versions()
    today = dt.date.today().isoformat()
    machine = f"{os.cpu_count()} cores ({platform.machine()}, {platform.system()})"
    refit = (
        "at every origin"
        if result.refit_every == 1
        else f"every {result.refit_every} origins (fitted at the first of each run)"
    )
    changed = sum(v.get("peer_series_changed_by_masking", 0) for v in result.info.values())
    peer_series = sum(v.get("peer_series", 0) for v in result.info.values())
    h = result.horizon
    title = "Day-ahead" if h == HORIZON_H else ("Week-ahead" if h == 168 else f"{h}-hour")
    md = [
        f"## {title} hourly forecasts beside statsforecast and mlforecast"
        + (" on held-out series" if held_out else "")
        + " (issue 4)",
        "",
        f"Command: `{command}` (repository root; {_git_state()}), "
        f"{today}, {machine}, shared with other jobs; whole run {result.wall_s:.0f} s.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "",
        f"Setup: {h}-hour forecasts issued at local midnight; at each origin every model reads "
        "only data before it. All forecasts are scored by `bitgoeul.forecast.metrics.score` "
        "against the raw readings (NRMSE = RMSE / mean actual, BuildingsBench's definition; "
        "MASE scaled by the in-sample day-over-day MAE before the origin).",
        "",
        "- ours: "
        + our_config(h)["lightgbm"]
        + f"; refitted {refit}. "
        + (f"`{HYBRID}`: " + our_config(h)[HYBRID] + ". " if HYBRID in result.other_goals else "")
        + our_config(h)["baselines"]
        + ", at every origin.",
        "- AutoETS: `" + peer_config(h)["sf_autoets"] + "`, fitted at every origin.",
        "- MSTL: `" + peer_config(h)["sf_mstl"] + "`, fitted at every origin.",
        "- mlforecast: `" + peer_config(h)["mlf_lightgbm"] + f"`, refitted {refit}.",
        "- peers' data: "
        + peer_config(h)["input"]
        + "; "
        + peer_config(h)["training_window"]
        + ". `<peer>+mask`: the same peer on the history masked by our `find_and_mask` "
        f"(masked hours interpolated); masking changed {changed} of {peer_series} peer "
        "windows, the others are the raw forecasts.",
        "",
        "Data and origins:",
        "",
    ]
    for d in datasets:
        pts = result.origins[d.name]
        md.append(
            f"- `{d.name}` ({d.kind}, {d.timezone}, {d.history['meter_id'].nunique()} series): "
            f"{len(pts)} origins {pts[0].tz_convert(d.timezone):%Y-%m-%d} .. "
            f"{pts[-1].tz_convert(d.timezone):%Y-%m-%d}; " + "; ".join(d.notes) + "."
        )
    md += ["", markdown_tables(result.scores, result.summary), "", "Goals:", ""]
    md += [goal_lines(result.goals), ""]
    for name, goals in result.other_goals.items():
        md += [f"The same goals for `{name}`:", "", goal_lines(goals), ""]
    md += [
        "Throughput in the same run: series forecasts (one meter at one origin: fit + predict "
        f"{h} h) per second of wall time. Ours: one LightGBM thread (global model, one fit "
        f"per dataset and origin), masking included; statsforecast: {SF_JOBS} worker "
        "processes; mlforecast: one LightGBM thread.",
        "",
        "| model | series forecasts | seconds | series/s |",
        "|---|---|---|---|",
    ]
    for model in _ordered(list(speed)):
        v = speed[model]
        md.append(
            f"| {model} | {v['series_forecasts']} | {v['seconds']:.1f} | {_fmt(v['series_per_s'], 2)} |"
        )
    md += ["", "Notes:", "", *[f"- {line}" for line in (*CAVEATS, *goal_notes(datasets))]]
    summary = {
        "command": command,
        "date": today,
        "machine": machine,
        "commit": _git_head(),
        "versions": versions,
        "wall_s": result.wall_s,
        "config": {
            "horizon_h": h,
            "quantiles": list(QUANTILES),
            "refit_every_origins": result.refit_every,
            "ours": our_config(h),
            "peers": peer_config(h),
        },
        "datasets": {
            d.name: {
                "kind": d.kind,
                "timezone": d.timezone,
                "series": sorted(map(str, d.history["meter_id"].unique())),
                "origins": [o.isoformat() for o in result.origins[d.name]],
                "notes": list(d.notes),
                **result.info[d.name],
            }
            for d in datasets
        },
        "scores": json.loads(result.scores.to_json(orient="records")),
        "summary": json.loads(result.summary.to_json(orient="records")),
        "goals": result.goals,
        "other_goals": result.other_goals,
        "throughput": speed,
        "seconds": result.seconds,
    }
    return "\n".join(md) + "\n", summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 CNU buildings, 4 origins")
    parser.add_argument("--origins", type=int, default=None, help="origins per series (30)")
    parser.add_argument(
        "--refit-every",
        type=int,
        default=REFIT_EVERY,
        help="refit both LightGBM models every N origins (1: at every origin)",
    )
    parser.add_argument(
        "--horizon",
        type=int,
        default=HORIZON_H,
        help="hours ahead of each origin (24: day-ahead; 168: week-ahead)",
    )
    parser.add_argument(
        "--cycle-end",
        type=int,
        default=None,
        metavar="MONTHS",
        help="instead: cycle-end energy forecasts of the last MONTHS calendar months",
    )
    parser.add_argument(
        "--held-out",
        action="store_true",
        help="instead of the goals' series, series no forecasting model was tuned on (LCL, AMPds)",
    )
    parser.add_argument("--no-peers", action="store_true", help="ours only")
    parser.add_argument("--no-masked-peers", action="store_true", help="peers on raw data only")
    parser.add_argument(
        "--no-hybrid", action="store_true", help=f"leave out {HYBRID} (run when torch is there)"
    )
    parser.add_argument("--out", type=Path, default=OUT, help="folder of the JSON results")
    parser.add_argument("--doc", type=Path, default=None, help="Markdown fragment to write")
    args = parser.parse_args(argv)
    if args.held_out and (args.quick or args.cycle_end is not None):
        parser.error("--held-out runs the day- or week-ahead backtest on its own series only")
    if args.horizon < 1:
        parser.error(f"--horizon must be >= 1 hour, got {args.horizon}")
    suffix = ("" if args.horizon == HORIZON_H else f"_h{args.horizon}") + (
        "_heldout" if args.held_out else ""
    )
    doc = args.doc or DOC.with_name(DOC.stem + suffix.replace("_", "-") + DOC.suffix)
    n = args.origins or (4 if args.quick else 30)
    words = list(argv if argv is not None else sys.argv[1:])
    command = " ".join([".venv/bin/python benchmarks/bench_forecast.py", *words])
    datasets = load_held_out() if args.held_out else load_datasets(quick=args.quick)
    if args.cycle_end is not None:
        return main_cycle_end(datasets, months=args.cycle_end, command=command, out=args.out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        result = run(
            datasets,
            n_origins=n,
            peers=not args.no_peers,
            masked_peers=not args.no_masked_peers,
            refit_every=args.refit_every,
            horizon=args.horizon,
            only=None if not args.no_hybrid else [m for m in (*BASELINES, OURS)],
        )
    md, summary = report(result, command=command, datasets=datasets, held_out=args.held_out)
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"forecast_results{suffix}.json").write_text(json.dumps(summary, indent=2))
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(md)
    return 0


def main_cycle_end(datasets: list[Dataset], *, months: int, command: str, out: Path) -> int:
    """Run and report the cycle-end evaluation (``--cycle-end MONTHS``)."""
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        results, fit_s = run_cycle_end(datasets, months=months)
    wall = time.perf_counter() - t0
    md = "\n".join(
        [
            "### Cycle-end energy (issue 4, horizon 3)",
            "",
            f"Command: `{command}` ({_git_state()}), {dt.date.today().isoformat()}; "
            f"whole run {wall:.0f} s, of which our fits {fit_s:.0f} s.",
            "",
            cycle_end_table(results),
            "",
        ]
    )
    print(md)
    out.mkdir(parents=True, exist_ok=True)
    results.to_csv(out / "forecast_cycle_end.csv", index=False)
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.with_name(DOC.stem + "-cycle-end" + DOC.suffix).write_text(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
