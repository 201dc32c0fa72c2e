"""Use cases: KEPCO bills, for a kWh figure or a stored meter's billing cycle.

:func:`calculate_bill` is the calculator for people without a meter in the
store. :func:`bill_meter` bills one of a stored meter's cycles from its own
contract and meter-reading day (검침일): a finished cycle is billed on what was
measured; the cycle in progress also gets its month-end forecast as P10/P50/P90
energy and bills, the next tier boundary with the date it is projected to be
crossed, the price of the next kWh, and the energy-cashback estimate against
the same cycle of the two years before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd

from bitgoeul.analytics.compare import period_bounds_utc
from bitgoeul.analytics.cycle_forecast import (
    CycleEnergyForecast,
    CycleEnergyForecaster,
    forecast_cycle_energy,
    project_crossing_date,
)
from bitgoeul.analytics.cycles import (
    BillingCycle,
    billing_cycle_for,
    cycle_by_label,
    shift_cycle,
)
from bitgoeul.errors import NotFoundError, TariffError
from bitgoeul.forecast.series import country_of_zone
from bitgoeul.model import Meter
from bitgoeul.store import MeterStore
from bitgoeul.tariff import (
    Bill,
    Cashback,
    TariffBook,
    TierStatus,
    compute_bill,
    compute_tou_bill,
    estimate_cashback,
    load_tariffs,
    tier_status,
)

if TYPE_CHECKING:
    from bitgoeul.services.forecast import ModelCache  # imports LightGBM: only when it is used

__all__ = [
    "BillForecast",
    "MeterBill",
    "TierCrossing",
    "bill_meter",
    "calculate_bill",
    "contract_for",
]

HISTORY_DAYS = 400
"""Days of history before the cycle given to the month-end forecaster [d]."""

COMPLETE_SHARE = 0.9
"""Share of a cycle's expected readings a baseline cycle needs for the cashback."""


def _book(tariff_files: Sequence[str | Path]) -> TariffBook:
    return load_tariffs(extra_paths=tariff_files)


def calculate_bill(
    energy_kwh: float | Decimal,
    start: dt.date,
    end: dt.date,
    *,
    contract: str = "residential-low",
    tariff_files: Sequence[str | Path] = (),
) -> Bill:
    """Return the KEPCO bill of a usage over a billing period (calculator mode).

    Parameters
    ----------
    energy_kwh : float or Decimal
        Energy used in the period [kWh].
    start, end : datetime.date
        First and last day of the billing period (inclusive).
    contract : str
        Tariff contract key, e.g. 'residential-low' or 'residential-high'.
    tariff_files : sequence of path
        Extra tariff files (TOML) that add to or override the packaged ones.

    Returns
    -------
    Bill

    Examples
    --------
    >>> import datetime as dt
    >>> calculate_bill(350, dt.date(2025, 8, 1), dt.date(2025, 8, 31)).total_won
    59980
    """
    return compute_bill(energy_kwh, start, end, contract=contract, book=_book(tariff_files))


def contract_for(meter: Meter) -> tuple[str, list[str]]:
    """Return the tariff contract key a meter is billed on, with notes on any assumption.

    A meter without a contract class is billed as a low-voltage residential
    customer (주택용 저압), the most common contract; a class of plain
    'residential' takes its voltage from the meter.
    """
    notes: list[str] = []
    cls = (meter.contract_class or "").strip().lower()
    if not cls:
        notes.append(
            "the meter has no contract class: billed as residential-low (주택용 저압); "
            "set it with --contract when ingesting"
        )
        return "residential-low", notes
    if cls in ("residential", "주택용"):
        voltage = (meter.voltage or "low").strip().lower()
        return ("residential-high" if voltage.startswith("high") else "residential-low"), notes
    return cls, notes


@dataclass(frozen=True, slots=True)
class BillForecast:
    """The month-end forecast of a cycle in progress, in energy and in won.

    Attributes
    ----------
    energy : CycleEnergyForecast
        Energy so far and P10/P50/P90 energy at the cycle's end [kWh].
    bills : dict of str to Bill
        The bill of each quantile, keys 'p10', 'p50', 'p90' (a bill never
        falls when usage rises, so these are the quantiles of the bill).
    """

    energy: CycleEnergyForecast
    bills: dict[str, Bill]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (the daily path left out)."""
        energy = self.energy.to_dict()
        energy.pop("daily", None)
        return {
            **energy,
            "bills": {k: b.won() for k, b in self.bills.items()},
        }


@dataclass(frozen=True, slots=True)
class TierCrossing:
    """A tier boundary the month-end forecast band reaches, and when.

    Attributes
    ----------
    boundary_kwh : Decimal
        Cycle usage above which the next block applies [kWh] (200/400, 300/450
        in July-August, 1,000 in super-user months; prorated across seasons).
    date_p50 : datetime.date or None
        Day it is crossed on the P50 path; None if the P50 stays below it.
    date_p90 : datetime.date or None
        Earliest plausible day: the day it is crossed on the P90 path.
    basic_jump_won : Decimal
        Increase of the basic charge there [won], before VAT and fund.
    """

    boundary_kwh: Decimal
    date_p50: dt.date | None
    date_p90: dt.date | None
    basic_jump_won: Decimal

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return {
            "boundary_kwh": str(self.boundary_kwh),
            "date_p50": None if self.date_p50 is None else self.date_p50.isoformat(),
            "date_p90": None if self.date_p90 is None else self.date_p90.isoformat(),
            "basic_jump_won": str(self.basic_jump_won),
        }


@dataclass(frozen=True, slots=True)
class MeterBill:
    """A stored meter's bill for one billing cycle.

    Attributes
    ----------
    meter_id : str
        Meter.
    contract : str
        Tariff contract key.
    cycle : BillingCycle
        The billing cycle (dates inclusive, labelled by the closing reading's month).
    as_of : datetime.date
        First local day not measured: readings from this day on are ignored.
    complete : bool
        True when the whole cycle lies before ``as_of``.
    energy_kwh : float
        Measured energy in the cycle before ``as_of`` [kWh].
    readings : int
        Readings summed [count].
    expected_readings : int or None
        Readings the measured days should hold at the meter's interval [count].
    bill : Bill
        The bill of the measured energy over the whole cycle: the final bill
        for a complete cycle, the bill so far for one in progress.
    forecast : BillForecast or None
        Month-end P10/P50/P90 (cycle in progress only).
    tier : TierStatus or None
        Tier of the energy so far, the next boundary and the price of the next
        kWh (residential contracts).
    crossings : tuple of TierCrossing
        Boundaries above the usage so far that the forecast band reaches
        (cycle in progress, residential), with the projected days.
    cashback : Cashback or None
        Energy cashback estimate against the same cycle of the previous two
        years: on the measured energy for a complete cycle, on the P50 for one
        in progress. None without a year of history.
    notes : tuple of str
        Assumptions and data problems.
    """

    meter_id: str
    contract: str
    cycle: BillingCycle
    as_of: dt.date
    complete: bool
    energy_kwh: float
    readings: int
    expected_readings: int | None
    bill: Bill
    forecast: BillForecast | None = None
    tier: TierStatus | None = None
    crossings: tuple[TierCrossing, ...] = ()
    cashback: Cashback | None = None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return {
            "meter_id": self.meter_id,
            "contract": self.contract,
            "cycle": {
                "label": self.cycle.label,
                "start": self.cycle.start.isoformat(),
                "end": self.cycle.end.isoformat(),
                "days": self.cycle.days,
                "reading_day": self.cycle.reading_day,
            },
            "as_of": self.as_of.isoformat(),
            "complete": self.complete,
            "energy_kwh": round(self.energy_kwh, 3),
            "readings": self.readings,
            "expected_readings": self.expected_readings,
            "bill": self.bill.to_dict(),
            "forecast": None if self.forecast is None else self.forecast.to_dict(),
            "tier": None if self.tier is None else self.tier.to_dict(),
            "crossings": [c.to_dict() for c in self.crossings],
            "cashback": None if self.cashback is None else self.cashback.to_dict(),
            "notes": list(self.notes),
        }


def _local_span(store: MeterStore, meter: Meter) -> tuple[dt.date, dt.date] | None:
    """Return the local days of a meter's first and last readings; None without readings."""
    summary = next(iter(store.list_meters([meter.meter_id])), None)
    if summary is None or summary.first_ts is None or summary.last_ts is None:
        return None
    zone = ZoneInfo(meter.timezone)
    return summary.first_ts.astimezone(zone).date(), summary.last_ts.astimezone(zone).date()


def _daily_kwh(
    store: MeterStore, meter: Meter, first: dt.date, last: dt.date
) -> tuple[pd.Series, pd.Series]:
    """Return energy [kWh] and reading counts per local day, days with no reading absent."""
    from bitgoeul.services.usage import usage

    periods = usage(store, meter.meter_id, "day", start=first, end=last)
    index = [p.start.date() for p in periods]
    energy = pd.Series([p.energy_kwh for p in periods], index=index, dtype="float64")
    counts = pd.Series([p.readings for p in periods], index=index, dtype="int64")
    return energy, counts


def _cycle_energy(store: MeterStore, meter: Meter, cycle: BillingCycle) -> tuple[float, int]:
    lo, hi = period_bounds_utc(cycle.start, cycle.end, timezone=meter.timezone)
    [(total, count)] = store.sum_energy(meter.meter_id, [(lo, hi)])
    return total, count


def bill_meter(
    store: MeterStore,
    meter_id: str,
    *,
    cycle: str | None = None,
    as_of: dt.date | None = None,
    forecaster: CycleEnergyForecaster | None = None,
    model: str | None = None,
    tariff_files: Sequence[str | Path] = (),
    cache: ModelCache | None = None,
) -> MeterBill:
    """Return a stored meter's bill for one billing cycle, with its forecast if unfinished.

    Parameters
    ----------
    store : MeterStore
        Where the meter and its readings are.
    meter_id : str
        Meter; its contract class, voltage, contracted kW and reading day are used.
    cycle : str, optional
        Bill month ``'YYYY-MM'`` (the month of the reading that closes the
        cycle, KEPCO's N월분); default the cycle holding the last measured day.
    as_of : datetime.date, optional
        First local day treated as not yet measured; default the day after
        the meter's last reading. Readings on or after it are ignored, so a
        past date replays what the forecast would have said then.
    forecaster : CycleEnergyForecaster, optional
        Model for the days not yet measured; default the meter's own
        weekday/weekend/holiday profile and recent level.
    model : str, optional
        Name of a load-forecasting model (:data:`bitgoeul.services.forecast.MODELS`)
        to forecast the days not yet measured instead, fitted on the meter's
        readings before ``as_of``; beyond the model's horizon the profile
        forecaster takes over.
    tariff_files : sequence of path
        Extra tariff files that add to or override the packaged ones.
    cache : ModelCache, optional
        Where ``model``'s fit is kept and looked up (by what it read), so that
        asking again as of the same day does not fit again.

    Returns
    -------
    MeterBill

    Raises
    ------
    NotFoundError
        If the meter does not exist, holds no readings, or none in ``cycle``.
    ValueError
        If ``cycle`` begins on or after ``as_of``.
    TariffError
        If the contract is unknown or the cycle is before the tariff data.
    """
    meter = store.get_meter(meter_id)
    book = _book(tariff_files)
    contract, notes = contract_for(meter)
    span = _local_span(store, meter)
    if span is None:
        raise NotFoundError(f"meter {meter_id!r} holds no readings to bill")
    first_day, last_day = span
    as_of = as_of or last_day + dt.timedelta(days=1)
    latest = billing_cycle_for(as_of - dt.timedelta(days=1), meter.reading_day)
    billing = latest if cycle is None else cycle_by_label(cycle, meter.reading_day)
    where = f"cycle {billing.label} ({billing.start} .. {billing.end})"
    if billing.end < first_day:
        raise NotFoundError(
            f"meter {meter_id!r} has no readings in {where}: they run from {first_day} to "
            f"{last_day}"
        )
    if billing.start >= as_of:
        raise ValueError(
            f"{where} has not begun as of {as_of} (the first day not yet measured); the "
            f"latest cycle is {latest.label}: its bill comes with the month-end forecast"
        )
    complete = as_of > billing.end
    observed_end = min(billing.end, as_of - dt.timedelta(days=1))
    if observed_end < billing.start:
        energy_kwh, readings = 0.0, 0
    else:
        lo, hi = period_bounds_utc(billing.start, observed_end, timezone=meter.timezone)
        [(energy_kwh, readings)] = store.sum_energy(meter.meter_id, [(lo, hi)])
    per_day = 86_400 // meter.interval_s if meter.interval_s else None
    observed_days = max((observed_end - billing.start).days + 1, 0)
    expected = per_day * observed_days if per_day else None
    if expected and readings < expected:
        notes.append(
            f"{expected - readings} of {expected} readings are missing in the measured days: "
            "the bill so far counts only what was measured"
            + ("" if complete else "; the forecast fills the missing days")
        )
    if not complete and as_of <= last_day:
        notes.append(f"readings from {as_of.isoformat()} on are ignored (as of that day)")

    is_tou = contract not in ("residential-low", "residential-high")
    if is_tou:
        bill = _tou_bill(store, meter, billing, observed_end, contract, book, notes)
    else:
        bill = compute_bill(
            Decimal(str(round(energy_kwh, 3))),
            billing.start,
            billing.end,
            contract=contract,
            book=book,
        )
    result = MeterBill(
        meter_id=meter.meter_id,
        contract=contract,
        cycle=billing,
        as_of=as_of,
        complete=complete,
        energy_kwh=energy_kwh,
        readings=readings,
        expected_readings=expected,
        bill=bill,
        notes=tuple(notes),
    )
    if is_tou:
        return result

    forecast = None
    if not complete and model is not None and forecaster is None:
        forecaster = _model_forecaster(store, meter, model, as_of, cache)
    if not complete:
        daily, counts = _daily_kwh(
            store, meter, billing.start - dt.timedelta(days=HISTORY_DAYS), observed_end
        )
        if per_day:
            daily = daily.where(counts >= per_day)  # a partly measured day is not measured
    measured_days = 0 if complete else int(daily[daily.index < as_of].notna().sum())
    if not complete and measured_days == 0:
        # A meter registered today: the bill so far stands, the forecast waits for data.
        notes.append(
            "no month-end forecast yet: it needs at least one fully measured day before as_of"
        )
    elif not complete:
        energy = forecast_cycle_energy(
            daily,
            billing,
            as_of=as_of,
            forecaster=forecaster,
            holidays_country=country_of_zone(meter.timezone),
        )
        bills = {
            name: compute_bill(
                Decimal(str(round(kwh, 3))),
                billing.start,
                billing.end,
                contract=contract,
                book=book,
            )
            for name, kwh in (
                ("p10", energy.p10_kwh),
                ("p50", energy.p50_kwh),
                ("p90", energy.p90_kwh),
            )
        }
        forecast = BillForecast(energy=energy, bills=bills)
    status = tier_status(
        Decimal(str(round(energy_kwh, 3))), billing.start, billing.end, contract=contract, book=book
    )
    crossings: list[TierCrossing] = []
    if forecast is not None:
        for bound in status.boundaries_kwh:
            if bound < status.kwh or float(bound) >= forecast.energy.p90_kwh:
                continue
            at = tier_status(bound, billing.start, billing.end, contract=contract, book=book)
            crossings.append(
                TierCrossing(
                    boundary_kwh=bound,
                    date_p50=project_crossing_date(forecast.energy, float(bound)),
                    date_p90=project_crossing_date(forecast.energy, float(bound), path="p90"),
                    basic_jump_won=at.basic_jump_won,
                )
            )
    cashback = _cashback(
        store,
        meter,
        billing,
        forecast.energy.p50_kwh if forecast is not None else energy_kwh,
        per_day,
        book,
    )
    return MeterBill(
        meter_id=result.meter_id,
        contract=contract,
        cycle=billing,
        as_of=as_of,
        complete=complete,
        energy_kwh=energy_kwh,
        readings=readings,
        expected_readings=expected,
        bill=bill,
        forecast=forecast,
        tier=status,
        crossings=tuple(crossings),
        cashback=cashback,
        notes=tuple(notes),
    )


def _cashback(
    store: MeterStore,
    meter: Meter,
    billing: BillingCycle,
    energy_kwh: float,
    per_day: int | None,
    book: TariffBook,
) -> Cashback | None:
    """Cashback against the same cycle one and two years before, where fully measured."""
    baseline = []
    for years in (1, 2):
        past = shift_cycle(billing, -12 * years)
        total, count = _cycle_energy(store, meter, past)
        if count and (per_day is None or count >= COMPLETE_SHARE * per_day * past.days):
            baseline.append(total)
    if not baseline:
        return None
    return estimate_cashback(
        Decimal(str(round(energy_kwh, 3))),
        [Decimal(str(round(b, 3))) for b in baseline],
        start=billing.start,
        book=book,
    )


def _tou_bill(
    store: MeterStore,
    meter: Meter,
    billing: BillingCycle,
    observed_end: dt.date,
    contract: str,
    book: TariffBook,
    notes: list[str],
) -> Bill:
    """Bill a time-of-use contract from the meter's hourly energy."""
    if meter.contract_kw is None:
        raise TariffError(
            f"meter {meter.meter_id!r} is on the {contract} contract, whose basic charge is per "
            "contracted kW: set its contract_kw"
        )
    zone = ZoneInfo(meter.timezone)
    if observed_end < billing.start:
        hourly = pd.Series([], index=pd.DatetimeIndex([], tz=zone), dtype="float64")
    else:
        lo, hi = period_bounds_utc(billing.start, observed_end, timezone=meter.timezone)
        # Hours in UTC, then shown in the meter's zone: exact through clock changes.
        table = store.rollup(meter.meter_id, "hour", timezone="UTC", start=lo, end=hi)
        starts = pd.DatetimeIndex(table.column("period_start").to_pandas()).tz_localize("UTC")
        hourly = pd.Series(
            table.column("energy_kwh").to_numpy(), index=starts.tz_convert(zone), dtype="float64"
        )
    notes.append(
        "the basic charge uses the contracted kW; KEPCO bills the highest 15-minute demand of "
        "the last 12 months' peak seasons (요금적용전력), at least 30 % of the contract"
    )
    return compute_tou_bill(
        hourly,
        billing.start,
        billing.end,
        contract=contract,
        demand_kw=float(meter.contract_kw),
        book=book,
    )


def _model_forecaster(
    store: MeterStore, meter: Meter, model: str, as_of: dt.date, cache: ModelCache | None
) -> CycleEnergyForecaster:
    """Fit (or find in ``cache``) a load model as of local midnight, adapted to cycle forecasts."""
    from bitgoeul.forecast.cycle import ModelCycleForecaster
    from bitgoeul.forecast.quality import find_and_mask
    from bitgoeul.services.forecast import fit_cached, load_history, make_model

    if not meter.interval_s:
        raise NotFoundError(f"meter {meter.meter_id!r} has no known interval to forecast with")
    origin = pd.Timestamp(dt.datetime.combine(as_of, dt.time(0)), tz=ZoneInfo(meter.timezone))
    history = load_history(store, [meter.meter_id], before=origin, days=HISTORY_DAYS)
    masked, _ = find_and_mask(
        history, interval_s=meter.interval_s, timezone=meter.timezone, as_of=origin
    )
    fitted = fit_cached(
        cache,
        make_model(model, timezone=meter.timezone),  # 7-day horizon
        masked,
        history=history,
        as_of=origin,
        context=("bill", meter.timezone, meter.interval_s, HISTORY_DAYS),
    )
    return ModelCycleForecaster(fitted, masked, meter_id=meter.meter_id, timezone=meter.timezone)
