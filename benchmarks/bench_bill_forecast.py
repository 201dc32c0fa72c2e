"""Backtest of the cycle-end bill forecast (month-end bill with uncertainty) on real meters.

For every complete billing cycle (every day measured) of each series, with
reading day 1 and 15, and at least ``MIN_HISTORY_DAYS`` measured days before
the cycle starts, a forecast is issued 7, 14 and 21 days into the cycle with
:func:`bitgoeul.analytics.cycle_forecast.forecast_cycle_energy` (default
forecaster, the series' own holiday calendar). It is scored against the
cycle's measured total:

* coverage: share of actual totals within [P10, P90] (goal about 80%);
* median absolute error of the P50 [kWh], and of the bill [KRW];
* the same error for the naive linear extrapolation of dugurs/kwh_to_won
  (``so_far / measured days * cycle days``; docs/kepco-tariff-and-dr.md §4).

Bills come from :func:`bitgoeul.tariff.compute_bill` when that module exists:
households on ``residential-low`` with the cycle moved to the same bill month
in 2025 (``cycle_by_label("2025-MM", reading_day)``), since the data are from
2006-2014 and the tariff data start in 2021; buildings on a flat (non-TOU)
general or industrial contract if the tariff data have one. A bill is monotone
in kWh for a fixed period, so the bill quantiles are the bills of the kWh
quantiles and the won coverage equals the kWh coverage.

Daily energy: readings summed per local date; a day with fewer than 23 hours
of readings is missing (NaN), which admits the 23-hour day when DST starts.

Usage::

    .venv/bin/python benchmarks/bench_bill_forecast.py

Results: a Markdown table on stdout, every forecast in
``benchmarks/_data/bill_forecast_results.csv`` and a summary in
``benchmarks/_data/bill_forecast_summary.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bitgoeul.analytics.cycle_forecast import (
    CycleEnergyForecaster,
    ProfileLevelForecaster,
    forecast_cycle_energy,
)
from bitgoeul.analytics.cycles import BillingCycle, billing_cycles, cycle_by_label

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parent / "_data"
READING_DAYS = (1, 15)
HORIZONS = (7, 14, 21)  # days into the cycle at which a forecast is issued
MIN_HISTORY_DAYS = 28  # measured days before the cycle starts
MIN_HOURS = 23  # a day with fewer hours of readings is missing


@dataclass(frozen=True)
class Meter:
    name: str
    group: str  # "household" or "building"
    country: str  # holidays calendar
    daily_kwh: pd.Series  # index datetime.date, kWh per day, NaN missing


# -- data ------------------------------------------------------------------------------
def _daily_from_readings(local: pd.Series, energy_kwh: pd.Series, interval_h: float) -> pd.Series:
    """Sum readings per local date; NaN where fewer than MIN_HOURS hours were read."""
    frame = pd.DataFrame({"date": local.dt.date, "e": energy_kwh.to_numpy()}).dropna()
    grouped = frame.groupby("date")["e"]
    total, count = grouped.sum(), grouped.count()
    total[count * interval_h < MIN_HOURS] = np.nan
    days = pd.date_range(min(total.index), max(total.index), freq="D").date
    out = total.reindex(pd.Index(days, dtype=object))
    # the first and last day are usually partial: drop them
    return out.iloc[1:-1].astype("float64")


def load_meters() -> list[Meter]:
    meters: list[Meter] = []
    sgsc = pd.read_parquet(DATA / "au_sgsc_smart_meter10" / "sgsc_households7_halfhourly.parquet")
    for customer, part in sgsc.groupby("customer_id", sort=True):
        daily = _daily_from_readings(part["reading_datetime"], part["general_supply_kwh"], 0.5)
        meters.append(Meter(f"sgsc-{customer}", "household", "AU", daily))
    lcl = pd.read_csv(DATA / "uk_lcl_london_smartmeter" / "MAC000060_halfhourly.csv.gz")
    lcl.columns = ["ts", "kwh"]
    daily = _daily_from_readings(pd.to_datetime(lcl["ts"]), lcl["kwh"], 0.5)
    meters.append(Meter("lcl-MAC000060", "household", "GB", daily))
    # AMPds: M_E is the house's main (billing) meter, WHE + the rental suite RSE [Wh per hour]
    amp = pd.read_csv(
        DATA / "nilm_ampds_r1_hourly" / "AMPdsR1_1hr_Wh.csv", usecols=["TimeStamp", "M_E"]
    )
    local = pd.to_datetime(amp["TimeStamp"], unit="s", utc=True).dt.tz_convert("America/Vancouver")
    meters.append(
        Meter("ampds-M_E", "household", "CA", _daily_from_readings(local, amp["M_E"] / 1000.0, 1.0))
    )
    # UCI: Global_active_power is kW-minutes per day -> kWh = / 60; the first day is partial
    uci = pd.read_csv(DATA / "nilm_uci_household_daily" / "household_power_consumption_days.csv")
    days = pd.to_datetime(uci["datetime"]).dt.date
    daily = pd.Series(
        (uci["Global_active_power"] / 60.0).to_numpy(), index=pd.Index(days, dtype=object)
    )
    meters.append(Meter("uci-sceaux", "household", "FR", daily.iloc[1:].astype("float64")))
    for path in sorted((DATA / "kr_cnu_campus_buildings_hourly").glob("*.csv")):
        cnu = pd.read_csv(path, usecols=["date", "energy"])
        local = pd.to_datetime(cnu["date"], format="%Y-%m-%d %H:%M")
        daily = _daily_from_readings(local, cnu["energy"], 1.0)
        meters.append(Meter(f"cnu-{path.stem.split('_')[0]}", "building", "KR", daily))
    return meters


# -- tariff ----------------------------------------------------------------------------
def _tariff() -> tuple[Callable[..., Any] | None, str | None, str]:
    """compute_bill, the building contract (or None) and a note on what was used."""
    try:
        from bitgoeul.tariff import compute_bill
    except ImportError as exc:
        return None, None, f"bitgoeul.tariff not importable ({exc}): kWh only"
    building = None
    note = "households: residential-low, cycle moved to its 2025 bill month"
    try:
        from bitgoeul.tariff import load_tariffs

        contracts = list(load_tariffs().contracts())
    except Exception as exc:  # pragma: no cover - depends on the concurrent module
        return compute_bill, None, f"{note}; buildings: kWh only (contracts not listed: {exc})"
    day = dt.date(2025, 6, 1)
    for name in contracts:
        text = str(name)
        if not text.startswith(("general", "industrial")) or "tou" in text.lower():
            continue
        try:
            compute_bill(1000.0, day, day + dt.timedelta(days=29), contract=text)
        except Exception:  # only probing which contracts take a flat kWh bill
            continue
        building = text
        break
    if building is None:
        note += f"; buildings: kWh only (no flat general/industrial contract in {contracts})"
    else:
        note += f"; buildings: {building}, cycle moved to its 2025 bill month"
    return compute_bill, building, note


def _cycle_2025(cycle: BillingCycle) -> BillingCycle:
    return cycle_by_label(f"2025-{cycle.label[5:]}", cycle.reading_day)


# -- backtest --------------------------------------------------------------------------
def backtest(
    meters: list[Meter],
    make_forecaster: Callable[[Meter], CycleEnergyForecaster | None] | None = None,
    bill: Callable[..., Any] | None = None,
    building_contract: str | None = None,
) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for meter in meters:
        series = meter.daily_kwh
        measured = series.notna()
        first, last = series.index[0], series.index[-1]
        forecaster = make_forecaster(meter) if make_forecaster else None
        contract = "residential-low" if meter.group == "household" else building_contract
        for reading_day in READING_DAYS:
            for cycle in billing_cycles(first, last, reading_day):
                if cycle.start <= first or cycle.end >= last:
                    continue
                inside = series.loc[cycle.start : cycle.end]
                if len(inside) != cycle.days or inside.isna().any():
                    continue
                if int(measured.loc[: cycle.start - dt.timedelta(days=1)].sum()) < MIN_HISTORY_DAYS:
                    continue
                actual = float(inside.sum())
                for horizon in HORIZONS:
                    as_of = cycle.start + dt.timedelta(days=horizon)
                    f = forecast_cycle_energy(
                        series,
                        cycle,
                        as_of=as_of,
                        forecaster=forecaster,
                        holidays_country=meter.country,
                    )
                    linear = f.so_far_kwh / f.days_observed * cycle.days
                    row = {
                        "meter": meter.name,
                        "group": meter.group,
                        "reading_day": reading_day,
                        "label": cycle.label,
                        "horizon_d": horizon,
                        "actual_kwh": actual,
                        "p10_kwh": f.p10_kwh,
                        "p50_kwh": f.p50_kwh,
                        "p90_kwh": f.p90_kwh,
                        "linear_kwh": linear,
                        "fallback": "fallback" in f.method,
                    }
                    if bill is not None and contract is not None:
                        c25 = _cycle_2025(cycle)
                        for key in ("actual", "p10", "p50", "p90", "linear"):
                            row[f"{key}_won"] = bill(
                                row[f"{key}_kwh"], c25.start, c25.end, contract=contract
                            ).total_won
                    rows.append(row)
    return pd.DataFrame(rows)


def summarise(results: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    r = results.assign(
        covered=(results["p10_kwh"] <= results["actual_kwh"])
        & (results["actual_kwh"] <= results["p90_kwh"]),
        err_kwh=(results["p50_kwh"] - results["actual_kwh"]).abs(),
        lin_err_kwh=(results["linear_kwh"] - results["actual_kwh"]).abs(),
        rel_err=(results["p50_kwh"] - results["actual_kwh"]).abs()
        / results["actual_kwh"].where(results["actual_kwh"] > 0),
        lin_rel_err=(results["linear_kwh"] - results["actual_kwh"]).abs()
        / results["actual_kwh"].where(results["actual_kwh"] > 0),
        width=(results["p90_kwh"] - results["p10_kwh"])
        / results["p50_kwh"].where(results["p50_kwh"] > 0),
    )
    r["wins"] = r["err_kwh"] < r["lin_err_kwh"]
    agg: dict[str, Any] = {
        "n": ("covered", "size"),
        "coverage": ("covered", "mean"),
        "below_p10": ("actual_kwh", lambda s: float((s < r.loc[s.index, "p10_kwh"]).mean())),
        "mae_kwh": ("err_kwh", "median"),
        "lin_mae_kwh": ("lin_err_kwh", "median"),
        "mape": ("rel_err", "median"),
        "lin_mape": ("lin_rel_err", "median"),
        "width": ("width", "median"),
        "beats_linear": ("wins", "mean"),
        "fallback": ("fallback", "mean"),
    }
    if "p50_won" in r.columns:
        r["err_won"] = (r["p50_won"] - r["actual_won"]).abs()
        r["lin_err_won"] = (r["linear_won"] - r["actual_won"]).abs()
        agg["mae_won"] = ("err_won", "median")
        agg["lin_mae_won"] = ("lin_err_won", "median")
    return r.groupby(by, dropna=False).agg(**agg).reset_index()


def _fmt(summary: pd.DataFrame, keys: list[str]) -> str:
    cols = [
        *keys,
        "n",
        "coverage",
        "below_p10",
        "mae_kwh",
        "lin_mae_kwh",
        "mape",
        "lin_mape",
        "beats_linear",
        "width",
        "fallback",
    ]
    if "mae_won" in summary.columns:
        cols += ["mae_won", "lin_mae_won"]
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
    lines = []
    for _, row in summary.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            if c in ("mape", "lin_mape"):
                cells.append(f"{100 * v:.1f}%")
            elif c in ("coverage", "below_p10", "width", "beats_linear", "fallback"):
                cells.append(f"{100 * v:.0f}%")
            elif c in ("mae_won", "lin_mae_won"):
                cells.append("-" if pd.isna(v) else f"{v:,.0f}")
            elif c.endswith("kwh"):
                cells.append(f"{v:,.1f}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(lines)


def _fmt_wide(results: pd.DataFrame) -> str:
    """Meter x horizon: coverage, then median abs error ours / linear [kWh] (and [KRW])."""
    table = summarise(results, ["group", "meter", "horizon_d"])
    head = "| group | meter | " + " | ".join(f"{h} d" for h in HORIZONS) + " |\n"
    lines = [head + "|---|---|" + "---|" * len(HORIZONS)]
    for (group, meter), part in table.groupby(["group", "meter"], sort=False):
        cells = []
        for h in HORIZONS:
            row = part[part["horizon_d"] == h].iloc[0]
            cover = f"{100 * row['coverage']:.0f}%"
            cell = f"{cover} · {row['mae_kwh']:,.1f} / {row['lin_mae_kwh']:,.1f} kWh"
            if "mae_won" in row and not pd.isna(row["mae_won"]):
                cell += f" · {row['mae_won']:,.0f} / {row['lin_mae_won']:,.0f} won"
            cells.append(cell)
        lines.append(f"| {group} | {meter} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-bill", action="store_true", help="skip the won figures")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    meters = load_meters()
    t_load = time.perf_counter() - t0
    bill, building_contract, note = (
        (None, None, "skipped (--no-bill)") if args.no_bill else _tariff()
    )
    t1 = time.perf_counter()
    results = backtest(
        meters,
        lambda m: ProfileLevelForecaster(holidays_country=m.country),
        bill=bill,
        building_contract=building_contract,
    )
    t_run = time.perf_counter() - t1
    OUT.mkdir(exist_ok=True)
    results.to_csv(OUT / "bill_forecast_results.csv", index=False)
    per_meter = summarise(results, ["group", "meter"])
    band = np.where(results["fallback"], "fallback (widened)", "empirical (replays)")
    per_band = summarise(results.assign(band=band), ["band"])
    per_group = summarise(results, ["group", "horizon_d"])
    pooled_h = summarise(results.assign(group="pooled"), ["group", "horizon_d"])
    pooled = summarise(results.assign(group="pooled", horizon_d="all"), ["group", "horizon_d"])
    print(
        f"# bill forecast backtest ({dt.date.today().isoformat()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, pandas {pd.__version__})"
    )
    print(f"load {t_load:.1f} s, backtest {t_run:.1f} s, {len(results)} forecasts; won: {note}\n")
    print("## by group and horizon\n")
    print(_fmt(pd.concat([per_group, pooled_h, pooled], ignore_index=True), ["group", "horizon_d"]))
    print("\n## by meter (all horizons)\n")
    print(_fmt(per_meter, ["group", "meter"]))
    print("\n## by meter and horizon: coverage · median abs error ours / linear\n")
    print(_fmt_wide(results))
    print("\n## by band source (all series and horizons)\n")
    print(_fmt(per_band, ["band"]))
    summary = {
        "date": dt.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "won": note,
        "seconds": {"load": t_load, "backtest": t_run},
        "by_group_horizon": json.loads(
            pd.concat([per_group, pooled_h, pooled]).to_json(orient="records")
        ),
        "by_meter": json.loads(per_meter.to_json(orient="records")),
        "by_band": json.loads(per_band.to_json(orient="records")),
    }
    (OUT / "bill_forecast_summary.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
