"""``bitgoeul demo``: real sample data into a fresh store, a console summary and an HTML report.

:func:`run_demo` shows the whole platform on data shipped inside the package
(``bitgoeul/data/samples``, sources and licences in its ``ATTRIBUTION.md``):

- the Jeju island system's hourly electricity transaction volume for 2021 and
  2022 from the Korea Power Exchange (KPX), two CSV files with Korean headers,
  hour-ending 1..24 KST and values in MWh, ingested as meter ``jeju-kpx``;
- a Green Button (ESPI) sample export of 15-minute household data from the
  Green Button Alliance, whose meter id comes from the file;
- one London household's real half-hourly use (Low Carbon London, meter
  MAC000060), re-dated by whole weeks to 2024-12 .. 2026-11 so the current KEPCO
  tariff applies, ingested as ``demo-household`` on the residential low-voltage
  contract with meter-reading day 1 and billed: the bill of the cycle in
  progress, its month-end P10/P50/P90, the tier bounds it may cross and when.

It ingests them through :mod:`bitgoeul.services` with a progress display,
prints what the store holds (meters, the monthly comparison 2022 vs 2021, peak
demand, base load, the typical day by day type, data-quality findings), and
writes a self-contained HTML report with :func:`bitgoeul.report.write_report`.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from bitgoeul.analytics.profile import DAY_TYPES
from bitgoeul.errors import StoreError
from bitgoeul.ingest.csv import CsvOptions
from bitgoeul.model import Organisation
from bitgoeul.render import print_meter_bill
from bitgoeul.report import (
    DAY_TYPE_LABELS,
    DataSource,
    format_energy_kwh,
    format_period,
    format_power_w,
    write_report,
)
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
)
from bitgoeul.services.billing import MeterBill, bill_meter
from bitgoeul.services.tenancy import SCOPES, issue_key
from bitgoeul.store import MeterStore, open_store

__all__ = ["DemoResult", "run_demo", "sample_files"]

DEFAULT_STORE_NAME = "bitgoeul-demo.duckdb"
"""Store file the demo creates in the current directory when no path is given."""
JEJU_METER_ID = "jeju-kpx"
"""Meter id of the KPX Jeju island system in the demo store."""
JEJU_FILES = ("jeju_DMND_time_2021.csv", "jeju_DMND_time_2022.csv")
GREEN_BUTTON_FILE = "espi_gba_test_usage_data_15min.xml"
HOUSEHOLD_FILE = "household_lcl_mac000060_redated.parquet"
HOUSEHOLD_METER_ID = "demo-household"
"""Meter id of the re-dated London household billed by the demo."""
DEMO_ORG_ID = "default"
"""The demo meters' organisation (the ingest default); the demo issues its API keys."""
GREEN_BUTTON_TIMEZONE = "America/New_York"
"""The sample's LocalTimeParameters: UTC-05:00 with US daylight-saving rules
(dstStartRule 360E2000, second Sunday of March; dstEndRule B40E2000, first Sunday
of November). ESPI names no IANA zone, so the parser leaves it open and ingest
would fall back to Asia/Seoul; the demo names the zone those rules describe."""
_SAMPLE_DIR = ("data", "samples")

SAMPLE_SOURCES: tuple[DataSource, ...] = (
    DataSource(
        name="KPX 시간별 제주전력거래량 / Jeju hourly electricity transaction volume, 2021-2022",
        attribution="Source: Korea Power Exchange (한국전력거래소, KPX), data.go.kr",
        licence="공공누리 제1유형 / Korea Open Government License type 1 (use with attribution)",
        url="https://www.data.go.kr",
    ),
    DataSource(
        name="Green Button (ESPI) sample, 15-minute usage with cost (test_usage_data.xml)",
        attribution="Copyright (c) 2018-2021 Green Button Alliance, Inc.; portions (c) "
        "2013-2018 EnergyOS.org",
        licence="Apache License 2.0",
        url="https://github.com/GreenButtonAlliance/OpenESPI-GreenButton-Java",
    ),
    DataSource(
        name="Low Carbon London smart meter MAC000060, half-hourly, re-dated by 678 weeks "
        "to 2024-12 .. 2026-11 (values unchanged)",
        attribution="Contains data from UK Power Networks' Low Carbon London project, "
        "London Datastore",
        licence="UK Open Government Licence / CC BY (as listed on the London Datastore)",
        url="https://data.london.gov.uk",
    ),
)
"""Attribution of the bundled samples, shown in the report's footer."""


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What :func:`run_demo` made.

    Parameters
    ----------
    store_path : pathlib.Path
        The fresh demo store (DuckDB file).
    report_path : pathlib.Path
        The HTML report.
    meter_ids : tuple of str
        Meters in the store, ``jeju-kpx`` first.
    readings : dict of str to int
        Stored readings per meter [count].
    findings : dict of str to int
        Data-quality findings per meter [count].
    seconds : float
        Wall-clock time of the whole demo [s].
    bill : MeterBill or None
        The household's current billing cycle: bill so far, month-end
        forecast, tier crossings.
    tokens : dict of str to str
        API keys issued for the demo organisation: ``admin`` (read, write,
        admin) and ``share`` (a view-only dashboard key).
    """

    store_path: Path
    report_path: Path
    meter_ids: tuple[str, ...]
    readings: dict[str, int] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    bill: MeterBill | None = None
    tokens: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def sample_files() -> Iterator[dict[str, Path]]:
    """Yield the bundled sample files as real paths, by file name.

    They come from the installed package through :mod:`importlib.resources`
    (extracted to a temporary place only if the package is zipped).

    Examples
    --------
    >>> with sample_files() as paths:
    ...     sorted(paths)
    ['espi_gba_test_usage_data_15min.xml', 'household_lcl_mac000060_redated.parquet', \
'jeju_DMND_time_2021.csv', 'jeju_DMND_time_2022.csv']
    """
    folder = resources.files("bitgoeul").joinpath(*_SAMPLE_DIR)
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(resources.as_file(folder.joinpath(name)))
            for name in (*JEJU_FILES, GREEN_BUTTON_FILE, HOUSEHOLD_FILE)
        }


def _is_demo_meter(meter_id: str) -> bool:
    return meter_id in (JEJU_METER_ID, HOUSEHOLD_METER_ID) or meter_id.startswith(
        Path(GREEN_BUTTON_FILE).stem + "."
    )


def _discard_old_store(path: Path) -> None:
    """Delete a previous demo store at ``path``; refuse anything else."""
    if not path.exists():
        return
    if not path.is_file():
        raise StoreError(f"{path} exists and is not a file; pass another path for the demo store")
    try:
        old = open_store(str(path), read_only=True)
    except StoreError as exc:
        raise StoreError(
            f"{path} exists and is not a demo store the demo can replace ({exc}); "
            "delete it yourself or pass another path"
        ) from exc
    try:
        foreign = sorted(
            s.meter.meter_id for s in list_meters(old) if not _is_demo_meter(s.meter.meter_id)
        )
    finally:
        old.close()
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise StoreError(
            f"{path} holds meters that are not the demo's ({shown}); the demo starts from an "
            "empty store and would delete them: pass a new path for the demo store"
        )
    path.unlink()
    Path(f"{path}.wal").unlink(missing_ok=True)
    spill = Path(f"{path}.tmp")
    if spill.is_dir():
        shutil.rmtree(spill)


def _ingest_samples(
    store: MeterStore, paths: dict[str, Path], console: Console
) -> list[IngestReport]:
    jobs: list[tuple[Path, CsvOptions | None, MeterDefaults]] = [
        (
            paths[name],
            CsvOptions(meter_id=JEJU_METER_ID),
            MeterDefaults(site_id="jeju"),
        )
        for name in JEJU_FILES
    ]
    jobs.append(
        (
            paths[GREEN_BUTTON_FILE],
            None,
            MeterDefaults(site_id="green-button-sample", timezone=GREEN_BUTTON_TIMEZONE),
        )
    )
    jobs.append(
        (
            paths[HOUSEHOLD_FILE],
            None,
            MeterDefaults(site_id="household", reading_day=1, contract_class="residential-low"),
        )
    )
    reports: list[IngestReport] = []
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("적재 / Ingesting", total=len(jobs), rows=0)
        done_rows = 0
        for path, csv_options, defaults in jobs:
            progress.update(task, description=f"적재 / Ingesting {escape(path.name)}")

            def staged(_source: str, rows: int, base: int = done_rows) -> None:
                progress.update(task, rows=base + rows)

            report = ingest_file(path, store, csv=csv_options, defaults=defaults, progress=staged)
            reports.append(report)
            done_rows += report.rows_read
            progress.update(task, advance=1, rows=done_rows)
            meters = ", ".join(report.meters_created) or (
                JEJU_METER_ID if csv_options is not None else "existing meters"
            )
            progress.console.print(
                f"  [green]✓[/] {escape(path.name)} → [cyan]{escape(meters)}[/]: "
                f"{report.inserted:,} readings in {report.seconds:.2f} s"
                + (f", {len(report.rejected)} rows rejected" if report.rejected else "")
            )
        progress.update(task, description="적재 완료 / Ingested")
    return reports


def _energy_unit(largest_kwh: float) -> tuple[float, str]:
    for divisor, unit in ((1e9, "TWh"), (1e6, "GWh"), (1e3, "MWh")):
        if largest_kwh >= divisor:
            return divisor, unit
    return 1.0, "kWh"


def _meters_table(store: MeterStore, meter_ids: list[str]) -> Table:
    table = Table(title="계량기 / Meters", title_justify="left", header_style="bold")
    table.add_column("Meter", style="cyan", overflow="fold")
    table.add_column("Zone")
    table.add_column("Interval", justify="right")
    table.add_column("Readings", justify="right")
    table.add_column("Span (local dates)")
    table.add_column("Energy", justify="right")
    summaries = {s.meter.meter_id: s for s in list_meters(store)}
    for meter_id in meter_ids:
        s = summaries[meter_id]
        zone = s.meter.zone
        span = "—"
        if s.first_ts is not None and s.last_ts is not None:
            span = f"{s.first_ts.astimezone(zone):%Y-%m-%d} – {s.last_ts.astimezone(zone):%Y-%m-%d}"
        interval = f"{s.meter.interval_s // 60} min" if s.meter.interval_s else "?"
        table.add_row(
            escape(meter_id),
            s.meter.timezone,
            interval,
            f"{s.reading_count:,}",
            span,
            format_energy_kwh(s.total_energy_kwh),
        )
    return table


_SUSPECT_CHANGE_PCT = 50.0
"""A month-on-last-year change this large is flagged as more likely a data problem."""


def _monthly_table(store: MeterStore, meter_id: str) -> tuple[Table, int] | None:
    """Return the monthly comparison table and how many months it flags as suspect."""
    summary = next(s for s in list_meters(store) if s.meter.meter_id == meter_id)
    if summary.last_ts is None:
        return None
    year = summary.last_ts.astimezone(summary.meter.zone).year
    rows = []
    for month in range(1, 13):
        month_end = dt.date(year, month, calendar.monthrange(year, month)[1])
        result = compare_usage(store, meter_id, "month", on=month_end)
        if result["period"]["readings"]:
            rows.append((month, result))
    if not rows:
        return None
    largest = max(max(r["period"]["energy_kwh"], r["last_year"]["energy_kwh"]) for _, r in rows)
    divisor, unit = _energy_unit(largest)
    table = Table(
        title=f"{escape(meter_id)} · 월별 사용량 / Monthly energy [{unit}]",
        title_justify="left",
        header_style="bold",
    )
    table.add_column("월 / Month")
    table.add_column(str(year - 1), justify="right")
    table.add_column(str(year), justify="right")
    table.add_column("증감 / Change", justify="right")
    total_now = total_before = 0.0
    suspect = 0
    for month, r in rows:
        now, before = r["period"]["energy_kwh"], r["last_year"]["energy_kwh"]
        total_now += now
        total_before += before if r["last_year"]["readings"] else 0.0
        pct = r["vs_last_year"]["change_pct"]
        change = "—" if pct is None else f"[{'red' if pct > 0 else 'green'}]{pct:+.1f} %[/]"
        if pct is not None and abs(pct) >= _SUSPECT_CHANGE_PCT:
            suspect += 1
            change = f"[yellow]⚠[/] {change}"
        table.add_row(
            calendar.month_abbr[month],
            f"{before / divisor:,.1f}" if r["last_year"]["readings"] else "—",
            f"{now / divisor:,.1f}",
            change,
        )
    total_pct = 100.0 * (total_now - total_before) / total_before if total_before else None
    table.add_section()
    table.add_row(
        "[bold]합계 / Total[/]",
        f"[bold]{total_before / divisor:,.1f}[/]",
        f"[bold]{total_now / divisor:,.1f}[/]",
        "—" if total_pct is None else f"[bold]{total_pct:+.1f} %[/]",
    )
    return table, suspect


def _key_figures(store: MeterStore, meter_id: str, *, island: bool) -> Table:
    table = Table(
        title=f"{escape(meter_id)}: 주요 지표 / Key figures",
        title_justify="left",
        show_header=False,
        box=None,
        padding=(0, 2),
    )
    table.add_column(style="bold")
    table.add_column()
    peak = meter_peak(store, meter_id)
    if peak is not None:
        if peak.resolution_s == 900:
            resolution = "15-minute demand"
        elif peak.resolution_s == 3600:
            resolution = "hourly average: the data are hourly"
        else:
            resolution = f"{peak.resolution_s // 60}-minute average: the data are no finer"
        exact = f" ({peak.demand_kw:,.0f} kW)" if peak.demand_kw >= 1000 else ""
        table.add_row(
            "최대수요 / Peak demand",
            f"[red]{format_power_w(peak.demand_kw * 1000)}[/]{exact}, "
            f"{format_period(peak.start, peak.end)} ({resolution})",
        )
    standby = meter_standby(store, meter_id, method="robust")
    label = "기저부하 / Base load" if island else "대기전력 / Standby"
    if standby is None:
        table.add_row(label, "too few usable days (needs 7)")
    else:
        zone = store.get_meter(meter_id).zone
        last = standby.window_end.astimezone(zone) - dt.timedelta(microseconds=1)
        note = (
            "; for a whole island system the always-on floor is its base load, not appliance "
            "standby"
            if island
            else ""
        )
        table.add_row(
            label,
            f"[green]{format_power_w(standby.power_w)}[/] (robust: median of "
            f"{standby.days_used} daily floors, {standby.window_start.astimezone(zone):%Y-%m-%d}"
            f" – {last:%Y-%m-%d}){note}",
        )
    profile = meter_profile(store, meter_id)
    for day_type in DAY_TYPES:
        rows = profile[profile["day_type"] == day_type]
        if rows.empty:
            continue
        mean_kw = rows["mean_kw"].to_numpy(dtype="float64")
        slots = rows["slot"].tolist()
        top, low = int(mean_kw.argmax()), int(mean_kw.argmin())
        table.add_row(
            f"{DAY_TYPE_LABELS[day_type]} ({int(rows['days'].max())} d)",
            f"peak at {slots[top]} ({format_power_w(1000 * float(mean_kw[top]))} mean), "
            f"lowest at {slots[low]} ({format_power_w(1000 * float(mean_kw[low]))})",
        )
    return table


def _quality_table(store: MeterStore, meter_ids: list[str]) -> tuple[Table, dict[str, int]]:
    table = Table(
        title="데이터 품질 / Data-quality findings", title_justify="left", header_style="bold"
    )
    table.add_column("Meter", style="cyan", overflow="fold")
    table.add_column("Code")
    table.add_column("Count", justify="right")
    totals: dict[str, int] = {}
    for meter_id in meter_ids:
        counts = Counter(issue.code for issue in meter_quality(store, meter_id))
        totals[meter_id] = sum(counts.values())
        if not counts:
            table.add_row(escape(meter_id), "[green]none[/]", "0")
        for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            table.add_row(escape(meter_id), code, f"{n:,}")
    return table, totals


def run_demo(
    store_path: str | os.PathLike[str] | None = None,
    *,
    out: str | os.PathLike[str] = "bitgoeul-report.html",
    console: Console | None = None,
) -> DemoResult:
    """Load the bundled real samples into a fresh store, print a summary and write a report.

    Parameters
    ----------
    store_path : str or path-like, optional
        DuckDB file for the demo store; default ``bitgoeul-demo.duckdb`` in
        the current directory. A previous demo store there is deleted first;
        a file holding other meters (or not a store at all) is refused.
    out : str or path-like, default 'bitgoeul-report.html'
        HTML report to write.
    console : rich.console.Console, optional
        Where to print; default a new console on standard output.

    Returns
    -------
    DemoResult
        Paths, meter ids and counts.

    Raises
    ------
    StoreError
        If ``store_path`` exists and is not a demo store (nothing is deleted),
        or the store cannot be written.

    Examples
    --------
    >>> import io, tempfile, pathlib
    >>> from rich.console import Console
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> result = run_demo(str(folder / "demo.duckdb"), out=folder / "report.html",
    ...                   console=Console(file=io.StringIO()))
    >>> result.readings["jeju-kpx"]
    17520
    """
    started = time.perf_counter()
    console = console or Console()
    store_file = Path(store_path) if store_path is not None else Path.cwd() / DEFAULT_STORE_NAME
    report_file = Path(out)
    console.rule("[bold]빛고을 Bitgoeul demo[/]")
    _discard_old_store(store_file)
    console.print(f"새 저장소 / Fresh store: [bold]{escape(str(store_file))}[/]")
    store = open_store(str(store_file))
    try:
        with sample_files() as paths:
            reports = _ingest_samples(store, paths, console)
        meter_ids = list(dict.fromkeys(m for r in reports for m in r.meters_created))
        console.print()
        console.print(_meters_table(store, meter_ids))
        console.print()
        monthly = _monthly_table(store, JEJU_METER_ID)
        if monthly is not None:
            console.print(monthly[0])
            if monthly[1]:
                console.print(
                    f"[yellow]⚠[/] a change of {_SUSPECT_CHANGE_PCT:.0f} % or more is more likely "
                    "missing or mislabelled data than a change in use: the daily chart in the "
                    "report shows where (the KPX file holds stretches of 4-100 MWh hours, a few "
                    "% of the island's load)."
                )
            console.print()
        for meter_id in meter_ids:
            console.print(_key_figures(store, meter_id, island=meter_id == JEJU_METER_ID))
            console.print()
        quality, findings = _quality_table(store, meter_ids)
        console.print(quality)
        console.print()
        console.rule(
            "[bold]이번 달 전기요금 / This cycle's KEPCO bill[/]: a real London household, "
            "re-dated to 2026 and billed as a Korean 주택용 저압 customer",
            align="left",
        )
        household_bill = bill_meter(store, HOUSEHOLD_METER_ID)
        print_meter_bill(console, household_bill)
        readings = {
            s.meter.meter_id: s.reading_count
            for s in list_meters(store)
            if s.meter.meter_id in meter_ids
        }
        written = write_report(
            store,
            meter_ids,
            report_file,
            title="빛고을 데모 리포트 / Bitgoeul demo report",
            sources=SAMPLE_SOURCES,
            bills={HOUSEHOLD_METER_ID: household_bill},
        )
        tokens = _issue_demo_keys(store)
    finally:
        store.close()
    seconds = time.perf_counter() - started
    size_mb = written.stat().st_size / 1e6
    console.print()
    console.print(
        f"리포트 / Report: [bold]{escape(str(written))}[/] ({size_mb:.1f} MB, opens offline) · "
        f"done in {seconds:.1f} s"
    )
    return DemoResult(
        store_path=store_file.resolve(),
        report_path=written.resolve(),
        meter_ids=tuple(meter_ids),
        readings=readings,
        findings=findings,
        seconds=seconds,
        bill=household_bill,
        tokens=tokens,
    )


def _issue_demo_keys(store: MeterStore) -> dict[str, str]:
    """Name the demo tenant and issue its admin key and a view-only share key."""
    org = DEMO_ORG_ID
    store.upsert_organisation(Organisation(org_id=org, name="빛고을 데모 / Bitgoeul demo"))
    admin = issue_key(store, org, scopes=SCOPES, name="demo admin")
    sites = [s.site_id for s in store.list_sites(org)]
    share = issue_key(store, org, scopes=["read"], name="demo share", site_ids=sites, share=True)
    return {"admin": admin.token, "share": share.token}
