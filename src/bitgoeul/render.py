"""Rich renderings for the CLI and the demo: bills, and forecast backtest scores."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bitgoeul.services.billing import MeterBill
from bitgoeul.tariff import Bill

if TYPE_CHECKING:
    from bitgoeul.services.forecast import BacktestResult

__all__ = ["backtest_table", "bill_table", "print_meter_bill"]


def bill_table(bill: Bill, *, title: str) -> Table:
    """Return a bill's components and energy lines as a Rich table [won]."""
    table = Table(title=title, caption=f"{bill.start} .. {bill.end} ({bill.days} days)")
    table.add_column("item")
    table.add_column("won", justify="right")
    names = (
        ("basic_won", "기본요금 basic"),
        ("energy_won", "전력량요금 energy"),
        ("climate_won", "기후환경요금 climate"),
        ("fuel_won", "연료비조정액 fuel"),
        ("deduction_won", "공제 deduction"),
        ("subtotal_won", "전기요금계 subtotal"),
        ("vat_won", "부가가치세 VAT"),
        ("fund_won", "전력기반기금 fund"),
        ("total_won", "청구금액 total"),
    )
    for key, name in names:
        value = getattr(bill, key)
        if key == "deduction_won" and not value:
            continue
        style = "bold" if key == "total_won" else None
        table.add_row(name, f"{value:,}", style=style)
    for line in bill.lines:
        table.add_row(
            f"  {line.label} {line.kwh} kWh × {line.rate_won_per_kwh}",
            f"{line.won:,.0f}",
            style="dim",
        )
    return table


def print_meter_bill(console: Console, r: MeterBill) -> None:
    """Print a stored meter's cycle bill, forecast, tier crossings and cashback."""
    state = "complete" if r.complete else f"in progress, measured to {r.as_of - dt.timedelta(1)}"
    console.print(
        f"[bold]{escape(r.meter_id)}[/]: cycle {r.cycle.label} ({r.cycle.start} .. {r.cycle.end}), "
        f"{state}; {r.energy_kwh:,.1f} kWh on {r.contract}"
    )
    title = "bill" if r.complete else "bill so far"
    console.print(bill_table(r.bill, title=title))
    if r.forecast is not None:
        f, b = r.forecast.energy, r.forecast.bills
        console.print(
            f"month-end forecast ({f.days_remaining} days to go): "
            f"P10 {f.p10_kwh:,.0f} kWh / {b['p10'].total_won:,} won, "
            f"[bold]P50 {f.p50_kwh:,.0f} kWh / {b['p50'].total_won:,} won[/], "
            f"P90 {f.p90_kwh:,.0f} kWh / {b['p90'].total_won:,} won"
        )
    if r.tier is not None:
        t = r.tier
        line = f"tier {t.tier}; next kWh costs {t.marginal_won_per_kwh:,.1f} won"
        if t.next_boundary_kwh is not None:
            line += (
                f"; {t.kwh_to_boundary:,.1f} kWh to the {t.next_boundary_kwh:,.0f} kWh boundary "
                f"(basic charge +{t.basic_jump_won:,.0f} won there)"
            )
        console.print(line)
        for x in r.crossings:
            if x.date_p50 is not None:
                when = f"[bold yellow]projected on {x.date_p50}[/] (earliest {x.date_p90})"
            else:
                when = f"possible: the P90 path crosses it on {x.date_p90}"
            console.print(
                f"  ⚠ {x.boundary_kwh:,.0f} kWh boundary: {when}; basic charge "
                f"+{x.basic_jump_won:,.0f} won and a dearer block after it"
            )
        if not r.complete and r.forecast is not None and not r.crossings:
            console.print("  no tier boundary is within the forecast band this cycle")
    if r.cashback is not None:
        c = r.cashback
        if c.eligible:
            console.print(
                f"energy cashback (에너지캐시백): {c.reduction_pct}% below the same month of the "
                f"past years ({c.baseline_kwh} kWh) earns {c.total_won:,} won"
                + ("" if r.complete else " if the P50 holds")
            )
        else:
            change = (
                f"{c.reduction_pct}% less" if c.reduction_pct >= 0 else f"{-c.reduction_pct}% more"
            )
            console.print(
                f"energy cashback (에너지캐시백): none; {c.energy_kwh} kWh against "
                f"{c.baseline_kwh} kWh in the same month of past years ({change}; "
                "a 3% cut earns it)"
            )
    for note in r.notes:
        console.print(f"[dim]note: {escape(note)}[/]")


_BACKTEST_TABLE = (
    ("n", "hours"),
    ("nrmse", "NRMSE"),
    ("mase", "MASE"),
    ("smape", "SMAPE"),
    ("cvrmse", "CV(RMSE)"),
    ("nmbe", "NMBE"),
    ("pinball", "pinball"),
    ("coverage", "P10-P90"),
)
"""Columns of the backtest table (``--json`` has every metric, pinball per level)."""


def backtest_table(result: BacktestResult) -> Table:
    """Return a table of one row per meter and the pooled row: the metrics the field reports."""
    scores = result.scores
    pinball = [c for c in scores.columns if str(c).startswith("pinball_")]
    table = Table(
        title=f"{result.model}: {len(result.origins)} origins, "
        f"{result.origins[0].date()} .. {result.origins[-1].date()}",
        caption=escape(
            "pinball [kWh]: mean over "
            + ", ".join(c.removeprefix("pinball_") for c in pinball)
            + "; P10-P90: share of actuals in the band; all: every meter's hours pooled; "
            "--json for every metric"
        ),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("meter", no_wrap=True)
    for _, header in _BACKTEST_TABLE:
        table.add_column(header, justify="right", min_width=len(header))
    for record in scores.to_dict("records"):
        mean = sum(record[c] for c in pinball) / len(pinball) if pinball else float("nan")
        values = {**record, "pinball": mean}
        cells = [
            f"{int(values[key]):,}" if key == "n" else f"{float(values[key]):.3f}"
            for key, _ in _BACKTEST_TABLE
        ]
        table.add_row(escape(str(record["meter_id"])), *cells)
    return table
