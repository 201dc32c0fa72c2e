"""LightGBM and a neural network on the same rows, averaged: ``lightgbm+mlp``.

:class:`HybridForecaster` is :class:`~bitgoeul.forecast.gbm.LightGBMForecaster`
(same training origins, masking, features, zero regime, band calibration and
refit) with a second learner beside the boosters: a
:class:`~bitgoeul.forecast.neural.QuantileMLP` fitted on the same drawn rows,
on the same scaled target, and, like the boosters, on the residual of the
row's baseline (``base``, the persistence ensemble by default). Its
forecast of a level is

    (1 - mlp_weight) * boosters + mlp_weight * network

for the middle level (``blend='point'``, the default) or for every level
(``blend='all'``). The calibration replays the blend, so the band's
corrections are measured on what the model forecasts.

Why: trees and a network err differently (the trees' forecast is a step
function of the features, the network's a smooth one), so their average
has a lower variance than either. On the tuning origins of
``docs/benchmarks.md`` the blend lowered every group's mean NRMSE ratio;
the benchmark's section *lightgbm+mlp* has the side-by-side numbers.

The network trains on the CPU in seconds for a few meters (about 7 s for
55,000 rows on one core); on a machine with a GPU ``device='auto'`` uses it.
Needs PyTorch: ``pip install 'bitgoeul[neural]'``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from bitgoeul.forecast.gbm import FloatArray, LightGBMForecaster, _Members, base_score

__all__ = ["HybridForecaster", "torch_available"]


def torch_available() -> bool:
    """Whether PyTorch can be imported (the ``neural`` extra is installed)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _require_torch() -> None:
    if not torch_available():
        raise ImportError(
            "the lightgbm+mlp model needs PyTorch: pip install 'bitgoeul[neural]' "
            "(or pip install torch)"
        )


class HybridForecaster(LightGBMForecaster):
    """LightGBM boosters and a quantile MLP on the same rows, blended (module notes).

    Parameters
    ----------
    mlp_weight : float, default 0.5
        Share of the network in the blend, in [0, 1] (0: the boosters alone;
        1: the network alone for the blended levels).
    blend : {'point', 'all'}, default 'point'
        Blend the 0.5 level only, or every level.
    mlp_hidden, mlp_layers : int, default 128, 2
        Units per hidden layer, hidden layers.
    mlp_dropout : float, default 0.1
        Dropout after each hidden layer.
    mlp_epochs : int, default 30
        Passes over the training rows.
    mlp_batch_size : int, default 512
        Rows per optimiser step.
    mlp_learning_rate : float, default 1e-3
        Peak learning rate of the one-cycle schedule.
    mlp_weight_decay : float, default 1e-4
        AdamW's weight decay.
    device : str, default 'auto'
        Where the network trains and predicts: 'auto' (a CUDA GPU when
        PyTorch sees one, else the CPU), 'cpu', 'cuda' or 'cuda:N'.
    **kwargs
        Every :class:`~bitgoeul.forecast.gbm.LightGBMForecaster` parameter;
        ``seed`` and ``num_threads`` also seed and size the network's training.

    Attributes
    ----------
    mlp_ : QuantileMLP
        The network of the final training pass (after ``fit``); see
        :class:`~bitgoeul.forecast.gbm.LightGBMForecaster` for the others.

    Examples
    --------
    >>> import pandas as pd
    >>> from bitgoeul.forecast.synthetic import generate_load_history
    >>> history = generate_load_history(2, days=60, seed=1)  # two synthetic buildings
    >>> as_of = history["ts"].max().floor("D") - pd.Timedelta("3D")
    >>> model = HybridForecaster(max_horizon=24, train_days=28, n_estimators=30, mlp_epochs=3,
    ...                          device="cpu")
    >>> f = model.fit(history, as_of=as_of).predict(history, as_of=as_of, horizon=24)
    >>> f.shape, model.name, sorted(model.mlp_config())[:2]
    ((48, 5), 'lightgbm+mlp', ['batch_size', 'device'])
    """

    def __init__(
        self,
        *,
        mlp_weight: float = 0.5,
        blend: Literal["point", "all"] = "point",
        mlp_hidden: int = 128,
        mlp_layers: int = 2,
        mlp_dropout: float = 0.1,
        mlp_epochs: int = 30,
        mlp_batch_size: int = 512,
        mlp_learning_rate: float = 1e-3,
        mlp_weight_decay: float = 1e-4,
        device: str = "auto",
        **kwargs: Any,
    ) -> None:
        _require_torch()
        from bitgoeul.forecast.neural import resolve_device

        super().__init__(**kwargs)
        if not 0 <= mlp_weight <= 1:
            raise ValueError(f"mlp_weight must be in [0, 1], got {mlp_weight!r}")
        if blend not in ("point", "all"):
            raise ValueError(f"blend must be 'point' or 'all', got {blend!r}")
        for name, value in (
            ("mlp_hidden", mlp_hidden),
            ("mlp_layers", mlp_layers),
            ("mlp_epochs", mlp_epochs),
            ("mlp_batch_size", mlp_batch_size),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        if not 0 <= mlp_dropout < 1:
            raise ValueError(f"mlp_dropout must be in [0, 1), got {mlp_dropout!r}")
        if not mlp_learning_rate > 0 or not mlp_weight_decay >= 0:
            raise ValueError("mlp_learning_rate must be > 0 and mlp_weight_decay >= 0")
        resolve_device(device)  # refuse a wrong name or a missing GPU now, not after the boosters
        self.mlp_weight = float(mlp_weight)
        self.blend: Literal["point", "all"] = blend
        self.mlp_hidden = mlp_hidden
        self.mlp_layers = mlp_layers
        self.mlp_dropout = float(mlp_dropout)
        self.mlp_epochs = mlp_epochs
        self.mlp_batch_size = mlp_batch_size
        self.mlp_learning_rate = float(mlp_learning_rate)
        self.mlp_weight_decay = float(mlp_weight_decay)
        self.device = device
        self.name = "lightgbm+mlp"

    def get_params(self) -> dict[str, Any]:
        """Return the constructor's keyword arguments (JSON-ready)."""
        return {
            **super().get_params(),
            "mlp_weight": self.mlp_weight,
            "blend": self.blend,
            "mlp_hidden": self.mlp_hidden,
            "mlp_layers": self.mlp_layers,
            "mlp_dropout": self.mlp_dropout,
            "mlp_epochs": self.mlp_epochs,
            "mlp_batch_size": self.mlp_batch_size,
            "mlp_learning_rate": self.mlp_learning_rate,
            "mlp_weight_decay": self.mlp_weight_decay,
            "device": self.device,
        }

    def mlp_config(self) -> dict[str, Any]:
        """Arguments of the :class:`~bitgoeul.forecast.neural.QuantileMLP` this model fits."""
        return {
            "quantiles": list(self.quantiles),
            "point_objective": self.point_objective,
            "hidden": self.mlp_hidden,
            "layers": self.mlp_layers,
            "dropout": self.mlp_dropout,
            "epochs": self.mlp_epochs,
            "batch_size": self.mlp_batch_size,
            "learning_rate": self.mlp_learning_rate,
            "weight_decay": self.mlp_weight_decay,
            "seed": self.seed,
            "device": self.device,
            "num_threads": self.num_threads,
        }

    # -- the learners -------------------------------------------------------------------
    def _split(self, x: FloatArray) -> tuple[FloatArray, Any]:
        """Features without the meter column, and the meter codes (-1: unknown), if any."""
        if not self.meter_feature:
            return x, None
        codes = x[:, -1]
        return x[:, :-1], np.where(np.isnan(codes), -1, codes).astype(np.int64)

    def _train(self, x: FloatArray, y: FloatArray) -> _Members:
        from bitgoeul.forecast.neural import QuantileMLP

        x, y = self._draw(x, y)  # once, so the boosters' own draw keeps these rows
        members = super()._train(x, y)
        features, meter = self._split(x)
        mlp = QuantileMLP(**self.mlp_config()).fit(
            features,
            y - base_score(x, self.base),
            meter=meter,
            n_meters=len(self.meter_codes_),
        )
        return _Members(members.boosters, members.offsets, mlp)

    def _keep(self, members: _Members) -> None:
        super()._keep(members)
        self.mlp_ = members.extra

    def _members(self) -> _Members:
        return _Members(self.boosters_, self.base_offsets_, self.mlp_)

    def _predict_levels(self, members: _Members, x: FloatArray) -> FloatArray:
        trees = super()._predict_levels(members, x)
        features, meter = self._split(x)
        network = members.extra.predict(features, meter=meter) + base_score(x, self.base)[:, None]
        w = self.mlp_weight
        if self.blend == "all":
            out = (1 - w) * trees + w * network
        else:
            out = trees.copy()
            j = self.quantiles.index(0.5) if 0.5 in self.quantiles else None
            if j is not None:
                out[:, j] = (1 - w) * trees[:, j] + w * network[:, j]
        return np.sort(out, axis=1)
