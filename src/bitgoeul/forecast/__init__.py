"""Load forecasting: baselines, a global LightGBM model, backtests and scores (pure, no I/O).

Everything here is domain code over pandas frames: no store, no files except
:mod:`bitgoeul.forecast.persist` (save and load a fitted model).

Data contract
-------------
History (input)
    A :class:`pandas.DataFrame` in long format, one row per meter and interval:

    ``meter_id`` (str)
        Meter identifier.
    ``ts`` (datetime64, timezone-aware; UTC by convention)
        Interval start. Each meter's readings lie on a regular grid of
        ``interval_s`` seconds (inferred as the most common step, or given
        to the model); a missing interval may be absent or NaN.
    ``energy_kwh`` (float)
        Energy in the interval [kWh]; NaN means missing or masked
        (:mod:`bitgoeul.forecast.quality`). Zero is a measurement.
    ``temp_c`` (float, optional)
        Air temperature [°C]; models read it only before the origin.
Forecast (output)
    ``meter_id``, ``ts`` (UTC, aware, interval start) and one column
    ``p{round(100 q)}_kwh`` per requested quantile level ``q`` (``p10_kwh``,
    ``p50_kwh``, ``p90_kwh`` by default) [kWh per interval], sorted
    (monotone) across levels in each row; one row per meter and interval in
    ``[as_of, as_of + horizon * interval_s)``.
As of
    ``fit`` and ``predict`` read only rows with ``ts < as_of`` and filter
    them themselves; a model fitted as of ``T1`` forecasts from any origin
    ``T2 >= T1``. ``horizon`` counts intervals. ``as_of`` must be an
    interval boundary; for day-ahead forecasts it is local midnight.

Modules
-------
:mod:`~bitgoeul.forecast.base` (the :class:`Forecaster` protocol),
:mod:`~bitgoeul.forecast.baselines` (seasonal naive, persistence ensemble),
:mod:`~bitgoeul.forecast.gbm` (:class:`LightGBMForecaster`),
:mod:`~bitgoeul.forecast.hybrid` (:class:`HybridForecaster`, ``lightgbm+mlp``: the same with a
neural network beside the boosters) and :mod:`~bitgoeul.forecast.neural` (that network, in
PyTorch: the ``neural`` extra),
:mod:`~bitgoeul.forecast.features`, :mod:`~bitgoeul.forecast.series`,
:mod:`~bitgoeul.forecast.quality` (masking), :mod:`~bitgoeul.forecast.metrics`,
:mod:`~bitgoeul.forecast.backtest`, :mod:`~bitgoeul.forecast.persist`,
:mod:`~bitgoeul.forecast.cycle` (month-end bill forecasts from a model).
"""

from __future__ import annotations
