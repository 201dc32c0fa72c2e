"""A global, direct multi-horizon LightGBM forecaster of interval energy quantiles.

One model serves every meter of the history it was fitted on (and any other
meter, see *Meter identity*), for every lead ``1 .. max_horizon`` at once,
without feeding its own forecasts back:

Training set
    Origins at the local time of day of ``as_of`` on each of the
    ``train_days`` days before it, every meter, every lead whose target is
    measured and before ``as_of``; at most ``max_train_rows`` rows, drawn
    at random (seeded) when there are more. The features of a row read only
    data before its origin (:mod:`bitgoeul.forecast.features`), and the
    target and the energy features are divided by the origin's level
    (recent mean), so one model fits a 100 kWh/h building and a 0.5 kWh/h
    household.
Suspect readings
    Before anything is read, each meter's zero runs, spikes, stuck values,
    negative readings and clock jumps (``mask_codes``) are set to NaN
    (:func:`bitgoeul.forecast.quality.find_and_mask`, on the data before
    ``as_of`` only): they are neither targets nor inputs. A model trained on
    an outage's zeros or on a catch-up spike learns to forecast them.
Meter identity
    With ``meter_feature=True`` (the default) each row also carries its
    meter as a LightGBM categorical feature (``meter``, codes in
    ``meter_codes_``), so the shared trees can learn what sets one meter
    apart (how its load answers a holiday, a cold spell or a weekend) while
    the meters still pool what they have in common. A meter the model was not
    fitted on gets a missing code and follows the trees' branches for
    categories they did not single out: it is forecast from its own recent
    readings and the calendar, like every meter with ``meter_feature=False``.
Boosting from the simple baselines
    Each booster starts from a baseline forecast of its row rather than
    from a constant (LightGBM's ``init_score``): by default the persistence
    ensemble (``same_hour_mean7``, the mean of the same time on the last 7
    days, BuildingsBench's baseline), in the scaled unit of the target; with
    several ``base`` features, their mean. The trees then learn the
    corrections to it (a weekend, a holiday, a cold spell, a trend) instead
    of rebuilding the daily shape from lags split by split. Where the base
    is not measured it falls back to the 28-day same-time mean, then to the
    28-day mean, then to 1 (the level). ``base=None`` starts from the mean
    target, as before.
Zero regime
    When every reading of the ``zero_regime_days`` before the origin is
    exactly zero (a building switched off, a disconnected meter: the
    masked outage has become the normal), the forecast is zero at every
    level, as :class:`~bitgoeul.analytics.cycle_forecast.ProfileLevelForecaster`
    treats a long low run as the new level.
Quantiles and the point forecast
    One booster per level: LightGBM's quantile (pinball) objective for
    P10 and P90, and by default squared error (``point_objective='l2'``)
    for the middle column, which is then the conditional mean: NRMSE and
    CV(RMSE) are squared-error metrics, and for right-skewed household
    load the median forecast ran 23-47 % below the mean (NMBE) in the
    backtests of ``docs/benchmarks.md``. With ``point_models`` > 1 the
    middle column is the mean of that many boosters that differ only in
    their seed (row bagging and feature draws): a seed ensemble, which
    lowers the variance of the point forecast. Levels are sorted in each
    row (no crossing), multiplied back by the level and clipped at 0.
Band calibration
    The quantile boosters alone covered the P10-P90 range only about 70 %
    of the time. So the boosters are first fitted on the origins before the
    last ``calibration_days`` and replayed on those days (data the fit did
    not see). With ``calibration='width'`` (the default) P10 and P90 are
    moved apart, or together, by one amount per meter and lead day: the
    amount that makes the band hold its nominal share of the replayed
    actuals, 80 % for P10-P90 (conformalized quantile regression). The
    boosters are then refitted on every origin (``calibration_refit``),
    and the corrections are added to their forecasts. The earlier
    ``'band'`` shifted each level by its own residual quantile; when the
    replayed four weeks ran above or below the forecasts (a cold spell, a
    vacation week), that moved the whole band with them instead of
    widening it, and a week ahead the band held only 68-73 % of the
    actuals on two sets of tuning origins of the Korean series (about
    80 % with 'width'; ``docs/benchmarks.md``).
Determinism
    Fixed seed, ``deterministic=True``, ``force_col_wise=True`` and a fixed
    ``num_threads``: the same data give the same model on the same machine.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any, Literal, Self

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd

from bitgoeul.errors import NotFittedError
from bitgoeul.forecast.base import (
    DEFAULT_QUANTILES,
    check_as_of,
    check_history,
    check_horizon,
    check_not_before_fit,
    check_quantiles,
    empty_forecast,
    quantile_column,
)
from bitgoeul.forecast.features import (
    BASE_FEATURES,
    CONTEXT_D,
    FEATURE_NAMES,
    LEVEL_WINDOW_D,
    RowFeatures,
    build_features,
    recent_level,
    zero_regime,
)
from bitgoeul.forecast.quality import DEFAULT_MASK_CODES, _check_codes, find_and_mask
from bitgoeul.forecast.series import (
    MeterGrid,
    grid_calendar,
    holiday_dates,
    infer_history_interval_s,
    steps_per_day,
    to_grids,
)
from bitgoeul.model import check_timezone

__all__ = ["DEFAULT_BASE", "LightGBMForecaster", "base_score", "feature_columns"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_DAY_S = 86_400
_NS_PER_S = 1_000_000_000
_LEVEL_LOOKBACK_D = 56  # extra days a forecast reads so the level can reach over a long gap

DEFAULT_BASE: tuple[str, ...] = ("same_hour_mean7",)
"""Features whose mean every booster starts from (module notes)."""

_BASE_FALLBACK: tuple[str, ...] = ("same_hour_mean28", "mean_28d")


def base_score(x: FloatArray, base: Sequence[str]) -> FloatArray:
    """Scaled baseline forecast of each row of ``x`` (columns ``FEATURE_NAMES`` first).

    The mean of the measured ``base`` features of a row; where none is
    measured, the first measured of ``same_hour_mean28`` and ``mean_28d``,
    else 1 (the row's level). Zeros for an empty ``base``.

    Examples
    --------
    >>> x = np.full((2, len(FEATURE_NAMES)), np.nan)
    >>> x[0, FEATURE_NAMES.index("same_hour_mean7")] = 1.2
    >>> x[0, FEATURE_NAMES.index("week_profile4")] = 0.8
    >>> base_score(x, ("same_hour_mean7", "week_profile4")).tolist()
    [1.0, 1.0]
    """
    if not base:
        return np.zeros(x.shape[0])
    columns = x[:, [FEATURE_NAMES.index(name) for name in base]]
    measured = ~np.isnan(columns)
    count = measured.sum(axis=1)
    total = np.where(measured, columns, 0.0).sum(axis=1)
    out = np.divide(total, count, out=np.full(x.shape[0], np.nan), where=count > 0)
    for name in _BASE_FALLBACK:
        out = np.where(np.isnan(out), x[:, FEATURE_NAMES.index(name)], out)
    return np.where(np.isnan(out), 1.0, out)


class _TrainingRows:
    """Training rows of all meters: features, scaled target, meter index, lead and times."""

    __slots__ = ("lead", "meter", "origin_ns", "target_ns", "x", "y")

    def __init__(
        self,
        *,
        x: FloatArray,
        y: FloatArray,
        meter: IntArray,
        lead: IntArray,
        origin_ns: IntArray,
        target_ns: IntArray,
    ) -> None:
        self.x = x
        self.y = y
        self.meter = meter
        self.lead = lead
        self.origin_ns = origin_ns
        self.target_ns = target_ns

    @classmethod
    def concat(cls, parts: list[_TrainingRows]) -> _TrainingRows:
        return cls(
            x=np.concatenate([p.x for p in parts]),
            y=np.concatenate([p.y for p in parts]),
            meter=np.concatenate([p.meter for p in parts]),
            lead=np.concatenate([p.lead for p in parts]),
            origin_ns=np.concatenate([p.origin_ns for p in parts]),
            target_ns=np.concatenate([p.target_ns for p in parts]),
        )


class _Members:
    """What one training pass fitted: each level's boosters, their starts, a subclass's extra."""

    __slots__ = ("boosters", "extra", "offsets")

    def __init__(
        self,
        boosters: dict[float, list[lgb.Booster]],
        offsets: dict[float, float],
        extra: Any = None,
    ) -> None:
        self.boosters = boosters
        self.offsets = offsets
        self.extra = extra


class LightGBMForecaster:
    """Global direct multi-horizon gradient-boosted quantile forecaster.

    Parameters
    ----------
    quantiles : sequence of float, default (0.1, 0.5, 0.9)
        Levels to learn (one booster each); ``predict`` may ask for any of them.
    max_horizon : int, default 168
        Longest lead learnt [intervals]; ``predict`` refuses more.
    holidays_country : str or None, default 'KR'
        Code of the public holidays (for Korea: Seollal and Chuseok,
        substitute and election days): ISO 3166-1 alpha-2, or ISO 3166-2 for
        a region's own days too (``'AU-NSW'``); None for none.
    timezone : str, default 'Asia/Seoul'
        IANA zone of the meters: local hours, weekdays and days.
    train_days : int, default 365
        Days of origins before ``as_of`` to learn from [d].
    interval_s : int, optional
        Interval of the readings [s]; inferred (most common step) when None.
    mask_codes : sequence of str or None, default DEFAULT_MASK_CODES
        Data-issue codes masked before fitting and predicting; None or
        ``()`` reads the history as given (mask it yourself with
        :func:`bitgoeul.forecast.quality.find_and_mask`).
    zero_regime_days : float or None, default 7
        Forecast zero after this many days of exact zeros [d]; None never.
    n_estimators : int, default 300
        Boosting rounds per level.
    learning_rate : float, default 0.05
        Shrinkage [-].
    num_leaves : int, default 31
        Leaves per tree.
    min_child_samples : int, default 50
        Fewest rows in a leaf.
    feature_fraction, bagging_fraction : float, default 0.9, 0.8
        Shares of features and rows drawn per tree.
    max_train_rows : int, default 200000
        Cap on training rows (a seeded random draw when more).
    calibration : {'band', 'width', 'all', 'none'}, default 'width'
        Conformal-style correction from replayed past origins: the boosters
        are first fitted on the origins before the last ``calibration_days``
        and forecast those days; each level is then shifted by the
        ``q``-quantile of its scaled residuals, per meter and lead day
        (pooled over meters where a meter has fewer than
        ``min_calibration`` rows), so that the level is exceeded as often
        as nominal on the replayed days. 'band' shifts every level but 0.5,
        'all' every level, 'none' none. 'width' moves the two levels of a
        symmetric pair (P10 and P90) apart or together by one amount, so
        that the band holds its nominal share of the replayed days
        (conformalized quantile regression, Romano, Patterson and Candès,
        NeurIPS 2019): a bias of the replayed weeks widens the band instead
        of moving it; a level without a partner is shifted as with 'band'.
    calibration_days : int, default 28
        Days of origins replayed for the calibration [d].
    calibration_refit : bool, default True
        Refit the boosters on every origin, the replayed days included,
        after measuring the corrections (twice the fitting time; the
        forecast then uses the newest data). False keeps the boosters that
        were calibrated.
    min_calibration : int, default 100
        Fewest residuals a correction rests on.
    point_objective : {'quantile', 'l2'}, default 'l2'
        Objective of the 0.5 level's booster. 'quantile' learns the
        median; 'l2' (squared error) learns the conditional mean, which
        squared-error metrics (NRMSE, CV(RMSE)) reward (module notes).
        With 'l2' the ``p50_kwh`` column is a mean, not a median.
    point_models : int, default 1
        Boosters averaged for the 0.5 level, fitted with the seeds
        ``seed``, ``seed + 1``, ... (a seed ensemble: each draws other
        bagging rows and features). Each extra booster adds about a third
        of the fitting time of the three default levels; 3 gained 0.3 % in
        NRMSE on the tuning origins of ``docs/benchmarks.md``, not worth it.
    meter_feature : bool, default True
        Give the trees each row's meter as a categorical feature (module
        notes, *Meter identity*).
    base : sequence of str or None, default DEFAULT_BASE
        Features (of ``BASE_FEATURES``) whose mean every booster starts
        from: ``('same_hour_mean7',)``, the persistence ensemble (module
        notes, *Boosting from the simple baselines*). None or ``()`` starts
        from the mean target (LightGBM's own start).
    seed : int, default 0
        Seed of the row draw and of LightGBM.
    num_threads : int, default 2
        LightGBM threads (results are reproducible for a fixed value).

    Attributes
    ----------
    boosters_ : dict of float to list of lightgbm.Booster
        The boosters of each level, averaged (after ``fit``): one per
        level, ``point_models`` for 0.5.
    base_offsets_ : dict of float to float
        Where each level's boosters start above the base [scaled]: the mean
        (squared error) or the level's quantile (pinball loss) of the
        training targets minus the base, as LightGBM starts from the mean or
        quantile of the targets without one; 0 without ``base``.
    interval_s_ : int
        Interval the model was fitted for [s].
    as_of_ : pandas.Timestamp
        Instant the model was fitted as of (UTC).
    train_start_, train_end_ : pandas.Timestamp
        First and last interval start used as a target (UTC).
    meters_ : dict of str to float
        Meters fitted on and their level at ``as_of`` [kWh per interval].
    meter_codes_ : dict of str to int
        Code of each fitted meter in the ``meter`` feature (empty with
        ``meter_feature=False``).
    feature_names : tuple of str
        Columns of the boosters' input: ``FEATURE_NAMES``, then ``meter``
        with ``meter_feature=True`` (known before fitting).
    n_train_rows_ : int
        Rows the boosters were trained on.
    mask_report_ : MaskReport or None
        What was masked in the fit's history.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> ts = pd.date_range("2025-01-01", periods=24 * 60, freq="h", tz="Asia/Seoul")
    >>> rng = np.random.default_rng(0)
    >>> y = 1 + np.sin(np.arange(ts.size) * 2 * np.pi / 24) ** 2 + rng.normal(0, 0.05, ts.size)
    >>> h = pd.DataFrame({"meter_id": "m1", "ts": ts, "energy_kwh": y})
    >>> as_of = pd.Timestamp("2025-02-25", tz="Asia/Seoul")
    >>> model = LightGBMForecaster(max_horizon=24, train_days=28, n_estimators=30)
    >>> f = model.fit(h, as_of=as_of).predict(h, as_of=as_of, horizon=24)
    >>> f.shape, bool((f["p10_kwh"] <= f["p50_kwh"]).all() and (f["p50_kwh"] <= f["p90_kwh"]).all())
    ((24, 5), True)
    """

    def __init__(
        self,
        *,
        quantiles: Sequence[float] = DEFAULT_QUANTILES,
        max_horizon: int = 168,
        holidays_country: str | None = "KR",
        timezone: str = "Asia/Seoul",
        train_days: int = 365,
        interval_s: int | None = None,
        mask_codes: Sequence[str] | None = DEFAULT_MASK_CODES,
        zero_regime_days: float | None = 7,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        feature_fraction: float = 0.9,
        bagging_fraction: float = 0.8,
        max_train_rows: int = 200_000,
        calibration: Literal["band", "width", "all", "none"] = "width",
        calibration_days: int = 28,
        calibration_refit: bool = True,
        min_calibration: int = 100,
        point_objective: Literal["quantile", "l2"] = "l2",
        point_models: int = 1,
        meter_feature: bool = True,
        base: Sequence[str] | None = DEFAULT_BASE,
        seed: int = 0,
        num_threads: int = 2,
    ) -> None:
        self.quantiles = check_quantiles(quantiles)
        self.max_horizon = check_horizon(max_horizon)
        if holidays_country is not None:
            holiday_dates(holidays_country, range(2020, 2021))
        self.holidays_country = holidays_country
        self.timezone = check_timezone(timezone)
        self.train_days = _positive_int(train_days, "train_days")
        if interval_s is not None:
            steps_per_day(interval_s)
        self.interval_s = interval_s
        self.mask_codes: tuple[str, ...] = _check_codes(mask_codes or ())
        if zero_regime_days is not None and not zero_regime_days > 0:
            raise ValueError(f"zero_regime_days must be > 0 or None, got {zero_regime_days!r}")
        self.zero_regime_days = zero_regime_days
        self.n_estimators = _positive_int(n_estimators, "n_estimators")
        if not 0 < learning_rate <= 1:
            raise ValueError(f"learning_rate must be in (0, 1], got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self.num_leaves = _positive_int(num_leaves, "num_leaves")
        self.min_child_samples = _positive_int(min_child_samples, "min_child_samples")
        for name, value in (
            ("feature_fraction", feature_fraction),
            ("bagging_fraction", bagging_fraction),
        ):
            if not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {value!r}")
        self.feature_fraction = float(feature_fraction)
        self.bagging_fraction = float(bagging_fraction)
        self.max_train_rows = _positive_int(max_train_rows, "max_train_rows")
        if calibration not in ("band", "width", "all", "none"):
            raise ValueError(
                f"calibration must be 'band', 'width', 'all' or 'none', got {calibration!r}"
            )
        self.calibration: Literal["band", "width", "all", "none"] = calibration
        self.calibration_days = _positive_int(calibration_days, "calibration_days")
        self.calibration_refit = bool(calibration_refit)
        self.min_calibration = _positive_int(min_calibration, "min_calibration")
        if point_objective not in ("quantile", "l2"):
            raise ValueError(f"point_objective must be 'quantile' or 'l2', got {point_objective!r}")
        self.point_objective: Literal["quantile", "l2"] = point_objective
        self.point_models = _positive_int(point_models, "point_models")
        if not isinstance(meter_feature, bool):
            raise ValueError(f"meter_feature must be True or False, got {meter_feature!r}")
        self.meter_feature = meter_feature
        self.base = _check_base(base)
        self.seed = int(seed)
        self.num_threads = _positive_int(num_threads, "num_threads")
        self.name = "lightgbm"

    # -- parameters -------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """Return the constructor's keyword arguments (JSON-ready).

        Examples
        --------
        >>> LightGBMForecaster(max_horizon=24).get_params()["max_horizon"]
        24
        """
        return {
            "quantiles": list(self.quantiles),
            "max_horizon": self.max_horizon,
            "holidays_country": self.holidays_country,
            "timezone": self.timezone,
            "train_days": self.train_days,
            "interval_s": self.interval_s,
            "mask_codes": list(self.mask_codes),
            "zero_regime_days": self.zero_regime_days,
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "max_train_rows": self.max_train_rows,
            "calibration": self.calibration,
            "calibration_days": self.calibration_days,
            "calibration_refit": self.calibration_refit,
            "min_calibration": self.min_calibration,
            "point_objective": self.point_objective,
            "point_models": self.point_models,
            "meter_feature": self.meter_feature,
            "base": list(self.base),
            "seed": self.seed,
            "num_threads": self.num_threads,
        }

    def lightgbm_params(self, level: float, *, member: int = 0) -> dict[str, Any]:
        """Return the LightGBM training parameters of the booster for ``level``.

        ``member`` numbers the boosters of a seed ensemble (``point_models``):
        member ``k`` is seeded with ``seed + k``.
        """
        if level == 0.5 and self.point_objective == "l2":
            objective: dict[str, Any] = {"objective": "regression"}
        else:
            objective = {"objective": "quantile", "alpha": float(level)}
        return {
            **objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "max_bin": 255,
            "seed": self.seed + member,
            "deterministic": True,
            "force_col_wise": True,
            "num_threads": self.num_threads,
            "verbosity": -1,
        }

    # -- fit ----------------------------------------------------------------------------
    def fit(self, history: pd.DataFrame, *, as_of: pd.Timestamp | dt.datetime) -> Self:
        """Learn one booster per level from the rows of ``history`` before ``as_of``.

        Parameters
        ----------
        history : pandas.DataFrame
            Long-format readings of one or more meters (package notes).
        as_of : pandas.Timestamp or datetime.datetime
            Timezone-aware instant on the interval grid; only rows with
            ``ts < as_of`` are read. Training origins are at its local time
            of day (local midnight for day-ahead models).

        Returns
        -------
        Self

        Raises
        ------
        ValueError
            If no meter has a measured target before ``as_of``.
        """
        stamp = check_as_of(as_of)
        frame = check_history(history)
        frame = frame[frame["ts"] < stamp]
        interval_s = (
            self.interval_s if self.interval_s is not None else infer_history_interval_s(frame)
        )
        d = steps_per_day(interval_s)
        lookback_s = (self.train_days + CONTEXT_D + 1) * _DAY_S
        raw, masked, report = self._prepare(frame, stamp, interval_s, lookback_s, horizon=0)
        self.meter_codes_ = (
            {meter_id: code for code, meter_id in enumerate(sorted(masked))}
            if self.meter_feature
            else {}
        )
        rows, levels = self._training_rows(raw, masked, stamp, d)
        if rows is None:
            raise ValueError(
                f"no measured interval to learn from before as_of={stamp.isoformat()}: the "
                "model needs at least a day of readings before its training origins"
            )
        cal_start = int(stamp.value) - self.calibration_days * _DAY_S * _NS_PER_S
        fit_rows = rows.target_ns < cal_start
        cal_rows = rows.origin_ns >= cal_start
        if self.calibration == "none" or not fit_rows.any() or not cal_rows.any():
            fit_rows = np.ones(rows.y.size, dtype=bool)
            cal_rows = np.zeros(rows.y.size, dtype=bool)
        members = self._train(rows.x[fit_rows], rows.y[fit_rows])
        n_blocks = -(-self.max_horizon // d)
        corrections = np.zeros((len(self.quantiles), n_blocks))
        by_meter: dict[str, FloatArray] = {}
        if cal_rows.any():
            x_cal = rows.x[cal_rows]
            pred = self._predict_levels(members, x_cal)
            residual = rows.y[cal_rows][:, None] - pred
            block = (rows.lead[cal_rows] - 1) // d
            meter = rows.meter[cal_rows]
            corrections = self._corrections(residual, block, n_blocks, None)
            for index, meter_id in enumerate(masked):
                mine = meter == index
                if mine.any():
                    by_meter[meter_id] = self._corrections(
                        residual[mine], block[mine], n_blocks, corrections
                    )
            if self.calibration in ("band", "width"):
                mid = [j for j, q in enumerate(self.quantiles) if q == 0.5]
                corrections[mid] = 0.0
                for values in by_meter.values():
                    values[mid] = 0.0
            if self.calibration_refit:
                fit_rows = np.ones(rows.y.size, dtype=bool)
                members = self._train(rows.x, rows.y)
        self._keep(members)
        self.corrections_ = corrections
        self.meter_corrections_ = by_meter
        self.interval_s_ = interval_s
        self.as_of_ = stamp
        step_ns = interval_s * _NS_PER_S
        self.train_start_ = pd.Timestamp(int(rows.target_ns[fit_rows].min()), unit="ns", tz="UTC")
        self.train_end_ = pd.Timestamp(
            int(rows.target_ns[fit_rows].max()) + step_ns, unit="ns", tz="UTC"
        )
        self.meters_ = dict(sorted(levels.items()))
        self.n_train_rows_ = min(int(np.count_nonzero(fit_rows)), self.max_train_rows)
        self.n_calibration_rows_ = int(np.count_nonzero(cal_rows))
        self.mask_report_ = report
        return self

    def _training_rows(
        self,
        raw: dict[str, MeterGrid],
        masked: dict[str, MeterGrid],
        stamp: pd.Timestamp,
        d: int,
    ) -> tuple[_TrainingRows | None, dict[str, float]]:
        """Every usable (origin, lead) row of every meter, and each meter's level now."""
        leads = np.arange(1, self.max_horizon + 1, dtype=np.int64)
        parts: list[_TrainingRows] = []
        levels: dict[str, float] = {}
        for index, (meter_id, grid) in enumerate(masked.items()):
            now = recent_level(
                grid.energy_kwh, np.array([grid.origin]), window=LEVEL_WINDOW_D * d, min_count=d
            )[0]
            levels[meter_id] = float(now) if np.isfinite(now) else math.nan
            origins = self._training_origins(grid, stamp, d)
            rows = self._rows(grid, origins, leads)
            last = grid.energy_kwh.size - 1
            target = grid.energy_kwh[np.clip(rows.target, 0, last)]
            ok = (
                (rows.target < grid.origin)
                & ~np.isnan(target)
                & (rows.level > 0)
                & ~self._zero_rows(raw[meter_id], rows, d)
            )
            if not ok.any():
                continue
            step_ns = grid.interval_s * _NS_PER_S
            start_ns = int(grid.start.value)
            parts.append(
                _TrainingRows(
                    x=self._with_meter(rows.x[ok], meter_id),
                    y=target[ok] / rows.level[ok],
                    meter=np.full(int(ok.sum()), index, dtype=np.int64),
                    lead=rows.lead[ok],
                    origin_ns=start_ns + rows.origin[ok] * step_ns,
                    target_ns=start_ns + rows.target[ok] * step_ns,
                )
            )
        if not parts:
            return None, levels
        return _TrainingRows.concat(parts), levels

    def _draw(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """At most ``max_train_rows`` of the rows: a seeded draw, in order, when there are more."""
        if x.shape[0] <= self.max_train_rows:
            return x, y
        rng = np.random.default_rng(self.seed)
        keep = np.sort(rng.choice(x.shape[0], size=self.max_train_rows, replace=False))
        return x[keep], y[keep]

    def _keep(self, members: _Members) -> None:
        """Keep the final training pass's models as the fitted state."""
        self.boosters_ = members.boosters
        self.base_offsets_ = members.offsets

    def _members(self) -> _Members:
        """Return the fitted state as the training pass returned it."""
        return _Members(self.boosters_, self.base_offsets_)

    def _train(self, x: FloatArray, y: FloatArray) -> _Members:
        """Train the boosters of each level on at most ``max_train_rows`` rows (a seeded draw).

        Returns the boosters and each level's start offset above the base.
        """
        x, y = self._draw(x, y)
        base = base_score(x, self.base) if self.base else None
        dataset = lgb.Dataset(
            x,
            label=y,
            feature_name=list(self.feature_names),
            categorical_feature=["meter"] if self.meter_feature else [],
            params={"max_bin": 255, "verbosity": -1},
            free_raw_data=False,
        )
        offsets = dict.fromkeys(self.quantiles, 0.0)
        if base is not None:
            # LightGBM's own start (boost_from_average: the mean target for squared error,
            # its level-quantile for pinball loss), taken of the residual
            residual = y - base
            for level in self.quantiles:
                mean = level == 0.5 and self.point_objective == "l2"
                offsets[level] = float(residual.mean() if mean else np.quantile(residual, level))
        boosters: dict[float, list[lgb.Booster]] = {}
        for level in self.quantiles:
            if base is not None:
                dataset.set_init_score(base + offsets[level])
            boosters[level] = [
                lgb.train(
                    self.lightgbm_params(level, member=k),
                    dataset,
                    num_boost_round=self.n_estimators,
                )
                for k in range(self.point_models if level == 0.5 else 1)
            ]
        return _Members(boosters, offsets)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Columns of the boosters' input (``meter`` last with ``meter_feature``)."""
        return feature_columns(meter_feature=self.meter_feature)

    def _with_meter(self, x: FloatArray, meter_id: str) -> FloatArray:
        """``x`` with the meter's code appended (NaN for a meter not fitted on)."""
        if not self.meter_feature:
            return x
        code = self.meter_codes_.get(meter_id)
        column = np.full((x.shape[0], 1), np.nan if code is None else float(code))
        return np.hstack([x, column])

    def _predict_levels(self, members: _Members, x: FloatArray) -> FloatArray:
        """Each level's boosters' mean prediction plus its start, sorted per row [scaled]."""
        base = base_score(x, self.base)  # zeros without a base, whose offsets are 0 too
        columns = [
            np.mean(
                [b.predict(x, num_threads=self.num_threads) for b in members.boosters[q]], axis=0
            )
            + base
            + members.offsets[q]
            for q in self.quantiles
        ]
        return np.sort(np.column_stack(columns).astype(np.float64), axis=1)

    def _corrections(
        self,
        residual: FloatArray,
        block: IntArray,
        n_blocks: int,
        fallback: FloatArray | None,
    ) -> FloatArray:
        """Each level's shift, per lead day (levels x blocks) [scaled].

        The ``q``-quantile of the level's residuals; with ``calibration='width'``
        the two levels ``q < 0.5`` and ``1 - q`` of a pair move by minus and
        plus the ``(1 - 2q)``-quantile of how far a residual falls outside their
        band (negative inside it).
        """
        levels = np.asarray(self.quantiles)
        out = np.zeros((levels.size, n_blocks)) if fallback is None else fallback.copy()
        pairs: list[tuple[int, int]] = []
        if self.calibration == "width":
            for low, q in enumerate(levels[levels < 0.5]):  # a prefix: levels increase
                partner = np.flatnonzero(np.isclose(levels, 1.0 - q))
                if partner.size:
                    pairs.append((low, int(partner[0])))
        alone = [j for j in range(levels.size) if not any(j in pair for pair in pairs)]
        for b in range(n_blocks):
            rows = block == b
            if np.count_nonzero(rows) < self.min_calibration:
                continue
            for j in alone:
                out[j, b] = np.quantile(residual[rows, j], levels[j])
            for low, high in pairs:
                outside = np.maximum(-residual[rows, low], residual[rows, high])
                width = float(np.quantile(outside, levels[high] - levels[low]))
                out[low, b], out[high, b] = -width, width
        return out

    # -- predict ------------------------------------------------------------------------
    def predict(
        self,
        history: pd.DataFrame,
        *,
        as_of: pd.Timestamp | dt.datetime,
        horizon: int,
        quantiles: Sequence[float] = DEFAULT_QUANTILES,
    ) -> pd.DataFrame:
        """Forecast ``horizon`` intervals from ``as_of`` for every meter in ``history``.

        Parameters
        ----------
        history : pandas.DataFrame
            Long-format readings; only rows with ``ts < as_of`` are read.
        as_of : pandas.Timestamp or datetime.datetime
            Forecast origin (timezone-aware, on the interval grid), at or
            after the instant the model was fitted as of.
        horizon : int
            Number of intervals, at most ``max_horizon`` [-].
        quantiles : sequence of float, default (0.1, 0.5, 0.9)
            Levels, each one the model was fitted for.

        Returns
        -------
        pandas.DataFrame
            ``meter_id``, ``ts`` (UTC), ``p{100 q}_kwh`` [kWh per interval],
            sorted across levels in each row. A meter without a day of
            measured readings in the ~3 months before ``as_of`` gets NaN.

        Raises
        ------
        NotFittedError
            If ``fit`` was not called.
        ValueError
            If ``as_of`` is before the fit's, ``horizon`` exceeds
            ``max_horizon``, or a level was not fitted.
        """
        if not hasattr(self, "boosters_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit() first")
        stamp = check_as_of(as_of)
        check_not_before_fit(stamp, self.as_of_)
        n = check_horizon(horizon, max_horizon=self.max_horizon)
        levels = check_quantiles(quantiles)
        unknown = [q for q in levels if q not in self.boosters_]
        if unknown:
            raise ValueError(
                f"this model was fitted for the levels {list(self.quantiles)}, not {unknown}: "
                "fit it with quantiles=... including them"
            )
        frame = check_history(history)
        frame = frame[frame["ts"] < stamp]
        interval_s: int = self.interval_s_
        d = steps_per_day(interval_s)
        lookback_s = (CONTEXT_D + _LEVEL_LOOKBACK_D + 1) * _DAY_S
        raw, masked, _ = self._prepare(frame, stamp, interval_s, lookback_s, horizon=n)
        if not masked:
            return empty_forecast(levels)
        leads = np.arange(1, n + 1, dtype=np.int64)
        blocks = [
            self._rows(grid, np.array([grid.origin], dtype=np.int64), leads)
            for grid in masked.values()
        ]
        x = np.concatenate(
            [self._with_meter(rows.x, m) for m, rows in zip(masked, blocks, strict=True)]
        )
        preds = self._predict_levels(self._members(), x)
        correction = np.concatenate(
            [
                self.meter_corrections_.get(meter_id, self.corrections_)[:, (rows.lead - 1) // d].T
                for meter_id, rows in zip(masked, blocks, strict=True)
            ]
        )
        wanted = [self.quantiles.index(q) for q in levels]
        scaled = np.sort(preds + correction, axis=1)[:, wanted]
        level = np.concatenate([rows.level for rows in blocks])
        zero = np.concatenate(
            [self._zero_rows(raw[m], rows, d) for m, rows in zip(masked, blocks, strict=True)]
        )
        values = scaled * level[:, None]
        values = np.where(zero[:, None], 0.0, np.maximum(values, 0.0))
        parts = []
        for grid in masked.values():
            ts = grid.times()[grid.origin : grid.origin + n]
            parts.append(pd.DataFrame({"meter_id": grid.meter_id, "ts": ts}))
        out = pd.concat(parts, ignore_index=True)
        for j, q in enumerate(levels):
            out[quantile_column(q)] = values[:, j]
        return out

    # -- internals ----------------------------------------------------------------------
    def _prepare(
        self,
        frame: pd.DataFrame,
        stamp: pd.Timestamp,
        interval_s: int,
        lookback_s: int,
        *,
        horizon: int,
    ) -> tuple[dict[str, MeterGrid], dict[str, MeterGrid], Any]:
        """Raw and masked grids of the history in ``[as_of - lookback, as_of)``."""
        recent = frame[frame["ts"] >= stamp - pd.Timedelta(seconds=lookback_s)]
        raw = to_grids(
            recent, as_of=stamp, interval_s=interval_s, lookback_s=lookback_s, horizon=horizon
        )
        if not self.mask_codes:
            return raw, raw, None
        masked_frame, report = find_and_mask(
            recent, interval_s=interval_s, timezone=self.timezone, codes=self.mask_codes
        )
        masked = to_grids(
            masked_frame,
            as_of=stamp,
            interval_s=interval_s,
            lookback_s=lookback_s,
            horizon=horizon,
        )
        return raw, masked, report

    def _calendar(self, grid: MeterGrid) -> Any:
        return grid_calendar(
            grid.start,
            grid.energy_kwh.size,
            grid.interval_s,
            timezone=self.timezone,
            country=self.holidays_country,
        )

    def _rows(self, grid: MeterGrid, origins: IntArray, leads: IntArray) -> RowFeatures:
        return build_features(grid, self._calendar(grid), origins, leads)

    def _training_origins(self, grid: MeterGrid, stamp: pd.Timestamp, d: int) -> IntArray:
        """Positions of the same local time of day as ``as_of`` on the previous days."""
        wall = stamp.tz_convert(self.timezone).tz_localize(None)
        days = np.arange(1, self.train_days + 1)
        walls = pd.DatetimeIndex(wall - pd.to_timedelta(days, unit="D"))
        local = walls.tz_localize(self.timezone, ambiguous="NaT", nonexistent="NaT")
        local = local[np.asarray(local.notna())]
        offsets = (local.tz_convert("UTC").as_unit("ns").asi8 - grid.start.as_unit("ns").value) / (
            grid.interval_s * 1_000_000_000
        )
        whole = np.isclose(offsets, np.round(offsets))
        pos = np.round(offsets[whole]).astype(np.int64)
        pos = pos[(pos >= d) & (pos < grid.origin)]
        return np.sort(pos)

    def _zero_rows(self, raw: MeterGrid, rows: RowFeatures, d: int) -> npt.NDArray[np.bool_]:
        if self.zero_regime_days is None:
            return np.zeros(rows.origin.shape, dtype=bool)
        width = max(1, round(self.zero_regime_days * d))
        # the raw and masked grids share the same start: positions agree
        return zero_regime(raw.energy_kwh, rows.origin, width)


def feature_columns(*, meter_feature: bool) -> tuple[str, ...]:
    """Columns of a model's booster input: ``FEATURE_NAMES``, then ``meter`` if it has one.

    Examples
    --------
    >>> feature_columns(meter_feature=True)[-2:]
    ('temp_lag_day_c', 'meter')
    """
    return (*FEATURE_NAMES, "meter") if meter_feature else FEATURE_NAMES


def _check_base(base: Sequence[str] | None) -> tuple[str, ...]:
    if base is None:
        return ()
    if isinstance(base, str):
        raise ValueError(f"base must be a sequence of feature names, got the string {base!r}")
    names = tuple(base)
    unknown = [name for name in names if name not in BASE_FEATURES]
    if unknown:
        raise ValueError(f"base: {unknown} are not among the baseline features {BASE_FEATURES}")
    if len(set(names)) != len(names):
        raise ValueError(f"base: {list(names)} names a feature twice")
    return names


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)
