"""Use cases: forecast a stored meter's load as of a time, and backtest the forecasts.

Both read the meter's readings strictly before ``as_of`` (each origin of a
backtest), mask what the core's data-quality scan flags there (outages, spikes,
stuck values: :func:`bitgoeul.forecast.quality.find_and_mask`) and say what was
masked, then fit a model from :data:`MODELS` or use a saved one.

The global LightGBM model learns across meters: by default it trains on the
meter and on the other stored meters of the same interval (at most
:data:`MAX_TRAIN_METERS`, the meter itself always included).

A :class:`ModelCache` passed to :func:`forecast_meter` keeps fitted models:
the meters of one organisation share one global model as of a day, so a
service that forecasts each of them fits it once instead of once per meter.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from platformdirs import user_cache_dir

from bitgoeul import __version__
from bitgoeul.errors import BitgoeulError, ForecastError, NotFoundError
from bitgoeul.forecast.backtest import backtest, rolling_origins
from bitgoeul.forecast.base import Forecaster
from bitgoeul.forecast.baselines import PersistenceEnsemble, SeasonalNaive
from bitgoeul.forecast.gbm import LightGBMForecaster
from bitgoeul.forecast.hybrid import HybridForecaster
from bitgoeul.forecast.metrics import score
from bitgoeul.forecast.persist import load_model, save_model
from bitgoeul.forecast.quality import MaskReport, find_and_mask
from bitgoeul.forecast.series import country_of_zone, steps_per_day
from bitgoeul.model import Meter
from bitgoeul.store import MeterStore

__all__ = [
    "MAX_HORIZON_DAYS",
    "MAX_TRAIN_METERS",
    "MODELS",
    "BacktestResult",
    "MeterForecast",
    "ModelCache",
    "backtest_meters",
    "default_model_dir",
    "fit_cached",
    "forecast_meter",
    "load_history",
    "make_model",
    "parse_as_of",
    "parse_horizon",
]

MAX_TRAIN_METERS = 100
"""Most meters a global model trains on when forecasting one meter."""

TRAIN_DAYS = 365
"""Days of history read before ``as_of`` for fitting [d]."""


def _global(cls: type[LightGBMForecaster]) -> Callable[[str, int, int], Forecaster]:
    """Return a factory of a global model class with the service's settings, defaults otherwise."""

    def make(timezone: str, horizon: int, train_days: int) -> Forecaster:
        return cls(
            timezone=timezone,
            holidays_country=country_of_zone(timezone),
            max_horizon=horizon,
            train_days=train_days,
        )

    return make


MODELS: dict[str, Callable[[str, int, int], Forecaster]] = {
    "lightgbm": _global(LightGBMForecaster),
    "lightgbm+mlp": _global(HybridForecaster),  # PyTorch is needed when it is called
    "persistence": lambda tz, horizon, days: PersistenceEnsemble(),
    "seasonal-naive-day": lambda tz, horizon, days: SeasonalNaive(season="day"),
    "seasonal-naive-week": lambda tz, horizon, days: SeasonalNaive(season="week"),
}
"""Models by name; each factory takes the meters' time zone, the longest horizon the
model must serve [intervals] and the days of history it learns from [d]. ``lightgbm+mlp``
needs PyTorch (the ``neural`` extra)."""

GLOBAL_MODELS = frozenset({"lightgbm", "lightgbm+mlp"})
"""Models fitted across the meters of a site or tenant at once (the others: per meter)."""


def make_model(
    name: str, *, timezone: str, horizon: int = 168, train_days: int = 365
) -> Forecaster:
    """Return an unfitted model by name (see :data:`MODELS`).

    ``horizon`` is the longest forecast it must serve [intervals] and
    ``train_days`` the days before ``as_of`` it learns from [d].

    ``'lightgbm'`` is :class:`~bitgoeul.forecast.gbm.LightGBMForecaster` with
    its defaults (mean-targeting P50, band calibrated on the replayed last
    28 days, then refitted), the settings ``benchmarks/bench_forecast.py``
    measures; the benchmark only sets ``max_horizon`` to the horizon it
    scores (24 h day-ahead, 168 h week-ahead, as the service's default) and
    one LightGBM thread (the service uses two), which changes speed only.
    ``'lightgbm+mlp'`` is :class:`~bitgoeul.forecast.hybrid.HybridForecaster`
    with its defaults (the same, with a neural network averaged into P50;
    on a GPU when PyTorch sees one).

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones), or
        ``'lightgbm+mlp'`` where PyTorch is not installed.
    """
    try:
        factory = MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}: choose one of {', '.join(sorted(MODELS))}"
        ) from None
    try:
        return factory(timezone, horizon, train_days)
    except ImportError as exc:  # lightgbm+mlp without PyTorch: a clear refusal, not a traceback
        raise ValueError(str(exc)) from exc


_HORIZON = re.compile(r"^\s*(\d+)\s*([hd])\s*$", re.IGNORECASE)
MAX_HORIZON_DAYS = 31
"""The longest horizon served [d]: one billing cycle (the month-end bill forecast's reach)."""


def parse_horizon(text: str | int, *, interval_s: int) -> int:
    """Return a horizon such as ``'24h'`` or ``'7d'`` as a number of intervals.

    Examples
    --------
    >>> parse_horizon("24h", interval_s=3600), parse_horizon("7d", interval_s=1800)
    (24, 336)

    At most :data:`MAX_HORIZON_DAYS` days; a longer one raises ValueError.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        hours = text
    else:
        match = _HORIZON.match(str(text))
        if match is None:
            raise ValueError(f"horizon must look like '24h' or '7d', got {text!r}")
        hours = int(match.group(1)) * (24 if match.group(2).lower() == "d" else 1)
    if hours <= 0 or (hours * 3600) % interval_s:
        raise ValueError(
            f"horizon {text!r} is not a positive whole number of the meter's "
            f"{interval_s}-second intervals"
        )
    if hours > MAX_HORIZON_DAYS * 24:
        raise ValueError(
            f"horizon {text!r} is longer than {MAX_HORIZON_DAYS}d: a load forecast reaches at "
            "most one billing cycle ahead"
        )
    return hours * 3600 // interval_s


def parse_as_of(text: str | dt.datetime, *, timezone: str) -> pd.Timestamp:
    """Return an as-of time as an aware timestamp; naive input is read in ``timezone``.

    Examples
    --------
    >>> parse_as_of("2022-03-01T00:00", timezone="Asia/Seoul").isoformat()
    '2022-03-01T00:00:00+09:00'
    """
    try:
        stamp = pd.Timestamp(text)
    except ValueError as exc:
        raise ValueError(
            f"as_of must be an ISO 8601 time like 2022-03-01T00:00, not {text!r}"
        ) from exc
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(ZoneInfo(timezone), ambiguous="raise", nonexistent="raise")
    return stamp


def load_history(
    store: MeterStore,
    meter_ids: Sequence[str],
    *,
    before: pd.Timestamp,
    days: int = TRAIN_DAYS,
) -> pd.DataFrame:
    """Return the meters' readings in ``[before - days, before)`` in the forecast long format.

    Returns
    -------
    pandas.DataFrame
        ``meter_id``, ``ts`` (UTC), ``energy_kwh`` [kWh], ordered by meter and time.
    """
    start = (before - pd.Timedelta(days=days)).to_pydatetime()
    frames = []
    for meter_id in meter_ids:
        table = store.read_readings(meter_id, start, before.to_pydatetime())
        frame = table.to_pandas()
        frame.insert(0, "meter_id", meter_id)
        frames.append(frame)
    if not frames:
        return pd.DataFrame({"meter_id": [], "ts": [], "energy_kwh": []})
    history: pd.DataFrame = pd.concat(frames, ignore_index=True)
    history["ts"] = pd.to_datetime(history["ts"], utc=True)
    return history


def _train_meters(store: MeterStore, meter: Meter) -> list[str]:
    """Return the meter and others of its organisation with the same interval.

    A tenant's model never learns from another tenant's readings.
    """
    summaries = store.list_meters()
    org = next(s.org_id for s in summaries if s.meter.meter_id == meter.meter_id)
    same = sorted(
        s.meter.meter_id
        for s in summaries
        if s.org_id == org
        and s.meter.interval_s == meter.interval_s
        and s.meter.meter_id != meter.meter_id
    )
    return [meter.meter_id, *same[: MAX_TRAIN_METERS - 1]]


class ModelCache:
    """Fitted models by everything their fit read; the least recently used goes first.

    A fit is deterministic (fixed seeds and threads), so a model fitted as of
    the same instant, with the same settings, on exactly the same readings is
    the same model, and the cache hands it back instead of fitting again.
    The key includes a SHA-256 of the readings the fit read (meters, times,
    values, temperatures): a late or corrected reading before ``as_of``
    makes a new key, while readings at or after ``as_of``, which a fit never
    reads, do not. Thread-safe: concurrent requests for one key fit once.

    With a ``directory``, fitted models are also written there as model files
    (:func:`~bitgoeul.forecast.persist.save_model`, one per key, named by the
    key's SHA-256), so another process (the next CLI call, another API
    worker) loads the model instead of fitting it. A loaded model forecasts
    exactly what the fitted one did. A file that cannot be loaded (damaged,
    or written by an incompatible version) is fitted again and replaced; a
    directory that cannot be written to only costs the saving.

    Parameters
    ----------
    size : int, default 8
        Models kept in memory [count]. A model is its boosters: about 2.7 MB as
        text for the defaults (three CNU buildings, 168 leads, 181k training rows).
    directory : str or os.PathLike, optional
        Folder of model files shared between processes (created when needed).
    files : int, default 32
        Model files kept in ``directory`` [count]; the least recently used go first.
    max_bytes : int, default 512 MiB
        Total size of the model files kept in ``directory`` [bytes]; the least
        recently used go first, but the model just written always stays.
    """

    def __init__(
        self,
        size: int = 8,
        *,
        directory: str | os.PathLike[str] | None = None,
        files: int = 32,
        max_bytes: int = 512 * 2**20,
    ) -> None:
        for name, value in (("size", size), ("files", files), ("max_bytes", max_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        self.size = size
        self.directory = None if directory is None else Path(directory)
        self.files = files
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self.loaded = 0
        self.rejected = 0
        self._models: OrderedDict[tuple[Any, ...], Forecaster] = OrderedDict()
        self._lock = threading.Lock()
        self._fitting: dict[tuple[Any, ...], threading.Lock] = {}

    def __len__(self) -> int:
        return len(self._models)

    def path_for(self, key: tuple[Any, ...]) -> Path | None:
        """Return the model file of ``key`` in :attr:`directory` (None without one)."""
        if self.directory is None:
            return None
        name = hashlib.sha256(repr((__version__, *key)).encode()).hexdigest()
        return self.directory / f"{name}.zip"

    def get_or_fit(self, key: tuple[Any, ...], fit: Callable[[], Forecaster]) -> Forecaster:
        """Return the model stored under ``key``, or ``fit()`` it, store it and return it.

        ``key`` holds str, int and float values only: its ``repr`` names the file.
        """
        with self._lock:
            gate = self._fitting.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._models:
                    self._models.move_to_end(key)
                    self.hits += 1
                    return self._models[key]
            try:
                model = self._load(key)
                if model is None:
                    with self._lock:
                        self.misses += 1
                    model = fit()
                    self._save(key, model)
            except BaseException:
                with self._lock:
                    self._fitting.pop(key, None)
                raise
            with self._lock:  # stored before the gate goes: a later caller finds the model
                self._models[key] = model
                while len(self._models) > self.size:
                    self._models.popitem(last=False)
                self._fitting.pop(key, None)
            return model

    def _load(self, key: tuple[Any, ...]) -> Forecaster | None:
        """Return the model file of ``key``, or None where there is none that loads."""
        path = self.path_for(key)
        if path is None:
            return None
        try:
            model = load_model(path)
            os.utime(path)  # most recently used: pruned last
        except FileNotFoundError:
            return None
        except (BitgoeulError, OSError, ValueError):
            with self._lock:
                self.rejected += 1
            return None
        with self._lock:
            self.loaded += 1
        return model

    def _save(self, key: tuple[Any, ...], model: Forecaster) -> None:
        path = self.path_for(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_model(model, path)
        except (OSError, TypeError):  # unwritable folder, or a model class with no file format
            return
        self._prune(keep=path)

    def _prune(self, *, keep: Path) -> None:
        """Delete the least recently used files beyond ``files`` or ``max_bytes``."""
        found = []
        for file in keep.parent.glob("*.zip"):
            try:
                stat = file.stat()
            except OSError:  # another process pruned it first
                continue
            found.append((file != keep, -stat.st_mtime, stat.st_size, file))
        total = 0
        for rank, (_, _, size, file) in enumerate(sorted(found)):
            total += size
            if rank > 0 and (rank >= self.files or total > self.max_bytes):
                with contextlib.suppress(OSError):  # in use elsewhere: pruned next time
                    file.unlink(missing_ok=True)


def default_model_dir() -> Path:
    """Return ``$BITGOEUL_MODEL_DIR`` or ``<user cache dir>/bitgoeul/models``.

    Where ``bitgoeul forecast`` and ``bitgoeul bill show --model`` keep fitted
    models between calls (:class:`ModelCache`).
    """
    env = os.environ.get("BITGOEUL_MODEL_DIR")
    if env:
        return Path(env)
    return Path(user_cache_dir("bitgoeul", appauthor=False)) / "models"


def fit_cached(
    cache: ModelCache | None,
    model: Forecaster,
    masked: pd.DataFrame,
    *,
    history: pd.DataFrame,
    as_of: pd.Timestamp,
    context: tuple[str | int, ...] = (),
) -> Forecaster:
    """Fit ``model`` on ``masked`` as of ``as_of``, or take that fit from ``cache``.

    The key is ``context`` (what the masking and the reading window depend
    on: zone, interval, days read), the model's class and settings,
    ``as_of`` and a SHA-256 of ``history``, the raw readings ``masked`` came
    from. Without a cache the model is simply fitted.
    """
    if cache is None:
        return model.fit(masked, as_of=as_of)
    key = (*context, _model_settings(model), as_of.value, _readings_digest(history))
    return cache.get_or_fit(key, lambda: model.fit(masked, as_of=as_of))


def _model_settings(model: Forecaster) -> str:
    """Return a model's class and settings as text, for a :class:`ModelCache` key.

    A default changed between versions then makes a new key, not a stale model.
    """
    params = getattr(model, "get_params", None)
    settings = sorted(params().items()) if callable(params) else []
    return f"{type(model).__name__}{settings!r}"


def _readings_digest(history: pd.DataFrame) -> str:
    """SHA-256 of a history's rows in order (every column, names included)."""
    digest = hashlib.sha256("\x1f".join(map(str, history.columns)).encode())
    digest.update(pd.util.hash_pandas_object(history, index=False).to_numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class MeterForecast:
    """A meter's forecast as of a time.

    Attributes
    ----------
    meter_id : str
        Meter.
    as_of : pandas.Timestamp
        Nothing at or after this time was read.
    model : str
        Model name.
    forecast : pandas.DataFrame
        ``ts`` (meter's zone, interval start), ``p10_kwh``, ``p50_kwh``, ``p90_kwh`` [kWh].
    masked : dict of str to int
        Intervals masked before fitting, by data-quality code.
    train_meters : tuple of str
        Meters the model was fitted on (empty for a loaded model).
    """

    meter_id: str
    as_of: pd.Timestamp
    model: str
    forecast: pd.DataFrame
    masked: dict[str, int] = field(default_factory=dict)
    train_meters: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape of ``bitgoeul forecast --json``."""
        rows = [
            {
                "ts": ts.isoformat(),
                **{c: round(float(row[c]), 6) for c in self.forecast.columns if c.endswith("_kwh")},
            }
            for ts, (_, row) in zip(self.forecast["ts"], self.forecast.iterrows(), strict=True)
        ]
        return {
            "meter_id": self.meter_id,
            "as_of": self.as_of.isoformat(),
            "model": self.model,
            "forecast": rows,
            "masked": self.masked,
            "train_meters": list(self.train_meters),
        }


def _interval(meter: Meter) -> int:
    if not meter.interval_s:
        raise ForecastError(
            f"meter {meter.meter_id!r} has no known interval: ingest at least two readings"
        )
    return meter.interval_s


def forecast_meter(
    store: MeterStore,
    meter_id: str,
    *,
    as_of: str | dt.datetime,
    horizon: str | int = "24h",
    model: str = "lightgbm",
    model_file: str | Path | None = None,
    save_to: str | Path | None = None,
    train_days: int = TRAIN_DAYS,
    cache: ModelCache | None = None,
) -> MeterForecast:
    """Forecast a stored meter from its readings strictly before ``as_of``.

    Parameters
    ----------
    store : MeterStore
        Where the readings are.
    meter_id : str
        Meter to forecast.
    as_of : str or datetime
        Forecast origin; naive times are in the meter's zone. Day-ahead
        forecasts are issued at local midnight.
    horizon : str or int
        ``'24h'``, ``'7d'``, or hours.
    model : str
        A name from :data:`MODELS`; ignored with ``model_file``.
    model_file : path, optional
        A model saved by :func:`bitgoeul.forecast.persist.save_model`: used as
        is, without refitting.
    save_to : path, optional
        Save the fitted model there.
    train_days : int
        Days of history read for fitting [d].
    cache : ModelCache, optional
        Reuse a model fitted on the same readings as of the same time (the
        organisation's global model serves each of its meters); not used
        with ``model_file`` or ``save_to``.

    Returns
    -------
    MeterForecast
    """
    meter = store.get_meter(meter_id)
    interval_s = _interval(meter)
    origin = parse_as_of(as_of, timezone=meter.timezone)
    steps = parse_horizon(horizon, interval_s=interval_s)
    if model_file is not None:
        fitted = load_model(model_file)
        meters = [meter_id]
        name = getattr(fitted, "name", "loaded")
    else:
        fitted = make_model(model, timezone=meter.timezone, horizon=steps, train_days=train_days)
        meters = _train_meters(store, meter) if model in GLOBAL_MODELS else [meter_id]
        name = model
    # in meter order, so that every meter of a fleet hands the same readings to the fit
    history = load_history(store, sorted(meters), before=origin, days=train_days)
    own_count = int(history.loc[history["meter_id"] == meter_id, "energy_kwh"].notna().sum())
    if own_count == 0:
        raise NotFoundError(_nothing_to_forecast_from(store, meter, origin, train_days))
    per_day = steps_per_day(interval_s)
    if own_count < per_day:
        raise ForecastError(
            f"meter {meter_id!r} has {own_count} reading(s) before {origin.isoformat()}; "
            f"a forecast needs at least one day of history ({per_day} readings)"
        )
    masked, report = find_and_mask(
        history, interval_s=interval_s, timezone=meter.timezone, as_of=origin
    )
    if model_file is None:
        fitted = fit_cached(
            cache if save_to is None else None,
            fitted,
            masked,
            history=history,
            as_of=origin,
            context=(name, meter.timezone, interval_s, steps, train_days),
        )
        if save_to is not None:
            save_model(fitted, save_to)
    own = masked[masked["meter_id"] == meter_id]
    result = fitted.predict(own, as_of=origin, horizon=steps)
    result = result[result["meter_id"] == meter_id].drop(columns="meter_id")
    values = [c for c in result.columns if c != "ts"]
    if result.empty or result[values].isna().all(axis=None):
        raise ForecastError(_nothing_recent(store, meter, origin, name))
    result["ts"] = pd.to_datetime(result["ts"], utc=True).dt.tz_convert(meter.timezone)
    return MeterForecast(
        meter_id=meter_id,
        as_of=origin.tz_convert(meter.timezone),
        model=name,
        forecast=result.reset_index(drop=True),
        masked=_masked_counts(report, meter_id),
        train_meters=tuple(meters) if model_file is None else (),
    )


def _masked_counts(report: MaskReport, meter_id: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in report.counts.get(meter_id, {}).items()}


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Rolling-origin backtest of one model on stored meters.

    Attributes
    ----------
    model : str
        Model name.
    origins : list of pandas.Timestamp
        Forecast origins (local midnights).
    scores : pandas.DataFrame
        One row per meter and a pooled row: NRMSE, MASE, SMAPE, CV(RMSE),
        NMBE, pinball loss, P10-P90 coverage.
    forecasts : pandas.DataFrame
        Every forecast with its actual.
    """

    model: str
    origins: list[pd.Timestamp]
    scores: pd.DataFrame
    forecasts: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (scores only, not every forecast)."""
        rows = self.scores.reset_index().to_dict(orient="records")
        return {
            "model": self.model,
            "origins": [o.isoformat() for o in self.origins],
            "scores": [
                {str(k): (v if isinstance(v, str) else _num(v)) for k, v in r.items()} for r in rows
            ],
        }


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None


def backtest_meters(
    store: MeterStore,
    meter_ids: Sequence[str],
    *,
    model: str = "lightgbm",
    origins: int = 30,
    horizon: str | int = "24h",
    end: str | dt.datetime | None = None,
    train_days: int = TRAIN_DAYS,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Backtest a model over rolling origins on stored meters of one interval.

    Each origin is a local midnight; the model is refitted at each origin on
    data before it, masked by the data-quality scan as of that origin.
    ``progress(done, total)`` is called before the first origin and after each one.
    """
    if not meter_ids:
        raise ValueError("name at least one meter to backtest")
    meters = [store.get_meter(m) for m in meter_ids]
    intervals = {_interval(m) for m in meters}
    zones = {m.timezone for m in meters}
    if len(intervals) != 1 or len(zones) != 1:
        raise ForecastError(
            "backtest meters of one interval and one time zone at a time; got "
            f"intervals {sorted(intervals)} and zones {sorted(zones)}"
        )
    interval_s, zone = intervals.pop(), zones.pop()
    steps = parse_horizon(horizon, interval_s=interval_s)
    limit = parse_as_of(end, timezone=zone) if end is not None else None
    far = pd.Timestamp(limit) if limit is not None else pd.Timestamp("2200-01-01", tz="UTC")
    history = load_history(store, list(meter_ids), before=far, days=365 * 200)
    points = rolling_origins(history, n=origins, horizon=steps, timezone=zone, end=limit)
    if not points:
        raise ForecastError("not enough data for one backtest origin with actuals after it")

    def fresh() -> Forecaster:
        inner = make_model(model, timezone=zone, horizon=steps, train_days=train_days)
        return _Masking(inner, interval_s=interval_s, timezone=zone)

    reads = history
    if train_days:
        reads = history[history["ts"] >= points[0] - pd.Timedelta(days=train_days)]
    forecasts = backtest(fresh, reads, points, horizon=steps, progress=progress)
    scores = score(forecasts, history=history)
    return BacktestResult(model=model, origins=points, scores=scores, forecasts=forecasts)


class _Masking:
    """A model that masks flagged intervals as of each fit and prediction."""

    def __init__(self, inner: Forecaster, *, interval_s: int, timezone: str) -> None:
        self.inner = inner
        self.name = inner.name
        self._interval_s = interval_s
        self._timezone = timezone

    def _masked(self, history: pd.DataFrame, as_of: Any) -> pd.DataFrame:
        masked, _ = find_and_mask(
            history, interval_s=self._interval_s, timezone=self._timezone, as_of=as_of
        )
        return masked

    def fit(self, history: pd.DataFrame, *, as_of: Any) -> _Masking:
        self.inner.fit(self._masked(history, as_of), as_of=as_of)
        return self

    def predict(
        self,
        history: pd.DataFrame,
        *,
        as_of: Any,
        horizon: int,
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    ) -> pd.DataFrame:
        return self.inner.predict(
            self._masked(history, as_of), as_of=as_of, horizon=horizon, quantiles=quantiles
        )


def _reading_span(store: MeterStore, meter: Meter) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last reading of a meter, in its zone; None without readings."""
    summaries = store.list_meters([meter.meter_id])
    if not summaries or summaries[0].first_ts is None or summaries[0].last_ts is None:
        return None
    return (
        pd.Timestamp(summaries[0].first_ts).tz_convert(meter.timezone),
        pd.Timestamp(summaries[0].last_ts).tz_convert(meter.timezone),
    )


def _nothing_to_forecast_from(
    store: MeterStore, meter: Meter, origin: pd.Timestamp, train_days: int
) -> str:
    """Why a meter has no reading in the window a forecast as of ``origin`` reads."""
    stamp = origin.tz_convert(meter.timezone).isoformat()
    span = _reading_span(store, meter)
    if span is None:
        return f"meter {meter.meter_id!r} has no readings to forecast from"
    first, last = span
    if origin <= first:
        return (
            f"meter {meter.meter_id!r} has no readings before {stamp}: its readings start at "
            f"{first.isoformat()}; forecast as of a time after that"
        )
    window = f"meter {meter.meter_id!r} has no readings in the {train_days} days before {stamp}"
    if origin <= last:
        return (
            f"{window}, a gap in its readings (they run from {first.isoformat()} to "
            f"{last.isoformat()}); forecast as of a time just after readings"
        )
    return (
        f"{window}: its readings run from {first.isoformat()} to {last.isoformat()}; forecast "
        f"as of a time within {train_days} days after the last one"
    )


def _nothing_recent(store: MeterStore, meter: Meter, origin: pd.Timestamp, model: str) -> str:
    """Why a fitted model gave a meter no forecast: its readings stop long before ``origin``."""
    stamp = origin.tz_convert(meter.timezone).isoformat()
    span = _reading_span(store, meter)
    ended = "" if span is None else f"; its readings end at {span[1].isoformat()}"
    return (
        f"the {model} model has too few measured readings of meter {meter.meter_id!r} in the "
        f"weeks before {stamp} to forecast from{ended}: forecast as of a time closer to them"
    )
