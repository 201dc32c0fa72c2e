"""Save a fitted forecaster to one file and load it back, refusing what does not fit.

File layout (a zip archive, no pickled objects)::

    meta.json           format and version, model class and parameters, feature
                        names in order, training window, meters and their levels,
                        library versions, sha256 of every other member
    booster_p10.txt     LightGBM boosters as text (Booster.model_to_string), one per
    booster_p50.txt     quantile level (booster_p50_1.txt, ... for the further members
    ...                 of a seed ensemble, ``point_models``); baselines have none:
                        their parameters are the whole model
    mlp.npz             HybridForecaster only: its network's weights and input scaling,
                        NumPy arrays (read with allow_pickle=False)

:func:`load_model` refuses, with :class:`~bitgoeul.errors.ModelFormatError`
naming what differs: a file that is not such an archive or whose members do
not match their checksums (corrupt), an unknown format version or model
class, a feature set other than this version's
(:data:`bitgoeul.forecast.features.FEATURE_NAMES`, names and order, then
``meter`` for a model with ``meter_feature``), and boosters written by
another LightGBM major version; a hybrid model where PyTorch is not installed.
``meta.json`` also keeps the meters' codes
of the ``meter`` feature and where each level's boosters start above the
base (``base_offsets``; files without them start at the base).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import os
import platform
import threading
import zipfile
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd

from bitgoeul.errors import ModelFormatError, NotFittedError
from bitgoeul.forecast.base import Forecaster, quantile_column
from bitgoeul.forecast.baselines import PersistenceEnsemble, SeasonalNaive
from bitgoeul.forecast.features import FEATURE_NAMES
from bitgoeul.forecast.gbm import LightGBMForecaster, feature_columns
from bitgoeul.forecast.hybrid import HybridForecaster, torch_available
from bitgoeul.forecast.series import steps_per_day

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load_model", "save_model"]

FORMAT_NAME = "bitgoeul-forecast-model"
"""The ``format`` field of ``meta.json``."""

FORMAT_VERSION = 1
"""Version of the file layout this module writes and reads."""

_META = "meta.json"


def _versions(*, torch: bool = False) -> dict[str, str]:
    """Return the library versions a file records; PyTorch's for a model with a network."""
    try:
        bitgoeul_version = importlib.metadata.version("bitgoeul")
    except importlib.metadata.PackageNotFoundError:
        bitgoeul_version = "unknown"
    versions = {
        "bitgoeul": bitgoeul_version,
        "lightgbm": str(lgb.__version__),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "python": platform.python_version(),
    }
    if torch:
        versions["torch"] = importlib.metadata.version("torch")
    return versions


def _stamp(value: pd.Timestamp) -> str:
    return value.isoformat()


def save_model(model: Forecaster, path: str | os.PathLike[str]) -> Path:
    """Write a fitted forecaster to ``path`` (one zip file) and return the path.

    Parameters
    ----------
    model : Forecaster
        A fitted :class:`~bitgoeul.forecast.gbm.LightGBMForecaster`,
        :class:`~bitgoeul.forecast.hybrid.HybridForecaster`,
        :class:`~bitgoeul.forecast.baselines.SeasonalNaive` or
        :class:`~bitgoeul.forecast.baselines.PersistenceEnsemble`.
    path : str or os.PathLike
        File to write (replaced atomically if it exists); ``.zip`` is a
        good suffix.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    NotFittedError
        If the model is not fitted.
    TypeError
        If the model is of another class.

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> from bitgoeul.forecast.baselines import SeasonalNaive
    >>> ts = pd.date_range("2025-01-01", periods=48, freq="h", tz="UTC")
    >>> h = pd.DataFrame({"meter_id": "m", "ts": ts, "energy_kwh": 1.0})
    >>> model = SeasonalNaive().fit(h, as_of=ts[-1])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     again = load_model(save_model(model, Path(tmp) / "m.zip"))
    >>> again.name, again.interval_s_
    ('seasonal_naive_day', 3600)
    """
    target = Path(path)
    members: dict[str, bytes] = {}
    fitted: dict[str, Any]
    if isinstance(model, LightGBMForecaster):
        if not hasattr(model, "boosters_"):
            raise NotFittedError(f"{type(model).__name__} is not fitted: call fit() before saving")
        boosters: dict[str, list[str]] = {}
        for level, members_of_level in model.boosters_.items():
            names = []
            for k, booster in enumerate(members_of_level):
                suffix = "" if k == 0 else f"_{k}"
                name = f"booster_{quantile_column(level)[:-4]}{suffix}.txt"
                members[name] = booster.model_to_string().encode("utf-8")
                names.append(name)
            boosters[repr(float(level))] = names
        fitted = {
            "interval_s": model.interval_s_,
            "as_of": _stamp(model.as_of_),
            "train_start": _stamp(model.train_start_),
            "train_end": _stamp(model.train_end_),
            "meters": {k: (None if np.isnan(v) else v) for k, v in model.meters_.items()},
            "n_train_rows": model.n_train_rows_,
            "n_calibration_rows": model.n_calibration_rows_,
            "corrections": model.corrections_.tolist(),
            "meter_corrections": {k: v.tolist() for k, v in model.meter_corrections_.items()},
            "meter_codes": dict(model.meter_codes_),
            "base_offsets": {repr(float(k)): v for k, v in model.base_offsets_.items()},
            "boosters": boosters,
        }
        if isinstance(model, HybridForecaster):
            buffer = io.BytesIO()
            np.savez(buffer, **model.mlp_.to_arrays())
            members["mlp.npz"] = buffer.getvalue()
            fitted["mlp"] = model.mlp_config()
        features: list[str] | None = list(model.feature_names)
    elif isinstance(model, SeasonalNaive | PersistenceEnsemble):
        if not hasattr(model, "interval_s_"):
            raise NotFittedError(f"{type(model).__name__} is not fitted: call fit() before saving")
        fitted = {
            "interval_s": model.interval_s_,
            "as_of": _stamp(model.as_of_),
            "meters": list(model.meters_),
        }
        features = None
    else:
        raise TypeError(
            "save_model writes LightGBMForecaster, HybridForecaster, SeasonalNaive and "
            "PersistenceEnsemble, "
            f"not {type(model).__name__}"
        )
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_class": type(model).__name__,
        "name": model.name,
        "params": model.get_params(),
        "feature_names": features,
        "fitted": fitted,
        "versions": _versions(torch=isinstance(model, HybridForecaster)),
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in members.items()},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    # a temporary file of this process and thread: two savers of one path never share one
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with (
            tmp.open("wb") as raw,
            zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        ):
            archive.writestr(_META, json.dumps(meta, indent=2, sort_keys=True))
            for member, data in members.items():
                archive.writestr(member, data)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def load_model(path: str | os.PathLike[str]) -> Forecaster:
    """Load a forecaster written by :func:`save_model`.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.

    Returns
    -------
    Forecaster
        A fitted model that predicts exactly as the saved one did.

    Raises
    ------
    ModelFormatError
        If the file is corrupt or incompatible; the message names what
        differs (format version, model class, feature set, LightGBM major
        version, a checksum).
    FileNotFoundError
        If ``path`` does not exist.

    Examples
    --------
    See :func:`save_model`.
    """
    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"no model file at {source}")
    try:
        with zipfile.ZipFile(source) as archive:
            names = set(archive.namelist())
            if _META not in names:
                raise ModelFormatError(f"{source}: no {_META} in the archive: not a model file")
            meta = json.loads(archive.read(_META).decode("utf-8"))
            if not isinstance(meta, dict):
                raise ModelFormatError(f"{source}: {_META} is not a JSON object")
            _check_meta(meta, source)
            members: dict[str, bytes] = {}
            for name, digest in dict(meta.get("sha256", {})).items():
                if name not in names:
                    raise ModelFormatError(f"{source}: member {name!r} is missing (corrupt file)")
                data = archive.read(name)
                if hashlib.sha256(data).hexdigest() != digest:
                    raise ModelFormatError(
                        f"{source}: member {name!r} does not match its checksum (corrupt file)"
                    )
                members[name] = data
    except ModelFormatError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise ModelFormatError(f"{source}: not a readable model archive ({exc})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFormatError(f"{source}: {_META} is not valid JSON ({exc})") from exc
    try:
        return _build(meta, members, source)
    except ModelFormatError:
        raise
    except (KeyError, TypeError, ValueError, lgb.basic.LightGBMError) as exc:
        raise ModelFormatError(f"{source}: cannot rebuild the model ({exc})") from exc


_LEARNED = ("LightGBMForecaster", "HybridForecaster")
_CLASSES = (*_LEARNED, "SeasonalNaive", "PersistenceEnsemble")


def _check_meta(meta: dict[str, Any], source: Path) -> None:
    if meta.get("format") != FORMAT_NAME:
        raise ModelFormatError(
            f"{source}: format is {meta.get('format')!r}, expected {FORMAT_NAME!r}"
        )
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFormatError(
            f"{source}: format version {version!r} is not the supported {FORMAT_VERSION}; "
            "refit the model with this version of Bitgoeul"
        )
    cls = meta.get("model_class")
    if cls not in _CLASSES:
        raise ModelFormatError(f"{source}: unknown model class {cls!r}")
    if cls == "HybridForecaster" and not torch_available():
        raise ModelFormatError(
            f"{source}: a lightgbm+mlp model needs PyTorch, which is not installed here: "
            "pip install 'bitgoeul[neural]'"
        )
    if cls in _LEARNED:
        saved = meta.get("feature_names")
        expected = _expected_features(meta)
        if saved != expected:
            saved_list = list(saved) if isinstance(saved, list) else []
            missing = [f for f in expected if f not in saved_list]
            extra = [f for f in saved_list if f not in expected]
            detail = (
                f"missing {missing}, unknown {extra}"
                if missing or extra
                else "same names in another order"
            )
            raise ModelFormatError(
                f"{source}: the model's feature set differs from this version's ({detail}); "
                "refit the model"
            )
        saved_lgb = str(meta.get("versions", {}).get("lightgbm", ""))
        if saved_lgb.split(".")[0] != str(lgb.__version__).split(".")[0]:
            raise ModelFormatError(
                f"{source}: boosters were written by LightGBM {saved_lgb or 'unknown'}, this is "
                f"LightGBM {lgb.__version__} (different major version); refit the model"
            )


def _expected_features(meta: dict[str, Any]) -> list[str]:
    """Return the feature columns this version expects for the saved parameters.

    Files written before the ``meter`` feature have no ``meter_feature``
    parameter: their boosters read ``FEATURE_NAMES`` alone.
    """
    params = meta.get("params")
    meter = isinstance(params, dict) and params.get("meter_feature", False) is True
    return list(feature_columns(meter_feature=meter))


def _build(meta: dict[str, Any], members: dict[str, bytes], source: Path) -> Forecaster:
    cls = meta["model_class"]
    params = dict(meta["params"])
    fitted = meta["fitted"]
    as_of = pd.Timestamp(fitted["as_of"]).tz_convert("UTC")
    if cls in _LEARNED:
        params["quantiles"] = tuple(params["quantiles"])
        params["mask_codes"] = tuple(params["mask_codes"])
        params.setdefault("meter_feature", False)  # files written before the meter feature
        params.setdefault("base", None)  # files written before boosting from the baselines
        model = (HybridForecaster if cls == "HybridForecaster" else LightGBMForecaster)(**params)
        boosters: dict[float, list[lgb.Booster]] = {}
        for level_text, entry in fitted["boosters"].items():
            # one name per level in files written before seed ensembles (point_models)
            names = [entry] if isinstance(entry, str) else list(entry)
            level_boosters = []
            for name in names:
                if name not in members:
                    raise ModelFormatError(f"{source}: booster {name!r} has no checksum entry")
                booster = lgb.Booster(model_str=members[name].decode("utf-8"))
                if list(booster.feature_name()) != list(model.feature_names):
                    raise ModelFormatError(
                        f"{source}: booster {name!r} has features {booster.feature_name()}, "
                        "not this version's feature set; refit the model"
                    )
                level_boosters.append(booster)
            if not level_boosters:
                raise ModelFormatError(f"{source}: level {level_text} has no booster")
            boosters[float(level_text)] = level_boosters
        if set(boosters) != set(model.quantiles):
            raise ModelFormatError(
                f"{source}: boosters for levels {sorted(boosters)} do not match the "
                f"parameters' quantiles {list(model.quantiles)}"
            )
        model.boosters_ = boosters
        model.interval_s_ = int(fitted["interval_s"])
        model.as_of_ = as_of
        model.train_start_ = pd.Timestamp(fitted["train_start"]).tz_convert("UTC")
        model.train_end_ = pd.Timestamp(fitted["train_end"]).tz_convert("UTC")
        model.meters_ = {
            str(k): (float("nan") if v is None else float(v)) for k, v in fitted["meters"].items()
        }
        model.n_train_rows_ = int(fitted["n_train_rows"])
        model.n_calibration_rows_ = int(fitted["n_calibration_rows"])
        shape = (len(model.quantiles), -(-model.max_horizon // steps_per_day(model.interval_s_)))
        model.corrections_ = _table(fitted["corrections"], shape, source)
        model.meter_corrections_ = {
            str(k): _table(v, shape, source) for k, v in fitted["meter_corrections"].items()
        }
        codes = fitted.get("meter_codes", {})
        if model.meter_feature and not codes:
            raise ModelFormatError(f"{source}: the model reads a meter feature but has no codes")
        model.meter_codes_ = {str(k): int(v) for k, v in codes.items()}
        # files written before the per-level start have none: their boosters start at the base
        offsets = {float(k): float(v) for k, v in fitted.get("base_offsets", {}).items()}
        if offsets and set(offsets) != set(model.quantiles):
            raise ModelFormatError(
                f"{source}: base offsets for levels {sorted(offsets)} do not match the "
                f"parameters' quantiles {list(model.quantiles)}"
            )
        model.base_offsets_ = {q: offsets.get(q, 0.0) for q in model.quantiles}
        model.mask_report_ = None
        if isinstance(model, HybridForecaster):
            model.mlp_ = _network(model, fitted, members, source)
        return model
    baseline: SeasonalNaive | PersistenceEnsemble = (
        SeasonalNaive(**params) if cls == "SeasonalNaive" else PersistenceEnsemble(**params)
    )
    baseline.interval_s_ = int(fitted["interval_s"])
    baseline.as_of_ = as_of
    baseline.meters_ = tuple(str(m) for m in fitted["meters"])
    return baseline


def _network(
    model: HybridForecaster, fitted: dict[str, Any], members: dict[str, bytes], source: Path
) -> Any:
    """Rebuild the hybrid's network from ``mlp.npz`` and its configuration, on its device."""
    from bitgoeul.forecast.neural import QuantileMLP

    if "mlp.npz" not in members or not isinstance(fitted.get("mlp"), dict):
        raise ModelFormatError(f"{source}: a lightgbm+mlp model without its network (mlp.npz)")
    with np.load(io.BytesIO(members["mlp.npz"]), allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    config = dict(fitted["mlp"])
    if config.get("quantiles") != list(model.quantiles):
        raise ModelFormatError(
            f"{source}: the network's levels {config.get('quantiles')} are not the model's "
            f"{list(model.quantiles)}"
        )
    width = arrays["fill"].shape if "fill" in arrays else None
    if width != (len(FEATURE_NAMES),):
        raise ModelFormatError(
            f"{source}: the network reads {width} features, this version has "
            f"{len(FEATURE_NAMES)}; refit the model"
        )
    try:
        return QuantileMLP.from_arrays(config, arrays, device=model.device)
    except (KeyError, ValueError) as exc:
        raise ModelFormatError(f"{source}: cannot rebuild the network ({exc})") from exc


def _table(values: Any, shape: tuple[int, int], source: Path) -> npt.NDArray[np.float64]:
    table = np.asarray(values, dtype=np.float64)
    if table.shape != shape or not np.isfinite(table).all():
        raise ModelFormatError(
            f"{source}: a calibration table has shape {table.shape}, expected {shape} of finite "
            "numbers (corrupt file)"
        )
    return table
