"""The ``bitgoeul`` command: parse arguments, call one service, format the result.

Exit codes: 0 success, 1 bad input data (names file, line and field), 2 bad usage
or a missing meter, 3 a store problem.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from contextlib import AbstractContextManager, nullcontext
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from typer.core import TyperGroup

from bitgoeul import __version__
from bitgoeul.errors import BitgoeulError, IngestError, StoreError
from bitgoeul.ingest.csv import CsvOptions
from bitgoeul.model import Measurement, MeterKind
from bitgoeul.render import backtest_table, bill_table, print_meter_bill
from bitgoeul.services import (
    IngestReport,
    MeterDefaults,
    compare_usage,
    ingest_file,
    list_meters,
    meter_peak,
    meter_profile,
    meter_quality,
    meter_standby,
    usage,
)
from bitgoeul.store import DuckDBStore, open_store
from bitgoeul.store.duckdb import default_store_path

if TYPE_CHECKING:
    from bitgoeul.services.forecast import ModelCache  # imports LightGBM: only when used

__all__ = ["app", "main"]

# Help text is read as Markdown (backticks show as code), not as Rich markup, which takes a
# unit or a default in brackets, "[kWh]" or "[default: detected]", for a style and drops it.
_HELP_MARKUP: Literal["markdown"] = "markdown"

app = typer.Typer(
    rich_markup_mode=_HELP_MARKUP,
    name="bitgoeul",
    help="Bitgoeul (빛고을): smart-meter data in, decisions out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="BITGOEUL_STORE",
        help="DuckDB store file [default: per-user data directory].",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _fail(exc: BaseException) -> NoReturn:
    if isinstance(exc, IngestError):
        code = 1
    elif isinstance(exc, StoreError):
        code = 3
    else:
        code = 2
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _open(path: str | None, *, read_only: bool = False) -> DuckDBStore:
    try:
        return open_store(path or default_store_path(), read_only=read_only)
    except BitgoeulError as exc:
        _fail(exc)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def _progress_bar(count: ProgressColumn, *, quiet: bool) -> Progress:
    """Return a transient progress bar on stderr: task name, bar, ``count``, time elapsed.

    The bar is off for --json or when stderr is not a terminal.
    """
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        count,
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=quiet or not err_console.is_terminal,
    )


def _working(message: str, *, quiet: bool) -> AbstractContextManager[Any]:
    """Show a spinner with ``message`` on stderr while slow work runs (not for --json or a pipe)."""
    if quiet or not err_console.is_terminal:
        return nullcontext()
    return err_console.status(message)


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False,
) -> None:
    if version:
        console.print(f"bitgoeul {__version__}")
        raise typer.Exit(0)


# -- ingest --------------------------------------------------------------------------
@app.command()
def ingest(
    files: Annotated[
        list[Path], typer.Argument(help="CSV, Green Button XML, Parquet or Arrow files.")
    ],
    store: StoreOpt = None,
    fmt: Annotated[
        str, typer.Option("--format", help="auto, csv, green-button, parquet or arrow.")
    ] = "auto",
    layout: Annotated[
        str, typer.Option(help="CSV layout: auto, long, wide, daily-wide or date-hour.")
    ] = "auto",
    meter_id: Annotated[
        str | None, typer.Option(help="Meter id for a single-meter file [default: file name].")
    ] = None,
    meter_col: Annotated[str | None, typer.Option(help="Meter id column.")] = None,
    ts_col: Annotated[str | None, typer.Option(help="Timestamp column.")] = None,
    value_col: Annotated[str | None, typer.Option(help="Value column.")] = None,
    date_col: Annotated[
        str | None, typer.Option(help="Date column (daily-wide, date-hour).")
    ] = None,
    hour_col: Annotated[str | None, typer.Option(help="Hour column (date-hour).")] = None,
    ts_format: Annotated[
        str | None, typer.Option(help="strptime format when timestamps are not ISO 8601.")
    ] = None,
    ts_convention: Annotated[
        str | None,
        typer.Option(help="'start' (interval start) or 'end' (hour-ending) [default: start]."),
    ] = None,
    interval: Annotated[
        int | None, typer.Option(min=1, help="Interval length [s], e.g. 900 [default: detected].")
    ] = None,
    unit: Annotated[
        str | None, typer.Option(help="kWh, Wh, MWh, kW, W or MW [default: from header, else kWh].")
    ] = None,
    measurement: Annotated[
        str | None,
        typer.Option(help="interval_energy, cumulative_register or instantaneous_power."),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding, e.g. utf-8, cp949 [default: detected].")
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="Field separator [default: detected].")
    ] = None,
    skip_rows: Annotated[int, typer.Option(min=0, help="Preamble lines before the header.")] = 0,
    timezone: Annotated[
        str, typer.Option(help="Zone of new meters and of naive timestamps.")
    ] = "Asia/Seoul",
    kind: Annotated[
        str | None,
        typer.Option(help="New meters' kind: grid_import, grid_export, generation, appliance."),
    ] = None,
    contract: Annotated[
        str | None, typer.Option(help="New meters' KEPCO contract class, e.g. residential-low.")
    ] = None,
    voltage: Annotated[str | None, typer.Option(help="New meters' supply voltage class.")] = None,
    contract_kw: Annotated[
        float | None, typer.Option(help="New meters' contracted demand [kW].")
    ] = None,
    reading_day: Annotated[
        int, typer.Option(help="New meters' meter-reading day 검침일 (1-31).")
    ] = 1,
    site: Annotated[str, typer.Option(help="Site of new meters.")] = "default",
    org: Annotated[str, typer.Option(help="Organisation of new meters.")] = "default",
    on_conflict: Annotated[
        str,
        typer.Option(help="A changed value for a stored interval: 'refuse' the file or 'correct'."),
    ] = "refuse",
    skip_bad_rows: Annotated[
        bool, typer.Option(help="Load the good rows and report each bad one.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Ingest meter data; each file is one atomic, idempotent batch."""
    try:
        options = CsvOptions(
            layout=_choice(layout, ("auto", "long", "wide", "daily-wide", "date-hour"), "--layout"),
            encoding=encoding,
            delimiter=delimiter,
            meter_col=meter_col,
            ts_col=ts_col,
            value_col=value_col,
            date_col=date_col,
            hour_col=hour_col,
            meter_id=meter_id,
            ts_format=ts_format,
            ts_convention=_choice(ts_convention, ("start", "end"), "--ts-convention")
            if ts_convention
            else None,
            interval_s=interval,
            unit=unit,
            measurement=Measurement(measurement) if measurement else None,
            skip_rows=skip_rows,
            skip_bad_rows=skip_bad_rows,
        )
        defaults = MeterDefaults(
            org_id=org,
            site_id=site,
            timezone=timezone,
            kind=MeterKind(kind) if kind else None,
            contract_class=contract,
            voltage=voltage,
            contract_kw=contract_kw,
            reading_day=reading_day,
        )
        conflict = _choice(on_conflict, ("refuse", "correct"), "--on-conflict")
        source_format = _choice(
            fmt, ("auto", "csv", "green-button", "parquet", "arrow"), "--format"
        )
    except ValueError as exc:
        _fail(BitgoeulError(str(exc)))
    db = _open(store)
    reports: list[IngestReport] = []
    try:
        with _progress_bar(TextColumn("{task.fields[rows]:,} rows"), quiet=as_json) as progress:
            overall = progress.add_task("files", total=len(files), rows=0)
            for path in files:
                task = progress.add_task(escape(path.name), total=None, rows=0)

                def on_rows(_: str, rows: int, task: Any = task) -> None:
                    progress.update(task, rows=rows)

                report = ingest_file(
                    path,
                    db,
                    fmt=source_format,
                    csv=options,
                    defaults=defaults,
                    on_conflict=conflict,
                    progress=on_rows,
                )
                progress.remove_task(task)
                progress.advance(overall)
                reports.append(report)
                if not as_json:
                    _print_ingest(report)
    except (BitgoeulError, ValueError) as exc:
        db.close()
        if reports and not as_json:
            err_console.print(f"{len(reports)} file(s) before it were committed.")
        _fail(exc if isinstance(exc, BitgoeulError) else BitgoeulError(str(exc)))
    db.close()
    if as_json:
        _print_json([r.to_dict() for r in reports])


def _choice(value: str | None, allowed: tuple[str, ...], option: str) -> Any:
    if value not in allowed:
        raise ValueError(f"{option} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _print_ingest(r: IngestReport) -> None:
    console.print(
        f"[green]✓[/] {escape(str(r.source))}: {r.rows_read:,} rows read, {r.inserted:,} new, "
        f"{r.unchanged:,} unchanged, {r.corrected:,} corrected, "
        f"{r.duplicates_in_batch:,} exact repeats, {len(r.rejected):,} skipped "
        f"({r.seconds:.2f} s)",
        highlight=False,
    )
    if r.meters_created:
        shown = escape(", ".join(r.meters_created[:10]))
        more = f" and {len(r.meters_created) - 10} more" if len(r.meters_created) > 10 else ""
        console.print(f"  new meters: {shown}{more}", highlight=False)
    for row in r.rejected[:20]:
        console.print(
            f"  [yellow]skipped[/] line {row.line} field {escape(repr(row.field))}: "
            f"{escape(row.message)}",
            highlight=False,
        )
    if len(r.rejected) > 20:
        console.print(f"  … {len(r.rejected) - 20} more skipped rows (use --json for all)")
    for c in r.corrections[:5]:
        console.print(
            f"  [cyan]corrected[/] {escape(str(c['meter_id']))} {c['ts'].isoformat()}: "
            f"{c['old_energy_kwh']} -> {c['new_energy_kwh']} kWh"
        )
    for issue in r.issues[:5]:
        console.print(
            f"  [yellow]{issue.code}[/] {escape(issue.meter_id)}: {escape(issue.message)}",
            highlight=False,
        )


# -- queries -------------------------------------------------------------------------
@app.command()
def meters(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List meters with their reading count, time span and total energy [kWh]."""
    db = _open(store, read_only=True)
    try:
        summaries = list_meters(db)
    finally:
        db.close()
    if as_json:
        _print_json(
            [
                {
                    "meter_id": s.meter.meter_id,
                    "org_id": s.org_id,
                    "site_id": s.meter.site_id,
                    "timezone": s.meter.timezone,
                    "kind": str(s.meter.kind),
                    "interval_s": s.meter.interval_s,
                    "contract_class": s.meter.contract_class,
                    "reading_day": s.meter.reading_day,
                    "reading_count": s.reading_count,
                    "first_ts": s.first_ts.isoformat() if s.first_ts else None,
                    "last_ts": s.last_ts.isoformat() if s.last_ts else None,
                    "total_energy_kwh": s.total_energy_kwh,
                }
                for s in summaries
            ]
        )
        return
    table = Table(title="Meters")
    for col in ("meter", "site", "zone", "interval", "readings", "first", "last", "total kWh"):
        table.add_column(col, justify="right" if col in ("readings", "total kWh") else "left")
    for s in summaries:
        zone = s.meter.zone
        table.add_row(
            escape(s.meter.meter_id),
            escape(s.meter.site_id),
            s.meter.timezone,
            f"{s.meter.interval_s // 60} min" if s.meter.interval_s else "?",
            f"{s.reading_count:,}",
            s.first_ts.astimezone(zone).strftime("%Y-%m-%d %H:%M") if s.first_ts else "",
            s.last_ts.astimezone(zone).strftime("%Y-%m-%d %H:%M") if s.last_ts else "",
            f"{s.total_energy_kwh:,.3f}",
        )
    console.print(table)


@app.command("usage")
def usage_cmd(
    meter: Annotated[str, typer.Argument(help="Meter id.")],
    freq: Annotated[
        str,
        typer.Option(
            help="15min, 30min, hour, day, month or cycle (KEPCO billing); not finer than the "
            "meter's readings."
        ),
    ] = "day",
    start: Annotated[str | None, typer.Option(help="First local date, YYYY-MM-DD.")] = None,
    end: Annotated[
        str | None, typer.Option(help="Last local date, YYYY-MM-DD (inclusive).")
    ] = None,
    compare: Annotated[
        bool, typer.Option(help="Also compare the last period with the previous one and last year.")
    ] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Energy per local period [kWh], exact sums of stored readings."""
    db = _open(store, read_only=True)
    try:
        f = _choice(freq, ("15min", "30min", "hour", "day", "month", "cycle"), "--freq")
        periods = usage(db, meter, f, start=_date(start, "--start"), end=_date(end, "--end"))
        comparison = None
        if compare and periods and f in ("day", "month", "cycle"):
            comparison = compare_usage(db, meter, f, on=periods[-1].start.date())
    except (BitgoeulError, ValueError) as exc:
        db.close()
        _fail(exc if isinstance(exc, BitgoeulError) else BitgoeulError(str(exc)))
    db.close()
    if as_json:
        out: dict[str, Any] = {
            "meter_id": meter,
            "freq": freq,
            "periods": [p.to_dict() for p in periods],
        }
        if comparison is not None:
            out["comparison"] = comparison
        _print_json(out)
        return
    table = Table(title=f"{escape(meter)}: energy per {freq}")
    table.add_column("period")
    table.add_column("kWh", justify="right")
    table.add_column("readings", justify="right")
    for p in periods:
        table.add_row(p.label, f"{p.energy_kwh:,.3f}", f"{p.readings:,}")
    console.print(table)
    if comparison is not None:
        _print_comparison(comparison)


def _print_comparison(c: dict[str, Any]) -> None:
    for key, name in (
        ("vs_previous", "previous period"),
        ("vs_last_year", "same period last year"),
    ):
        v = c[key]
        if v["previous"] is None:
            console.print(f"vs {name}: no data")
        else:
            pct = f"{v['change_pct']:+.1f}%" if v["change_pct"] is not None else "n/a"
            console.print(
                f"vs {name}: {v['current']:,.1f} kWh against {v['previous']:,.1f} kWh ({pct})"
            )


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{option} must be a date like 2025-08-01, not {value!r}") from exc


@app.command()
def quality(
    meter: Annotated[str, typer.Argument(help="Meter id.")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a meter's data-quality findings (gaps, duplicates, spikes, resets, ...)."""
    db = _open(store, read_only=True)
    try:
        issues = meter_quality(db, meter)
        zone = db.get_meter(meter).zone
    except BitgoeulError as exc:
        db.close()
        _fail(exc)
    db.close()
    if as_json:
        _print_json([i.to_dict() for i in issues])
        return
    if not issues:
        console.print(f"{escape(meter)}: no data-quality findings")
        return
    table = Table(title=f"{escape(meter)}: data-quality findings ({len(issues)})")
    for col in ("code", "from (local)", "to (local)", "message"):
        table.add_column(col)
    for i in issues:
        table.add_row(
            i.code,
            i.start.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            i.end.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            escape(i.message),
        )
    console.print(table)


@app.command()
def standby(
    meter: Annotated[str, typer.Argument(help="Meter id.")],
    method: Annotated[str, typer.Option(help="robust (default) or enertalk.")] = "robust",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Always-on (standby) power [W] over the meter's last month of data."""
    db = _open(store, read_only=True)
    try:
        m = _choice(method, ("robust", "enertalk"), "--method")
        estimate = meter_standby(db, meter, method=m)
    except (BitgoeulError, ValueError) as exc:
        db.close()
        _fail(exc if isinstance(exc, BitgoeulError) else BitgoeulError(str(exc)))
    db.close()
    data = _plain(estimate)
    if as_json:
        _print_json(data)
    elif estimate is None:
        console.print(f"{escape(meter)}: too little data for a standby estimate")
    else:
        console.print(
            f"{escape(meter)}: standby {estimate.power_w:,.0f} W "
            f"({estimate.method}, {estimate.days_used} days)"
        )


@app.command()
def peak(
    meter: Annotated[str, typer.Argument(help="Meter id.")],
    top: Annotated[int, typer.Option(min=1, help="How many peaks to list.")] = 5,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Peak demand: the maximum 15-minute average power [kW] and when."""
    db = _open(store, read_only=True)
    try:
        result = meter_peak(db, meter, top_n=top)
    except BitgoeulError as exc:
        db.close()
        _fail(exc)
    db.close()
    if as_json:
        _print_json(_plain(result))
    elif result is None:
        console.print(f"{escape(meter)}: no readings")
    else:
        console.print(
            f"{escape(meter)}: peak {result.demand_kw:,.2f} kW at {result.start:%Y-%m-%d %H:%M} "
            f"(over {result.resolution_s // 60} min)"
        )
        for p in result.peaks[1:]:
            console.print(f"  {p.demand_kw:,.2f} kW at {p.start:%Y-%m-%d %H:%M}")


@app.command()
def profile(
    meter: Annotated[str, typer.Argument(help="Meter id.")],
    days: Annotated[int | None, typer.Option(min=1, help="Use only the last N days.")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Typical day (load profile) by weekday, weekend and Korean holiday."""
    db = _open(store, read_only=True)
    try:
        frame = meter_profile(db, meter, days=days)
    except BitgoeulError as exc:
        db.close()
        _fail(exc)
    db.close()
    if as_json:
        _print_json(frame.to_dict(orient="records"))
        return
    table = Table(title=escape(f"{meter}: typical day [kW]"))
    table.add_column("slot")
    day_types = list(dict.fromkeys(frame["day_type"]))
    for d in day_types:
        table.add_column(str(d), justify="right")
    pivot = frame.pivot(index="slot", columns="day_type", values="mean_kw")
    for slot, row in pivot.iterrows():
        table.add_row(str(slot), *(f"{row[d]:,.2f}" if row[d] == row[d] else "" for d in day_types))
    console.print(table)


def _plain(value: Any) -> Any:
    """Turn dataclasses, datetimes and tuples into JSON-ready values."""
    from bitgoeul.jsonable import to_jsonable

    return to_jsonable(value)


# -- bill ----------------------------------------------------------------------------
class _ShowByDefault(TyperGroup):
    """``bitgoeul GROUP METER`` is short for ``bitgoeul GROUP show METER``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "show", self.get_command(ctx, "show"), args
        return super().resolve_command(ctx, args)


bill_app = typer.Typer(
    rich_markup_mode=_HELP_MARKUP,
    cls=_ShowByDefault,
    help="KEPCO bills: `bill calc` for a kWh figure, `bill METER` for a stored meter's cycle.",
    no_args_is_help=True,
)
app.add_typer(bill_app, name="bill")

TariffOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--tariff-file",
        help="Extra tariff file (TOML) adding to or overriding the packaged tariffs; repeatable.",
        show_default=False,
    ),
]


@bill_app.command("calc")
def bill_calc(
    kwh: Annotated[float, typer.Option("--kwh", help="Energy used in the period [kWh].")],
    start: Annotated[str, typer.Option(help="First day of the billing period, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last day of the period (inclusive), YYYY-MM-DD.")],
    contract: Annotated[
        str, typer.Option(help="Contract: residential-low (주택용 저압) or residential-high.")
    ] = "residential-low",
    tariff_file: TariffOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute a KEPCO bill for a usage and a billing period, without a stored meter."""
    from bitgoeul.services.billing import calculate_bill

    try:
        first, last = _date(start, "--start"), _date(end, "--end")
        if first is None or last is None:
            raise ValueError("--start and --end are both needed")
        bill = calculate_bill(
            Decimal(str(kwh)), first, last, contract=contract, tariff_files=tariff_file or ()
        )
    except (BitgoeulError, ValueError) as exc:
        _fail(exc if isinstance(exc, BitgoeulError) else BitgoeulError(str(exc)))
    if as_json:
        _print_json(bill.to_dict())
        return
    console.print(bill_table(bill, title=f"{bill.contract}: {kwh:,.3f} kWh"))


@bill_app.command("show")
def bill_show(
    meter: Annotated[str, typer.Argument(help="Meter id.")],
    cycle: Annotated[
        str | None,
        typer.Option(help="Bill month YYYY-MM (month of the closing reading) [default: latest]."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="Treat days from this local date on as not yet measured, YYYY-MM-DD."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Forecast the rest of the cycle with this load model (e.g. lightgbm) "
            "instead of the meter's day-type profile.",
        ),
    ] = None,
    tariff_file: TariffOpt = None,
    cache: CacheOpt = True,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a stored meter's bill for a cycle, and the month-end forecast of one in progress."""
    from bitgoeul.services.billing import bill_meter

    db = _open(store, read_only=True)
    try:
        with _working(f"fitting {model} for the month-end forecast", quiet=as_json or not model):
            result = bill_meter(
                db,
                meter,
                cycle=cycle,
                as_of=_date(as_of, "--as-of"),
                model=model,
                tariff_files=tariff_file or (),
                cache=_model_cache() if cache and model else None,
            )
    except (BitgoeulError, ValueError) as exc:
        db.close()
        _fail(exc if isinstance(exc, BitgoeulError) else BitgoeulError(str(exc)))
    db.close()
    if as_json:
        _print_json(result.to_dict())
        return
    print_meter_bill(console, result)


# -- forecast ------------------------------------------------------------------------
forecast_app = typer.Typer(
    rich_markup_mode=_HELP_MARKUP,
    cls=_ShowByDefault,
    help="Load forecasts: `forecast METER --as-of T` and `forecast backtest METER...`.",
    no_args_is_help=True,
)
app.add_typer(forecast_app, name="forecast")

CacheOpt = Annotated[
    bool,
    typer.Option(
        "--cache/--no-cache",
        help="Keep the fitted load model in $BITGOEUL_MODEL_DIR (default: the user cache "
        "folder) and reuse it when asked again as of the same time on the same readings "
        "(bill: with --model).",
    ),
]

ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        help="lightgbm (global, quantile), lightgbm+mlp (with a neural network; needs "
        "PyTorch), persistence, seasonal-naive-day, seasonal-naive-week.",
    ),
]


def _model_cache() -> ModelCache:
    """Return a one-model cache on the model folder (``bitgoeul.services.forecast``)."""
    from bitgoeul.services.forecast import ModelCache, default_model_dir

    return ModelCache(size=1, directory=default_model_dir())


@forecast_app.command("show")
def forecast_show(
    meter: Annotated[str, typer.Argument(help="Meter id.")],
    as_of: Annotated[
        str,
        typer.Option(
            "--as-of", help="Forecast origin, e.g. 2022-03-01T00:00 (meter's zone if naive)."
        ),
    ],
    horizon: Annotated[
        str, typer.Option(help="24h (day-ahead), 7d (week-ahead), ... at most 31d.")
    ] = "24h",
    model: ModelOpt = "lightgbm",
    model_file: Annotated[
        Path | None, typer.Option("--model-file", help="Use a saved model instead of fitting.")
    ] = None,
    save: Annotated[
        Path | None, typer.Option("--save", help="Save the fitted model to this file.")
    ] = None,
    cache: CacheOpt = True,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Forecast a meter from its readings strictly before --as-of, with P10/P50/P90."""
    from bitgoeul.services.forecast import forecast_meter

    db = _open(store, read_only=True)
    try:
        doing = f"loading {model_file}" if model_file is not None else f"fitting {model}"
        with _working(doing, quiet=as_json):
            result = forecast_meter(
                db,
                meter,
                as_of=as_of,
                horizon=horizon,
                model=model,
                model_file=model_file,
                save_to=save,
                cache=_model_cache() if cache else None,
            )
    except (BitgoeulError, ValueError) as exc:
        db.close()
        _fail(exc if isinstance(exc, BitgoeulError) else BitgoeulError(str(exc)))
    db.close()
    if as_json:
        _print_json(result.to_dict())
        return
    table = Table(
        title=escape(f"{meter}: {result.model} forecast as of {result.as_of.isoformat()}"),
        caption=(
            "masked before fitting: "
            + escape(", ".join(f"{k} {v}" for k, v in result.masked.items()) or "nothing")
        ),
    )
    table.add_column("interval start")
    for column in ("p10_kwh", "p50_kwh", "p90_kwh"):
        table.add_column(column.replace("_kwh", " kWh").upper(), justify="right")
    for record in result.to_dict()["forecast"]:
        table.add_row(
            record["ts"],
            *(f"{record[c]:,.3f}" for c in ("p10_kwh", "p50_kwh", "p90_kwh")),
        )
    console.print(table)
    if save is not None:
        console.print(f"model saved to {escape(str(save))}")


@forecast_app.command("backtest")
def forecast_backtest(
    meters: Annotated[list[str], typer.Argument(help="Meter ids (one interval and zone).")],
    model: ModelOpt = "lightgbm",
    origins: Annotated[int, typer.Option(min=1, help="Forecast origins (local midnights).")] = 30,
    horizon: Annotated[str, typer.Option(help="24h, 7d, ... at most 31d.")] = "24h",
    end: Annotated[
        str | None, typer.Option(help="Last origin no later than this time [default: data end].")
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rolling-origin backtest: NRMSE, MASE, SMAPE, CV(RMSE), NMBE, pinball, coverage."""
    from bitgoeul.services.forecast import backtest_meters

    db = _open(store, read_only=True)
    try:
        with _progress_bar(MofNCompleteColumn(), quiet=as_json) as bar:
            task = bar.add_task(f"{escape(model)} origins", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = backtest_meters(
                db,
                meters,
                model=model,
                origins=origins,
                horizon=horizon,
                end=end,
                progress=advance,
            )
    except (BitgoeulError, ValueError) as exc:
        db.close()
        _fail(exc if isinstance(exc, BitgoeulError) else BitgoeulError(str(exc)))
    db.close()
    if as_json:
        _print_json(result.to_dict())
        return
    console.print(backtest_table(result))


# -- demo ----------------------------------------------------------------------------
HostOpt = Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")]
PortOpt = Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")]


@app.command()
def demo(
    store: Annotated[
        str | None,
        typer.Option("--store", help="Demo store file [default: ./bitgoeul-demo.duckdb]."),
    ] = None,
    out: Annotated[Path, typer.Option(help="HTML report path.")] = Path("bitgoeul-report.html"),
    serve_after: Annotated[
        bool,
        typer.Option("--serve/--no-serve", help="Serve the dashboard on the demo data afterwards."),
    ] = True,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
) -> None:
    """Build a fresh store from bundled real data, print a summary, write a report, serve it."""
    from bitgoeul.demo import HOUSEHOLD_METER_ID, run_demo

    try:
        result = run_demo(store, out=out, console=console)
    except BitgoeulError as exc:
        _fail(exc)
    if serve_after:
        _serve(
            str(result.store_path),
            host=host,
            port=port,
            tokens=result.tokens,
            open_meter=HOUSEHOLD_METER_ID,
        )


def _serve(
    store_path: str,
    *,
    host: str,
    port: int,
    tokens: dict[str, str] | None = None,
    operator_token: str | None = None,
    quiet: bool = False,
    open_meter: str | None = None,
) -> None:
    import secrets

    import uvicorn

    from bitgoeul.api import Settings, create_app

    settings = Settings.from_env(store_path)
    generated = None
    if not operator_token and settings.operator_token is None:
        generated = operator_token = secrets.token_urlsafe(18)
    if operator_token:
        # Validated, not model_copy(update=...): the token must become a SecretStr.
        settings = Settings.model_validate(
            {**settings.model_dump(), "operator_token": operator_token}
        )
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    console.rule("[bold]빛고을 Bitgoeul service[/]")
    console.print(f"store      {escape(settings.store_path)}")
    console.print(f"API docs   {base}/docs")
    for label, token in (tokens or {}).items():
        if label == "share":
            anchor = f"#meter={open_meter}" if open_meter else ""
            console.print(
                f"dashboard  [bold]{base}/?key={token}{anchor}[/]  (view-only share key)",
                soft_wrap=True,
            )
        else:
            console.print(f"{label:<10} {token}")
    if generated:
        console.print(
            f"operator   {generated}  (X-Operator-Token for POST /v1/organisations; "
            "new each start unless BITGOEUL_OPERATOR_TOKEN is set)"
        )
    console.print("Ctrl-C stops the service.")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning" if quiet else "info",
        timeout_graceful_shutdown=5,
    )


@app.command()
def serve(
    store: StoreOpt = None,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    operator_token: Annotated[
        str | None,
        typer.Option(
            envvar="BITGOEUL_OPERATOR_TOKEN",
            help="Token that may create organisations [default: a new one, printed].",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="Log warnings only.")] = False,
) -> None:
    """Serve the REST API (/v1, docs at /docs) and the dashboard (/) on one store."""
    _serve(
        store or default_store_path(),
        host=host,
        port=port,
        operator_token=operator_token,
        quiet=quiet,
    )


# -- organisations and keys ---------------------------------------------------------------
org_app = typer.Typer(
    rich_markup_mode=_HELP_MARKUP, help="Organisations (tenants).", no_args_is_help=True
)
key_app = typer.Typer(
    rich_markup_mode=_HELP_MARKUP, help="API keys of an organisation.", no_args_is_help=True
)
app.add_typer(org_app, name="org")
app.add_typer(key_app, name="key")


def _open_for_keys(store: str | None) -> DuckDBStore:
    try:
        return open_store(store or default_store_path())
    except StoreError as exc:
        _fail(
            StoreError(
                f"{exc} (if `bitgoeul serve` is running on this store, use the API instead: "
                "POST /v1/organisations, POST /v1/keys)"
            )
        )


@org_app.command("create")
def org_create(
    org_id: Annotated[str, typer.Argument(help="Organisation id, e.g. gwangju-energy.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an organisation and print its admin key (shown only once)."""
    from bitgoeul.services.tenancy import create_organisation

    db = _open_for_keys(store)
    try:
        issued = create_organisation(db, org_id, name=name)
    except (BitgoeulError, ValueError) as exc:
        db.close()
        _fail(exc if isinstance(exc, BitgoeulError) else BitgoeulError(str(exc)))
    db.close()
    if as_json:
        _print_json({"org_id": org_id, "key_id": issued.key.key_id, "token": issued.token})
        return
    console.print(
        f"organisation {escape(org_id)} created; its admin key (shown once, keep it safe):"
    )
    console.print(issued.token, highlight=False, soft_wrap=True)


@org_app.command("list")
def org_list(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List organisations."""
    db = _open(store, read_only=True)
    orgs = db.list_organisations()
    db.close()
    if as_json:
        _print_json([{"org_id": o.org_id, "name": o.name} for o in orgs])
        return
    for o in orgs:
        console.print(escape(f"{o.org_id}\t{o.name}"), highlight=False)


@key_app.command("create")
def key_create(
    org_id: Annotated[str, typer.Argument(help="Organisation id.")],
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="read, write or admin; repeat for more.")
    ] = None,
    site: Annotated[
        list[str] | None, typer.Option("--site", help="Limit the key to this site; repeatable.")
    ] = None,
    share: Annotated[bool, typer.Option(help="A view-only dashboard share key.")] = False,
    name: Annotated[str, typer.Option(help="A label.")] = "",
    expires: Annotated[
        str | None, typer.Option(help="Expiry, ISO 8601 with offset, e.g. 2027-01-01T00:00+09:00.")
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue an API key for an organisation and print it (shown only once)."""
    from bitgoeul.services.tenancy import issue_key

    db = _open_for_keys(store)
    try:
        db.get_organisation(org_id)
        expires_at = dt.datetime.fromisoformat(expires) if expires else None
        issued = issue_key(
            db,
            org_id,
            scopes=scope or ["read"],
            name=name,
            site_ids=site or None,
            share=share,
            expires_at=expires_at,
        )
    except (BitgoeulError, ValueError) as exc:
        db.close()
        _fail(exc if isinstance(exc, BitgoeulError) else BitgoeulError(str(exc)))
    db.close()
    if as_json:
        _print_json({"key_id": issued.key.key_id, "token": issued.token})
        return
    console.print(issued.token, highlight=False, soft_wrap=True)


@key_app.command("list")
def key_list(
    org_id: Annotated[str, typer.Argument(help="Organisation id.")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List an organisation's keys (never their secrets)."""
    db = _open(store, read_only=True)
    keys = db.list_api_keys(org_id)
    db.close()
    now = dt.datetime.now(dt.UTC)
    rows: list[dict[str, Any]] = [
        {
            "key_id": k.key_id,
            "name": k.name,
            "scopes": list(k.scopes),
            "site_ids": list(k.site_ids) if k.site_ids is not None else None,
            "share": k.share,
            "active": k.active_at(now),
            "expires_at": k.expires_at.isoformat() if k.expires_at else None,
        }
        for k in keys
    ]
    if as_json:
        _print_json(rows)
        return
    table = Table("key", "name", "scopes", "sites", "active", "expires")
    for r in rows:
        table.add_row(
            r["key_id"],
            escape(r["name"]),
            ",".join(r["scopes"]),
            ",".join(r["site_ids"] or ["all"]),
            "yes" if r["active"] else "no",
            r["expires_at"] or "",
        )
    console.print(table)


@key_app.command("revoke")
def key_revoke(
    org_id: Annotated[str, typer.Argument(help="Organisation id.")],
    key_id: Annotated[str, typer.Argument(help="Key id (the part after bgk_).")],
    store: StoreOpt = None,
) -> None:
    """Revoke a key at once."""
    db = _open_for_keys(store)
    try:
        db.revoke_api_key(org_id, key_id, dt.datetime.now(dt.UTC))
    except BitgoeulError as exc:
        db.close()
        _fail(exc)
    db.close()
    console.print(f"key {escape(key_id)} revoked")


def main() -> None:
    """Run the command line (the ``bitgoeul`` console script)."""
    app()
