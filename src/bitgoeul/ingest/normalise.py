"""Turn parsed values into interval energy [kWh].

Unit scaling, power to energy and cumulative-register differencing.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bitgoeul.errors import IngestError
from bitgoeul.ingest.source import MeterHint
from bitgoeul.model import DataIssue, Measurement

__all__ = ["UNIT_TO_KILO", "infer_interval_s", "registers_to_energy", "values_to_energy"]

UNIT_TO_KILO = {"Wh": 1e-3, "kWh": 1.0, "MWh": 1e3, "W": 1e-3, "kW": 1.0, "MW": 1e3}
"""Factor from a source unit to kWh (energy units) or kW (power units)."""

_ENERGY_UNITS = {"Wh", "kWh", "MWh"}
_POWER_UNITS = {"W", "kW", "MW"}


def _check_unit(hint: MeterHint, source: str) -> float:
    if hint.unit not in UNIT_TO_KILO:
        raise IngestError(
            f"meter {hint.meter_id!r}: unknown unit {hint.unit!r}; use one of "
            f"{', '.join(UNIT_TO_KILO)}",
            source=source,
        )
    wants_power = hint.measurement == Measurement.INSTANTANEOUS_POWER
    if wants_power and hint.unit not in _POWER_UNITS:
        raise IngestError(
            f"meter {hint.meter_id!r}: power readings need a power unit (W, kW, MW), "
            f"not {hint.unit!r}",
            source=source,
        )
    if not wants_power and hint.unit not in _ENERGY_UNITS:
        raise IngestError(
            f"meter {hint.meter_id!r}: {hint.measurement} readings need an energy unit "
            f"(Wh, kWh, MWh), not {hint.unit!r}; pass --measurement instantaneous_power for power",
            source=source,
        )
    return UNIT_TO_KILO[hint.unit]


def infer_interval_s(batch: pa.RecordBatch | pa.Table) -> dict[str, int]:
    """Return each meter's most common step between consecutive timestamps [s].

    Parameters
    ----------
    batch : pyarrow.RecordBatch or pyarrow.Table
        Columns meter_id and ts.

    Returns
    -------
    dict of str to int
        Meters with at least two distinct timestamps.
    """
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    table = table.select(["meter_id", "ts"]).sort_by(
        [("meter_id", "ascending"), ("ts", "ascending")]
    )
    meters = table.column("meter_id").combine_chunks()
    ts = table.column("ts").cast(pa.int64()).to_numpy()
    if len(ts) < 2:
        return {}
    codes = pc.dictionary_encode(meters).indices.to_numpy(zero_copy_only=False)
    same = codes[1:] == codes[:-1]
    steps = np.diff(ts)[same] // 1_000_000
    owners = codes[1:][same]
    keep = steps > 0
    steps, owners = steps[keep], owners[keep]
    names = pc.dictionary_encode(meters).dictionary.to_pylist()
    result: dict[str, int] = {}
    for code in np.unique(owners):
        values, counts = np.unique(steps[owners == code], return_counts=True)
        result[names[int(code)]] = int(values[np.argmax(counts)])
    return result


def values_to_energy(
    batch: pa.RecordBatch, hints: dict[str, MeterHint], source: str
) -> pa.RecordBatch:
    """Convert a raw batch of interval-energy or power readings to energy [kWh].

    Parameters
    ----------
    batch : pyarrow.RecordBatch
        Columns meter_id, ts, value, line (:data:`bitgoeul.ingest.source.RAW_SCHEMA`).
    hints : dict of str to MeterHint
        Unit, measurement and interval [s] of each meter.
    source : str
        Source name for error messages.

    Returns
    -------
    pyarrow.RecordBatch
        Columns meter_id, ts, energy_kwh [kWh], line.

    Examples
    --------
    >>> import datetime as dt, pyarrow as pa
    >>> from bitgoeul.ingest.source import RAW_SCHEMA, MeterHint
    >>> row = {"meter_id": "m", "ts": dt.datetime(2025, 1, 1, tzinfo=dt.UTC), "value": 2000.0,
    ...        "line": 2}
    >>> b = pa.RecordBatch.from_pylist([row], schema=RAW_SCHEMA)
    >>> values_to_energy(b, {"m": MeterHint("m", unit="W", measurement="instantaneous_power",
    ...                                     interval_s=900)}, "x").column("energy_kwh")[0].as_py()
    0.5
    """
    meters = pc.unique(batch.column("meter_id")).to_pylist()
    factors: dict[str, float] = {}
    for m in meters:
        hint = hints[m]
        if hint.measurement == Measurement.CUMULATIVE_REGISTER:
            raise ValueError("registers are differenced by registers_to_energy, not here")
        factor = _check_unit(hint, source)
        if hint.measurement == Measurement.INSTANTANEOUS_POWER:
            if not hint.interval_s:
                raise IngestError(
                    f"meter {m!r}: power readings become energy only with a known interval; "
                    "pass --interval (e.g. 900 for 15 minutes)",
                    source=source,
                )
            factor *= hint.interval_s / 3600.0
        factors[m] = factor
    values = batch.column("value")
    if len(set(factors.values())) == 1:
        energy = pc.multiply(values, pa.scalar(next(iter(factors.values()))))
    else:
        keys = pa.array(list(factors))
        table = np.array(list(factors.values()))
        idx = pc.index_in(batch.column("meter_id"), value_set=keys).to_numpy(zero_copy_only=False)
        energy = pc.multiply(values, pa.array(table[idx]))
    return pa.RecordBatch.from_arrays(
        [batch.column("meter_id"), batch.column("ts"), energy, batch.column("line")],
        names=["meter_id", "ts", "energy_kwh", "line"],
    )


def registers_to_energy(
    raw: pa.Table,
    hints: dict[str, MeterHint],
    previous: dict[str, tuple[dt.datetime, float]],
    source: str,
) -> tuple[pa.Table, list[DataIssue]]:
    """Difference cumulative register readings into interval energy.

    A register read at ``t_k`` closes the interval ``[t_{k-1}, t_k)``, which gets
    ``value_k - value_{k-1}``. A fall of the register is a *rollover* when the
    previous value sits in the top 10% of a power-of-ten register size (e.g.
    99,990 -> 12 on a 5-digit register), else a *reset* (meter replaced or
    cleared): the interval then gets the new value itself, and a DataIssue
    ``register_reset`` says so.

    Parameters
    ----------
    raw : pyarrow.Table
        Register readings (meter_id, ts = read instant, value, line).
    hints : dict of str to MeterHint
        Unit of each meter (Wh, kWh or MWh).
    previous : dict of str to (datetime, float)
        Last stored register value before this batch, per meter.
    source : str
        Source name for messages.

    Returns
    -------
    (pyarrow.Table, list of DataIssue)
        Readings (meter_id, ts = interval start, energy_kwh, line) and findings.
    """
    frames: list[pa.Table] = []
    issues: list[DataIssue] = []
    for meter_id in pc.unique(raw.column("meter_id")).to_pylist():
        part = raw.filter(pc.equal(raw.column("meter_id"), meter_id)).sort_by("ts")
        factor = _check_unit(hints[meter_id], source)
        ts = part.column("ts").cast(pa.int64()).to_numpy()
        values = part.column("value").to_numpy() * factor
        lines = part.column("line").to_numpy()
        if meter_id in previous:
            prev_ts, prev_value = previous[meter_id]
            prev_us = int(prev_ts.astimezone(dt.UTC).timestamp() * 1_000_000)
            ts = np.concatenate([[prev_us], ts])
            values = np.concatenate([[prev_value * factor], values])
            lines = np.concatenate([[0], lines])
        if len(ts) < 2:
            continue
        delta = np.diff(values)
        falls = np.flatnonzero(delta < 0)
        for i in falls:
            before, after = values[i], values[i + 1]
            size = 10.0 ** np.ceil(np.log10(max(before, 1.0)))
            start = dt.datetime.fromtimestamp(ts[i] / 1e6, dt.UTC)
            end = dt.datetime.fromtimestamp(ts[i + 1] / 1e6, dt.UTC)
            if before >= 0.9 * size and after < 0.1 * size:
                delta[i] = size - before + after
                code, what = "register_rollover", f"rolled over at {size:g}"
            else:
                delta[i] = after
                code, what = "register_reset", "was reset (or the meter replaced)"
            issues.append(
                DataIssue(
                    code=code,
                    meter_id=meter_id,
                    start=start,
                    end=end,
                    message=(
                        f"register {what}: {before:g} -> {after:g} kWh at line "
                        f"{int(lines[i + 1])} of {source}"
                    ),
                    data={"before_kwh": float(before), "after_kwh": float(after)},
                )
            )
        frames.append(
            pa.table(
                {
                    "meter_id": pa.array([meter_id] * len(delta), pa.string()),
                    "ts": pa.array(ts[:-1], pa.timestamp("us", tz="UTC")),
                    "energy_kwh": pa.array(delta, pa.float64()),
                    "line": pa.array(lines[1:], pa.int64()),
                }
            )
        )
    if not frames:
        return (
            pa.table(
                {
                    "meter_id": pa.array([], pa.string()),
                    "ts": pa.array([], pa.timestamp("us", tz="UTC")),
                    "energy_kwh": pa.array([], pa.float64()),
                    "line": pa.array([], pa.int64()),
                }
            ),
            issues,
        )
    return pa.concat_tables(frames), issues
