"""Turn results (dataclasses, datetimes, tuples, enums) into JSON-ready values."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any

__all__ = ["to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Return ``value`` as plain JSON types: datetimes in ISO 8601, NaN as None, others as str.

    Examples
    --------
    >>> import datetime as dt
    >>> to_jsonable({"on": dt.date(2026, 1, 2), "kwh": (1.5, float("nan"))})
    {'on': '2026-01-02', 'kwh': [1.5, None]}
    """
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return to_jsonable(value.item())
    return str(value)
