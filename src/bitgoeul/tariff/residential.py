"""주택용 (residential) bills: block pricing over a billing period, prorated by days.

The rules (``docs/kepco-tariff-and-dr.md`` §1) and the choices made where the notes
mark a rule unverified:

Blocks and basic charge
    Energy is priced in cumulative blocks (like tax brackets) whose upper bounds depend
    on the calendar month (200/400 kWh; 300/450 in Jul-Aug; a super-user block above
    1,000 kWh in Jul-Aug and Dec-Feb). The basic charge is the one value of the block
    the usage falls in (not cumulative).
Proration (KEPCO's rule, reproduced by vector V6)
    When the period spans a change of any rate or of the month's bounds, it is cut into
    segments at those dates. Segment *i* of *d_i* of the period's *D* days gets the
    share ``E x d_i / D`` of the usage and the bounds ``b_i x d_i / D``, and its
    charges at its own rates. Equivalently every charge is the day-weighted mean of the
    charge the whole period would have under each segment's rules; the bill's
    components are exact sums, rounded once. Consequences: in a period spanning June
    and July the bill steps at 200 kWh (for the June share) *and* at 300 kWh (for the
    July share), each step prorated by days.
Basic charge across segments (UNVERIFIED)
    Prorated like the energy charge: ``sum(basic[tier_i] x d_i) / D``, where ``tier_i``
    is the block of the usage under segment *i*'s bounds, as [dugurs] does. When the
    bounds do not change inside the period this is exactly the basic charge of the
    block the total falls in.
Fuel adjustment across a quarter change (UNVERIFIED): option ``fuel_proration``
    ``'days'`` (default) prorates it by days like every other per-kWh charge, because
    KEPCO announces each quarterly unit price "for usage from" its first day and prorates
    the energy and climate charges that way (V6). ``'start'`` applies the value in force
    on the first day of the period to all of it, as [dugurs] does ("연료비조정액은
    일수계산 안 함", a comment without a source). The two differ only for periods
    spanning 2021-10-01 (-3 -> 0) and 2022-07-01 (0 -> +5) in the packaged data.
Power-industry fund rate across a change (UNVERIFIED): option ``fund_proration``
    ``'days'`` (default) applies ``subtotal x sum(rate_i x d_i) / D``, as [dugurs] does
    and as "for usage from 2024-07-01" reads; ``'start'`` applies the rate on the first
    day.
Essential-use deduction (필수사용량 보장공제, until 2022-06)
    For usage <= 200 kWh: ``min(limit, basic + energy + climate + fuel - 1,000)``,
    never below 0, with the limit prorated by days across 2021-07-01 and 2022-07-01
    (UNVERIFIED; the limit is 4,000 / 2,000 / 0 won for low voltage).
VAT and rounding
    The values in force on the last day of the period (they do not change in the data).
Irregular periods
    The bounds and the basic charge are monthly values applied to the period as a
    whole, whatever its length. KEPCO's rule for periods much shorter or longer than a
    month (moving in or out) is not in the notes; bills of fewer than 28 or more than 31
    days carry a note saying so.
Energy
    To the watt-hour (see :func:`bitgoeul.tariff.inputs.to_kwh`); KEPCO bills whole kWh,
    so pass the meter's integer kWh to reproduce a KEPCO bill.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from bitgoeul.errors import TariffError
from bitgoeul.tariff.bill import Bill, BillLine, display_kwh, display_won, round_won
from bitgoeul.tariff.book import (
    ContractInfo,
    Deduction,
    Rounding,
    TariffBook,
    TariffValue,
    default_book,
)
from bitgoeul.tariff.inputs import Proration, check_period, check_proration, to_kwh

__all__ = ["TierStatus", "compute_bill", "tier_status"]

_CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN)
_SERIES = ("tier_bounds_kwh", "basic_won", "energy_won_per_kwh", "deduction")
_MARGINAL_QUANTUM = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Params:
    """Everything that prices one segment of a residential billing period."""

    bounds: tuple[Decimal, ...]
    energy: tuple[Decimal, ...]
    basic: tuple[Decimal, ...]
    deduction: Deduction
    climate: Decimal
    fuel: Decimal
    fund: Decimal


@dataclass(frozen=True, slots=True)
class Segment:
    """Consecutive days of a billing period priced by the same :class:`Params`."""

    first: dt.date
    last: dt.date
    days: int
    params: Params


@dataclass(frozen=True, slots=True)
class Plan:
    """A residential billing period cut into segments, with the period-wide values."""

    info: ContractInfo
    start: dt.date
    end: dt.date
    days: int
    segments: tuple[Segment, ...]
    fuel_start: Decimal | None
    fund_start: Decimal | None
    vat: Decimal
    rounding: Rounding
    used: tuple[TariffValue, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Charges:
    """Exact charges as numerators over the period's days (fuel and fund over their own)."""

    basic: Decimal
    energy: Decimal
    climate: Decimal
    fuel: Decimal
    fuel_den: int
    limit: Decimal
    offset: Decimal
    fund: Decimal
    fund_den: int
    tier: int


@dataclass(frozen=True, slots=True)
class TierStatus:
    """Where usage stands against the residential blocks of a billing period.

    Parameters
    ----------
    contract : str
        Contract key.
    start, end : datetime.date
        The billing period (inclusive).
    kwh : Decimal
        Usage the status is for [kWh] (so far, or forecast for the whole period).
    tier : int
        Highest block the usage reaches in any part of the period: 1-3, 4 = super-user.
    next_boundary_kwh : Decimal or None
        The next usage at which the bill steps to a higher block [kWh]: the smallest
        block bound of any segment that is >= ``kwh`` (200/400, 300/450 in Jul-Aug,
        1,000 in super-user months). None above the last bound.
    kwh_to_boundary : Decimal or None
        ``next_boundary_kwh - kwh`` [kWh]: what can still be used in this block.
    basic_jump_won : Decimal
        Increase of the basic charge when usage passes ``next_boundary_kwh`` [won],
        before VAT and fund; prorated by days when only part of the period has that
        bound (e.g. 690 x 16/30 for the June share of a June-July period).
    marginal_won_per_kwh : Decimal
        Cost of the next kWh [won]: the exact change of the bill total, before any
        rounding (no component cuts, no VAT rounding, no 10-won cuts), from ``kwh`` to
        ``kwh + 1``, including energy, climate, fuel, deduction, VAT and fund. When
        the next kWh crosses a bound it includes the basic-charge jump. Rounded to
        0.0001 won.
    boundaries_kwh : tuple of Decimal
        Every block bound of the period's segments, ascending [kWh].
    notes, warnings : tuple of str
        As in :class:`~bitgoeul.tariff.Bill`.
    """

    contract: str
    start: dt.date
    end: dt.date
    kwh: Decimal
    tier: int
    next_boundary_kwh: Decimal | None
    kwh_to_boundary: Decimal | None
    basic_jump_won: Decimal
    marginal_won_per_kwh: Decimal
    boundaries_kwh: tuple[Decimal, ...]
    notes: tuple[str, ...]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (dates ISO, decimals as strings)."""

        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "contract": self.contract,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "kwh": str(self.kwh),
            "tier": self.tier,
            "next_boundary_kwh": text(self.next_boundary_kwh),
            "kwh_to_boundary": text(self.kwh_to_boundary),
            "basic_jump_won": str(self.basic_jump_won),
            "marginal_won_per_kwh": str(self.marginal_won_per_kwh),
            "boundaries_kwh": [str(b) for b in self.boundaries_kwh],
            "notes": list(self.notes),
            "warnings": list(self.warnings),
        }


# -- planning: cut the period into segments ------------------------------------------------
def residential_contract(book: TariffBook, contract: str) -> ContractInfo:
    """Return the contract's info; TariffError unless it is a residential contract."""
    info = book.contract(contract)
    if info.kind != "residential":
        raise TariffError(
            f"contract {contract!r} is a {info.kind} contract, billed per kW of demand"
            + (" and per load period" if info.kind == "tou" else "")
            + ": use compute_tou_bill(energy_by_hour, start, end, contract=..., demand_kw=...) "
            "with interval data"
        )
    return info


def params_at(
    book: TariffBook,
    info: ContractInfo,
    day: dt.date,
    *,
    fuel_day: dt.date,
    fund_day: dt.date,
    used: dict[tuple[str, dt.date], TariffValue],
) -> Params:
    """Return the residential pricing in force on ``day`` (fuel and fund on their own days)."""

    def get(key: str, on: dt.date) -> Any:
        entry = book.value_at(key, on)
        used[(entry.key, entry.effective_from)] = entry
        return entry.value

    key = info.key
    bounds: tuple[Decimal, ...] = get(f"{key}.tier_bounds_kwh", day)[day.month - 1]
    energy: tuple[Decimal, ...] = get(f"{key}.energy_won_per_kwh", day)
    basic: tuple[Decimal, ...] = get(f"{key}.basic_won", day)
    blocks = len(bounds) + 1
    if len(energy) < blocks or len(basic) < blocks:
        raise TariffError(
            f"{key} on {day.isoformat()}: {len(bounds)} block bounds need {blocks} energy rates "
            f"and basic charges, the data give {len(energy)} and {len(basic)}"
        )
    return Params(
        bounds=bounds,
        energy=energy[:blocks],
        basic=basic[:blocks],
        deduction=get(f"{key}.deduction", day),
        climate=get("climate_won_per_kwh", day),
        fuel=get("fuel_won_per_kwh", fuel_day),
        fund=get("fund_rate", fund_day),
    )


def plan_period(
    book: TariffBook,
    contract: str,
    start: dt.date,
    end: dt.date,
    *,
    fuel_proration: Proration,
    fund_proration: Proration,
) -> Plan:
    """Cut a residential billing period into segments of constant pricing."""
    info = residential_contract(book, contract)
    if start < info.data_from:
        raise TariffError(
            f"the tariff data for {contract!r} begin on {info.data_from.isoformat()}; the period "
            f"{start.isoformat()}..{end.isoformat()} starts before (add earlier values in a "
            "tariff file on BITGOEUL_TARIFF_PATH)"
        )
    keys = [f"{info.key}.{s}" for s in _SERIES] + ["climate_won_per_kwh"]
    if fuel_proration == "days":
        keys.append("fuel_won_per_kwh")
    if fund_proration == "days":
        keys.append("fund_rate")
    cuts = set(book.changes_in(keys, start, end))
    month = dt.date(start.year, start.month, 1)
    while True:
        month = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
        if month > end:
            break
        cuts.add(month)
    edges = [start, *sorted(cuts), end + dt.timedelta(days=1)]
    used: dict[tuple[str, dt.date], TariffValue] = {}
    segments: list[Segment] = []
    for first, after in itertools.pairwise(edges):
        params = params_at(
            book,
            info,
            first,
            fuel_day=first if fuel_proration == "days" else start,
            fund_day=first if fund_proration == "days" else start,
            used=used,
        )
        last = after - dt.timedelta(days=1)
        if segments and segments[-1].params == params:
            prev = segments[-1]
            segments[-1] = Segment(prev.first, last, prev.days + (after - first).days, params)
        else:
            segments.append(Segment(first, last, (after - first).days, params))
    vat_entry = book.value_at("vat_rate", end)
    rounding_entry = book.value_at("rounding", end)
    for entry in (vat_entry, rounding_entry):
        used[(entry.key, entry.effective_from)] = entry
    days = (end - start).days + 1
    notes = _plan_notes(book, segments, days, start, end, fuel_proration, fund_proration)
    return Plan(
        info=info,
        start=start,
        end=end,
        days=days,
        segments=tuple(segments),
        fuel_start=segments[0].params.fuel if fuel_proration == "start" else None,
        fund_start=segments[0].params.fund if fund_proration == "start" else None,
        vat=vat_entry.value,
        rounding=rounding_entry.value,
        used=tuple(used.values()),
        notes=tuple(notes),
    )


def _plan_notes(
    book: TariffBook,
    segments: Sequence[Segment],
    days: int,
    start: dt.date,
    end: dt.date,
    fuel_proration: Proration,
    fund_proration: Proration,
) -> list[str]:
    notes: list[str] = []
    if len(segments) > 1:
        parts = ", ".join(
            f"{s.first.isoformat()}..{s.last.isoformat()} ({s.days}/{days} d)" for s in segments
        )
        notes.append(
            f"period spans {len(segments)} pricing segments: {parts}; usage and block bounds "
            "are split by days (KEPCO's proration, vector V6) and each charge is the exact "
            "day-weighted sum, rounded once; the basic charge is prorated the same way "
            "(unverified where the bounds change, as [dugurs] does)"
        )
    if book.value_changes_in("fuel_won_per_kwh", start, end):
        notes.append(
            "the fuel adjustment changes inside the period: "
            + (
                "prorated by days (fuel_proration='days'; KEPCO's practice unverified)"
                if fuel_proration == "days"
                else "the value of the first day applies to the whole period "
                "(fuel_proration='start', as [dugurs]; KEPCO's practice unverified)"
            )
        )
    if book.value_changes_in("fund_rate", start, end):
        notes.append(
            "the power-industry fund rate changes inside the period: "
            + (
                "rate prorated by days (fund_proration='days', as [dugurs]; unverified)"
                if fund_proration == "days"
                else "the rate of the first day applies (fund_proration='start'; unverified)"
            )
        )
    if not 28 <= days <= 31:
        notes.append(
            f"the period has {days} days: the monthly block bounds and basic charge are applied "
            "unscaled (KEPCO's rule for irregular periods is not in the tariff notes)"
        )
    return notes


# -- charges -------------------------------------------------------------------------------
def _blocks(kwh: Decimal, bounds: Sequence[Decimal]) -> list[Decimal]:
    """Usage in each block of a segment's bounds (at full-period scale) [kWh]."""
    out = []
    lower = Decimal(0)
    for upper in [*bounds, None]:
        if upper is None:
            out.append(max(kwh - lower, Decimal(0)))
        else:
            out.append(min(max(kwh - lower, Decimal(0)), upper - lower))
            lower = upper
    return out


def _tier(kwh: Decimal, bounds: Sequence[Decimal]) -> int:
    return 1 + sum(1 for b in bounds if kwh > b)


def _charges(plan: Plan, kwh: Decimal) -> _Charges:
    basic = energy = climate = fuel = limit = fund = Decimal(0)
    tier = 1
    with decimal.localcontext(_CONTEXT):
        for seg in plan.segments:
            p, d = seg.params, seg.days
            t = _tier(kwh, p.bounds)
            tier = max(tier, t)
            basic += d * p.basic[t - 1]
            energy += d * sum(
                (q * r for q, r in zip(_blocks(kwh, p.bounds), p.energy, strict=True)),
                Decimal(0),
            )
            climate += d * kwh * p.climate
            fuel += d * kwh * p.fuel
            if kwh <= p.deduction.max_kwh:
                limit += d * p.deduction.limit_won
            fund += d * p.fund
        fuel_den = fund_den = plan.days
        if plan.fuel_start is not None:
            fuel, fuel_den = kwh * plan.fuel_start, 1
        if plan.fund_start is not None:
            fund, fund_den = plan.fund_start, 1
    return _Charges(
        basic=basic,
        energy=energy,
        climate=climate,
        fuel=fuel,
        fuel_den=fuel_den,
        limit=limit,
        offset=plan.segments[-1].params.deduction.offset_won,
        fund=fund,
        fund_den=fund_den,
        tier=tier,
    )


def _round_charges(plan: Plan, c: _Charges) -> dict[str, int]:
    r, days = plan.rounding, plan.days
    basic = round_won(c.basic, days, r.basic)
    energy = round_won(c.energy, days, r.energy)
    climate = round_won(c.climate, days, r.climate)
    fuel = round_won(c.fuel, c.fuel_den, r.fuel)
    pre = basic + energy + climate + fuel
    deduction = 0
    if c.limit > 0:
        with decimal.localcontext(_CONTEXT):
            numerator = min(c.limit, (pre - c.offset) * days)
        deduction = max(0, round_won(numerator, days, r.deduction))
    subtotal = pre - deduction
    with decimal.localcontext(_CONTEXT):
        vat = round_won(subtotal * plan.vat, 1, r.vat)
        fund = round_won(subtotal * c.fund, c.fund_den, r.fund)
    total = round_won(Decimal(subtotal + vat + fund), 1, r.total)
    return {
        "basic_won": basic,
        "energy_won": energy,
        "climate_won": climate,
        "fuel_won": fuel,
        "deduction_won": deduction,
        "subtotal_won": subtotal,
        "vat_won": vat,
        "fund_won": fund,
        "total_won": total,
    }


def _exact_total(plan: Plan, kwh: Decimal) -> Fraction:
    """Bill total before any rounding [won], as an exact fraction."""
    c = _charges(plan, kwh)
    days = plan.days
    pre = Fraction(c.basic + c.energy + c.climate) / days + Fraction(c.fuel) / c.fuel_den
    deduction = Fraction(0)
    if c.limit > 0:
        deduction = max(Fraction(0), min(Fraction(c.limit) / days, pre - Fraction(c.offset)))
    subtotal = pre - deduction
    return subtotal * (1 + Fraction(plan.vat) + Fraction(c.fund) / c.fund_den)


def _lines(plan: Plan, kwh: Decimal) -> tuple[BillLine, ...]:
    lines: list[BillLine] = []
    with decimal.localcontext(_CONTEXT):
        for seg in plan.segments:
            p = seg.params
            for k, (q, rate) in enumerate(zip(_blocks(kwh, p.bounds), p.energy, strict=True)):
                if q <= 0:
                    continue
                label = f"tier {k + 1}" + (" (super-user)" if k == 3 else "")
                lines.append(
                    BillLine(
                        label=label,
                        start=seg.first,
                        end=seg.last,
                        kwh=display_kwh(q * seg.days, plan.days),
                        rate_won_per_kwh=rate,
                        won=display_won(q * rate * seg.days, plan.days),
                    )
                )
    return tuple(lines)


def unverified_warnings(used: Sequence[TariffValue]) -> tuple[str, ...]:
    """One warning per unverified tariff value a bill used, oldest first."""
    out = []
    for v in sorted(used, key=lambda e: (e.effective_from, e.key)):
        if v.status == "unverified":
            detail = v.note or v.source
            out.append(f"uses unverified {v.key} from {v.effective_from.isoformat()}: {detail}")
    return tuple(out)


# -- public functions ----------------------------------------------------------------------
def compute_bill(
    energy_kwh: Decimal | float | int,
    start: dt.date,
    end: dt.date,
    *,
    contract: str = "residential-low",
    book: TariffBook | None = None,
    fuel_proration: Proration = "days",
    fund_proration: Proration = "days",
) -> Bill:
    """Compute a residential KEPCO bill for one billing period.

    Parameters
    ----------
    energy_kwh : Decimal, float or int
        Energy used in the period [kWh], >= 0; billed to the watt-hour.
    start, end : datetime.date
        First and last local day of the billing period (inclusive): the meter-reading
        day and the day before the next reading.
    contract : str
        Residential contract key: ``'residential-low'`` (주택용 저압) or
        ``'residential-high'`` (주택용 고압), or one a tariff file defines.
    book : TariffBook, optional
        Tariff data; default: the packaged data plus ``BITGOEUL_TARIFF_PATH``.
    fuel_proration : {'days', 'start'}
        How a fuel-adjustment change inside the period applies (module docstring;
        KEPCO's practice is unverified).
    fund_proration : {'days', 'start'}
        How a fund-rate change inside the period applies (unverified likewise).

    Returns
    -------
    Bill
        Integer won components, energy lines by block and segment, the tier, notes on
        the choices made and warnings for every unverified value used.

    Raises
    ------
    TariffError
        Unknown contract, a demand-charged (TOU or seasonal) contract, or a period the
        data do not cover.
    ValueError
        Negative or non-finite energy, ``end`` before ``start``.

    Examples
    --------
    Example B of the notes: 350 kWh in October 2025, low voltage.

    >>> import datetime as dt
    >>> bill = compute_bill(350, dt.date(2025, 10, 1), dt.date(2025, 10, 31))
    >>> bill.basic_won, bill.energy_won, bill.subtotal_won, bill.vat_won, bill.fund_won
    (1600, 56190, 62690, 6269, 1690)
    >>> bill.total_won, bill.tier
    (70640, 2)
    """
    kwh = to_kwh(energy_kwh)
    start, end = check_period(start, end)
    plan = plan_period(
        book or default_book(),
        contract,
        start,
        end,
        fuel_proration=check_proration(fuel_proration, "fuel_proration"),
        fund_proration=check_proration(fund_proration, "fund_proration"),
    )
    charges = _charges(plan, kwh)
    won = _round_charges(plan, charges)
    notes = list(plan.notes)
    if won["deduction_won"]:
        notes.append(
            f"필수사용량 보장공제 (essential-use deduction) of {won['deduction_won']} won: usage "
            "<= 200 kWh, min(limit, basic + energy + climate + fuel - 1,000)"
        )
    return Bill(
        contract=contract,
        start=start,
        end=end,
        kwh=kwh,
        **won,
        tier=charges.tier,
        demand_kw=None,
        lines=_lines(plan, kwh),
        notes=tuple(notes),
        warnings=unverified_warnings(plan.used),
    )


def tier_status(
    energy_kwh: Decimal | float | int,
    start: dt.date,
    end: dt.date,
    *,
    contract: str = "residential-low",
    book: TariffBook | None = None,
    fuel_proration: Proration = "days",
    fund_proration: Proration = "days",
) -> TierStatus:
    """Return the block, the next block bound and the marginal price for a usage.

    Parameters
    ----------
    energy_kwh : Decimal, float or int
        Usage so far, or forecast for the whole period [kWh].
    start, end : datetime.date
        The billing period (inclusive), as for :func:`compute_bill`.
    contract : str
        Residential contract key.
    book : TariffBook, optional
        Tariff data; default: the packaged data plus ``BITGOEUL_TARIFF_PATH``.
    fuel_proration, fund_proration : {'days', 'start'}
        As for :func:`compute_bill`.

    Returns
    -------
    TierStatus

    Examples
    --------
    >>> import datetime as dt
    >>> s = tier_status(195, dt.date(2025, 10, 1), dt.date(2025, 10, 31))
    >>> s.tier, s.next_boundary_kwh, s.kwh_to_boundary, s.basic_jump_won
    (1, Decimal('200'), Decimal('5'), Decimal('690.00'))
    >>> s.marginal_won_per_kwh  # (120.0 + 9.0 + 5.0) x (1 + 0.10 + 0.027)
    Decimal('151.0180')
    """
    kwh = to_kwh(energy_kwh)
    start, end = check_period(start, end)
    plan = plan_period(
        book or default_book(),
        contract,
        start,
        end,
        fuel_proration=check_proration(fuel_proration, "fuel_proration"),
        fund_proration=check_proration(fund_proration, "fund_proration"),
    )
    boundaries = sorted({b for seg in plan.segments for b in seg.params.bounds})
    upcoming = [b for b in boundaries if b >= kwh]
    next_boundary = upcoming[0] if upcoming else None
    jump = Fraction(0)
    if next_boundary is not None:
        for seg in plan.segments:
            p = seg.params
            if next_boundary in p.bounds:
                k = p.bounds.index(next_boundary)
                jump += Fraction(p.basic[k + 1] - p.basic[k]) * seg.days / plan.days
    marginal = _exact_total(plan, kwh + 1) - _exact_total(plan, kwh)
    return TierStatus(
        contract=contract,
        start=start,
        end=end,
        kwh=kwh,
        tier=_charges(plan, kwh).tier,
        next_boundary_kwh=next_boundary,
        kwh_to_boundary=None if next_boundary is None else next_boundary - kwh,
        basic_jump_won=_fraction_to_decimal(jump, Decimal("0.01")),
        marginal_won_per_kwh=_fraction_to_decimal(marginal, _MARGINAL_QUANTUM),
        boundaries_kwh=tuple(boundaries),
        notes=plan.notes,
        warnings=unverified_warnings(plan.used),
    )


def _fraction_to_decimal(value: Fraction, quantum: Decimal) -> Decimal:
    with decimal.localcontext(_CONTEXT):
        return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(quantum)
