"""A small quantile multilayer perceptron over feature rows, on the CPU or a GPU (PyTorch).

This module is the neural learner behind
:class:`~bitgoeul.forecast.hybrid.HybridForecaster`; it knows rows, not
meters or time. It imports only NumPy and PyTorch (the ``neural`` extra:
``pip install 'bitgoeul[neural]'``), so it can be loaded and timed alone on a
machine with a GPU.

Inputs
    A float matrix whose NaNs mean "not measured". Each column is filled
    with its training median, and every column that had a NaN in training
    gets a 0/1 indicator column beside it, so the network can tell a filled
    value from a measured one (the trees route NaNs by a learned default
    direction; a network needs the flag). Columns are then standardised with
    the training mean and standard deviation and clipped at +-10.
Meter identity
    An optional integer code per row (``-1``: a meter not fitted on) is
    looked up in a learned embedding of 4 numbers per meter; a meter not
    fitted on gets the mean of the fitted meters' embeddings.
Output and loss
    One output per quantile level. The pinball loss for every level, except
    the 0.5 level with ``point_objective='l2'``, which is fitted by squared
    error (a conditional mean, as the boosters' ``point_objective``).
Training
    AdamW with a one-cycle learning-rate schedule over ``epochs`` passes of
    shuffled mini-batches; dropout between layers. Seeded: the same rows
    give the same network on the same device and PyTorch build.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import torch

__all__ = ["QuantileMLP", "resolve_device"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_CLIP = 10.0
_PREDICT_BATCH = 65_536


def resolve_device(device: str) -> str:
    """Return the PyTorch device ``device`` names: ``'auto'`` is CUDA when one is visible.

    Raises
    ------
    ValueError
        For ``'cuda'`` on a machine where PyTorch sees no CUDA device, or a
        name other than ``'auto'``, ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r}: PyTorch sees no CUDA device on this machine")
        return device
    raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` PyTorch CPU threads, then restore the process's setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Net(torch.nn.Module):
    def __init__(
        self, n_in: int, n_out: int, *, hidden: int, layers: int, dropout: float, meters: int
    ) -> None:
        super().__init__()
        self.meter_dim = 4 if meters > 0 else 0
        self.embedding = torch.nn.Embedding(meters + 1, self.meter_dim) if meters > 0 else None
        blocks: list[torch.nn.Module] = []
        width = n_in + self.meter_dim
        for _ in range(layers):
            blocks += [torch.nn.Linear(width, hidden), torch.nn.GELU(), torch.nn.Dropout(dropout)]
            width = hidden
        blocks.append(torch.nn.Linear(width, n_out))
        self.body = torch.nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor, meter: torch.Tensor) -> torch.Tensor:
        if self.embedding is not None:
            x = torch.cat([x, self.embedding(meter)], dim=1)
        out: torch.Tensor = self.body(x)
        return out


class QuantileMLP:
    """Multilayer perceptron learning several quantile levels of a target at once.

    Parameters
    ----------
    quantiles : sequence of float
        Levels in (0, 1), one output each.
    point_objective : {'quantile', 'l2'}, default 'l2'
        Loss of the 0.5 level (module notes).
    hidden : int, default 128
        Units per hidden layer.
    layers : int, default 2
        Hidden layers.
    dropout : float, default 0.1
        Dropout after each hidden layer.
    epochs : int, default 30
        Passes over the training rows.
    batch_size : int, default 512
        Rows per step.
    learning_rate : float, default 1e-3
        Peak of the one-cycle schedule.
    weight_decay : float, default 1e-4
        AdamW's decoupled weight decay.
    seed : int, default 0
        Seed of the initial weights, dropout and the shuffles.
    device : str, default 'auto'
        'auto' (CUDA when PyTorch sees one, else the CPU), 'cpu', 'cuda' or
        'cuda:N'.
    num_threads : int, default 2
        PyTorch CPU threads while fitting and predicting.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2000, 3))
    >>> y = 2 * x[:, 0] + rng.normal(0, 0.1, 2000)
    >>> mlp = QuantileMLP((0.1, 0.5, 0.9), epochs=5, device="cpu").fit(x, y)
    >>> p = mlp.predict(x[:5])
    >>> p.shape, bool((p[:, 0] <= p[:, 2]).all())
    ((5, 3), True)
    """

    def __init__(
        self,
        quantiles: Sequence[float],
        *,
        point_objective: Literal["quantile", "l2"] = "l2",
        hidden: int = 128,
        layers: int = 2,
        dropout: float = 0.1,
        epochs: int = 30,
        batch_size: int = 512,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        seed: int = 0,
        device: str = "auto",
        num_threads: int = 2,
    ) -> None:
        self.quantiles = tuple(float(q) for q in quantiles)
        if not self.quantiles or not all(0 < q < 1 for q in self.quantiles):
            raise ValueError(f"quantiles must be levels in (0, 1), got {list(quantiles)}")
        self.point_objective = point_objective
        self.hidden = hidden
        self.layers = layers
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.seed = seed
        self.device = device
        self.num_threads = num_threads

    def config(self) -> dict[str, Any]:
        """Return the constructor's arguments (JSON-ready)."""
        return {
            "quantiles": list(self.quantiles),
            "point_objective": self.point_objective,
            "hidden": self.hidden,
            "layers": self.layers,
            "dropout": self.dropout,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "seed": self.seed,
            "device": self.device,
            "num_threads": self.num_threads,
        }

    # -- inputs ---------------------------------------------------------------------
    def _inputs(self, x: FloatArray) -> npt.NDArray[np.float32]:
        flags = np.isnan(x[:, self.flagged_]).astype(np.float64)
        filled = np.where(np.isnan(x), self.fill_, x)
        scaled = np.clip((filled - self.mean_) / self.scale_, -_CLIP, _CLIP)
        return np.hstack([scaled, flags]).astype(np.float32)

    def _meters(self, meter: IntArray | None, n: int) -> npt.NDArray[np.int64]:
        if meter is None or self.n_meters_ == 0:
            return np.zeros(n, dtype=np.int64)
        codes = np.asarray(meter, dtype=np.int64)
        # row 0 of the embedding: a meter not fitted on
        return np.where((codes >= 0) & (codes < self.n_meters_), codes + 1, 0)

    # -- fit ------------------------------------------------------------------------
    def fit(
        self, x: FloatArray, y: FloatArray, *, meter: IntArray | None = None, n_meters: int = 0
    ) -> QuantileMLP:
        """Learn every level from rows ``x`` (NaN: not measured) and targets ``y``.

        ``meter`` holds each row's meter code in ``0 .. n_meters - 1`` (or -1);
        without it the network has no meter embedding.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.ndim != 2 or y.shape != (x.shape[0],) or x.shape[0] == 0:
            raise ValueError(f"x must be (rows, columns) and y (rows,), got {x.shape}, {y.shape}")
        if not np.isfinite(y).all():
            raise ValueError("y must be finite")
        measured = ~np.isnan(x)
        counts = measured.sum(axis=0)
        medians = np.array(
            [np.median(x[measured[:, j], j]) if counts[j] else 0.0 for j in range(x.shape[1])]
        )
        self.fill_ = medians
        self.flagged_ = np.flatnonzero(counts < x.shape[0])
        filled = np.where(measured, x, medians)
        self.mean_ = filled.mean(axis=0)
        spread = filled.std(axis=0)
        self.scale_ = np.where(spread > 0, spread, 1.0)
        self.n_meters_ = int(n_meters) if meter is not None else 0
        self.device_ = resolve_device(self.device)
        with _threads(self.num_threads):
            self.net_ = self._train(self._inputs(x), y, self._meters(meter, x.shape[0]))
        return self

    def _train(
        self, x: npt.NDArray[np.float32], y: FloatArray, meter: npt.NDArray[np.int64]
    ) -> _Net:
        torch.manual_seed(self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        device = torch.device(self.device_)
        net = _Net(
            x.shape[1],
            len(self.quantiles),
            hidden=self.hidden,
            layers=self.layers,
            dropout=self.dropout,
            meters=self.n_meters_,
        ).to(device)
        inputs = torch.from_numpy(x).to(device)
        codes = torch.from_numpy(meter).to(device)
        target = torch.from_numpy(y.astype(np.float32)).to(device)[:, None]
        levels = torch.tensor(self.quantiles, dtype=torch.float32, device=device)
        squared = torch.tensor(
            [q == 0.5 and self.point_objective == "l2" for q in self.quantiles], device=device
        )
        optimiser = torch.optim.AdamW(
            net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        n = inputs.shape[0]
        steps = -(-n // self.batch_size)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimiser, max_lr=self.learning_rate, total_steps=self.epochs * steps
        )
        net.train()
        for _ in range(self.epochs):
            order = torch.randperm(n, generator=generator).to(device)
            for start in range(0, n, self.batch_size):
                rows = order[start : start + self.batch_size]
                error = target[rows] - net(inputs[rows], codes[rows])
                pinball = torch.maximum(levels * error, (levels - 1) * error)
                loss = torch.where(squared, 0.5 * error * error, pinball).mean()
                optimiser.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                optimiser.step()
                schedule.step()
        net.eval()
        if net.embedding is not None:
            with torch.no_grad():  # row 0, never trained: a meter not fitted on gets the mean meter
                net.embedding.weight[0] = net.embedding.weight[1:].mean(dim=0)
        return net

    # -- predict --------------------------------------------------------------------
    def predict(self, x: FloatArray, *, meter: IntArray | None = None) -> FloatArray:
        """Each level's prediction for rows ``x``: ``(rows, len(quantiles))`` float64."""
        if not hasattr(self, "net_"):
            raise ValueError("QuantileMLP is not fitted: call fit() first")
        x = np.asarray(x, dtype=np.float64)
        inputs = self._inputs(x)
        codes = self._meters(meter, x.shape[0])
        device = torch.device(self.device_)
        parts = []
        with _threads(self.num_threads), torch.no_grad():
            for start in range(0, inputs.shape[0], _PREDICT_BATCH):
                stop = start + _PREDICT_BATCH
                out = self.net_(
                    torch.from_numpy(inputs[start:stop]).to(device),
                    torch.from_numpy(codes[start:stop]).to(device),
                )
                parts.append(out.cpu().numpy().astype(np.float64))
        if not parts:
            return np.zeros((0, len(self.quantiles)))
        return np.concatenate(parts)

    # -- persistence ----------------------------------------------------------------
    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Return the fitted state as named arrays (``numpy.savez`` writes them unpickled)."""
        arrays: dict[str, npt.NDArray[Any]] = {
            "fill": self.fill_,
            "flagged": self.flagged_.astype(np.int64),
            "mean": self.mean_,
            "scale": self.scale_,
            "n_meters": np.array(self.n_meters_, dtype=np.int64),
        }
        for name, tensor in self.net_.state_dict().items():
            arrays[f"weight.{name}"] = tensor.detach().cpu().numpy()
        return arrays

    @classmethod
    def from_arrays(
        cls, config: dict[str, Any], arrays: dict[str, npt.NDArray[Any]], *, device: str = "auto"
    ) -> QuantileMLP:
        """Rebuild a fitted learner from :meth:`config` and :meth:`to_arrays` (on ``device``).

        Raises
        ------
        ValueError
            If an array is missing or has the wrong shape.
        """
        model = cls(**{**config, "device": device})
        model.fill_ = np.asarray(arrays["fill"], dtype=np.float64)
        model.flagged_ = np.asarray(arrays["flagged"], dtype=np.int64)
        model.mean_ = np.asarray(arrays["mean"], dtype=np.float64)
        model.scale_ = np.asarray(arrays["scale"], dtype=np.float64)
        model.n_meters_ = int(arrays["n_meters"])
        model.device_ = resolve_device(device)
        net = _Net(
            model.fill_.size + model.flagged_.size,
            len(model.quantiles),
            hidden=model.hidden,
            layers=model.layers,
            dropout=model.dropout,
            meters=model.n_meters_,
        )
        state = {
            name[len("weight.") :]: torch.from_numpy(np.array(value))
            for name, value in arrays.items()
            if name.startswith("weight.")
        }
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"the network's weights do not fit its configuration ({exc})") from exc
        model.net_ = net.to(torch.device(model.device_)).eval()
        return model
