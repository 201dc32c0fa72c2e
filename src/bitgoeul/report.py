"""A self-contained HTML energy report: one file, Plotly charts, no network needed to view it.

:func:`write_report` gathers each meter's figures through :mod:`bitgoeul.services`
(daily and monthly usage, the typical day, peak demand, standby power and the
data-quality findings) and writes one HTML file. plotly.js is embedded once,
from the installed ``plotly`` package, so the report opens offline and never
loads a script from a CDN. Headings are in Korean and English.

Per meter the report shows

- cards: total energy [kWh], peak demand [kW] and when, standby power [W]
  and the number of data-quality findings;
- 일별 사용량 / Daily energy: bars per local day with the trailing 7-day mean;
- 월별 사용량 / Monthly energy: the last 12 months with data, each beside the
  same month a year earlier;
- 하루 부하 곡선 / Typical day: mean power per time-of-day slot for weekdays,
  weekends and public holidays, with lines at peak demand and standby power;
- 데이터 품질 / Data quality: findings counted by code, then listed.

Times are shown in each meter's own zone. Quantities are scaled to a readable
SI prefix (a household in kW, an island grid in MW), with exact kWh on the cards.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from bitgoeul import __version__
from bitgoeul.analytics.profile import DAY_TYPES, PeakDemand
from bitgoeul.analytics.standby import StandbyEstimate
from bitgoeul.model import DataIssue, Meter
from bitgoeul.services import (
    UsagePeriod,
    list_meters,
    meter_peak,
    meter_profile,
    meter_quality,
    meter_standby,
    usage,
)
from bitgoeul.services.billing import MeterBill
from bitgoeul.store import MeterStore, MeterSummary

__all__ = [
    "DataSource",
    "format_energy_kwh",
    "format_period",
    "format_power_w",
    "write_report",
]

_PREFIXES: tuple[tuple[float, str], ...] = (
    (1e12, "T"),
    (1e9, "G"),
    (1e6, "M"),
    (1e3, "k"),
    (1.0, ""),
)
DAY_TYPE_LABELS: dict[str, str] = {
    "weekday": "평일 / Weekday",
    "weekend": "주말 / Weekend",
    "holiday": "공휴일 / Holiday",
}
"""Korean / English names of the day types of :func:`bitgoeul.analytics.profile.load_profile`."""
_DAY_TYPE_COLOURS = {"weekday": "#2563eb", "weekend": "#f59e0b", "holiday": "#dc2626"}
ISSUE_LABELS: dict[str, str] = {
    "gap": "결측 / Gap",
    "clock_jump": "시각 어긋남 / Clock jump",
    "negative_energy": "음수 사용량 / Negative energy",
    "stuck_value": "고정값 반복 / Stuck value",
    "zero_run": "연속 0 / Zero run",
    "spike": "급증 / Spike",
    "conflicting_duplicate": "중복 충돌 / Conflicting duplicate",
    "register_reset": "누적값 초기화 / Register reset",
    "register_rollover": "누적값 한 바퀴 / Register rollover",
    "missing_value": "빈 값 / Missing value",
}
"""Korean / English names of data-quality finding codes."""
_MAX_LISTED_ISSUES = 50
_PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


@dataclass(frozen=True, slots=True)
class DataSource:
    """Where readings in a report come from, for its attribution footer.

    Parameters
    ----------
    name : str
        What the data are, e.g. 'KPX Jeju hourly transaction volume 2021-2022'.
    attribution : str
        The credit line the licence asks for.
    licence : str
        Licence or terms, e.g. 'Apache-2.0'.
    url : str, optional
        Where the data are published (shown as text, not fetched).
    """

    name: str
    attribution: str
    licence: str
    url: str | None = None


# -- number formatting ----------------------------------------------------------------
def _prefix_for(magnitude: float) -> tuple[float, str]:
    """Return (divisor, prefix) putting ``magnitude`` (base units) in 1..999."""
    for divisor, prefix in _PREFIXES:
        if abs(magnitude) >= divisor:
            return divisor, prefix
    return 1.0, ""


def _three_digits(value: float) -> str:
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_energy_kwh(energy_kwh: float) -> str:
    """Return energy with a readable SI prefix, three significant digits.

    Parameters
    ----------
    energy_kwh : float
        Energy [kWh].

    Examples
    --------
    >>> format_energy_kwh(6_794_643_000), format_energy_kwh(1391.666), format_energy_kwh(0.4)
    ('6.79 TWh', '1.39 MWh', '400 Wh')
    """
    if not math.isfinite(energy_kwh):
        return "—"
    divisor, prefix = _prefix_for(energy_kwh * 1000.0)
    return f"{_three_digits(energy_kwh * 1000.0 / divisor)} {prefix}Wh"


def format_power_w(power_w: float) -> str:
    """Return power with a readable SI prefix, three significant digits.

    Parameters
    ----------
    power_w : float
        Power [W].

    Examples
    --------
    >>> format_power_w(572e6), format_power_w(1173.5), format_power_w(500)
    ('572 MW', '1.17 kW', '500 W')
    """
    if not math.isfinite(power_w):
        return "—"
    divisor, prefix = _prefix_for(power_w)
    return f"{_three_digits(power_w / divisor)} {prefix}W"


def _axis_scale(max_kilo: float, unit: str) -> tuple[float, str]:
    """Return (factor from k-units, unit label) for a chart whose largest value is ``max_kilo``."""
    divisor, prefix = _prefix_for(max_kilo * 1000.0)
    return 1000.0 / divisor, f"{prefix}{unit}"


def _local(value: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return value.astimezone(zone)


def format_period(start: dt.datetime, end: dt.datetime) -> str:
    """Return an interval as local wall-clock text with the zone's abbreviation.

    Parameters
    ----------
    start, end : datetime.datetime
        Aware bounds in the zone to show (``end`` exclusive); an end on
        another day carries its date.

    Examples
    --------
    >>> import datetime as dt
    >>> from zoneinfo import ZoneInfo
    >>> kst = ZoneInfo("Asia/Seoul")
    >>> start = dt.datetime(2022, 10, 27, 8, tzinfo=kst)
    >>> format_period(start, start + dt.timedelta(hours=1))
    '2022-10-27 08:00–09:00 KST'
    """
    tail = end.strftime("%H:%M") if end.date() == start.date() else end.strftime("%m-%d %H:%M")
    return f"{start:%Y-%m-%d %H:%M}–{tail} {start.tzname() or ''}".rstrip()


def _resolution_note(seconds: int) -> str:
    if seconds == 900:
        return "15-minute demand"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "hourly average" if hours == 1 else f"{hours}-hour average"
    return f"{seconds // 60}-minute average"


# -- gathering --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _MeterFigures:
    summary: MeterSummary
    daily: list[UsagePeriod]
    monthly: list[UsagePeriod]
    profile: pd.DataFrame
    peak: PeakDemand | None
    standby: StandbyEstimate | None
    issues: list[DataIssue]

    @property
    def meter(self) -> Meter:
        return self.summary.meter


def _gather(store: MeterStore, meter_id: str, summaries: dict[str, MeterSummary]) -> _MeterFigures:
    summary = summaries[meter_id]
    meter = summary.meter
    has_interval = meter.interval_s is not None or summary.reading_count >= 2
    return _MeterFigures(
        summary=summary,
        daily=usage(store, meter_id, "day"),
        monthly=usage(store, meter_id, "month"),
        profile=meter_profile(store, meter_id) if has_interval else pd.DataFrame(),
        peak=meter_peak(store, meter_id) if meter.interval_s is not None else None,
        standby=meter_standby(store, meter_id) if summary.reading_count else None,
        issues=meter_quality(store, meter_id),
    )


# -- charts -----------------------------------------------------------------------------
def _layout(y_title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "template": "plotly_white",
        "height": 360,
        "margin": {"l": 64, "r": 16, "t": 24, "b": 40},
        "font": {"family": _FONT_STACK, "size": 12, "color": "#1e293b"},
        "legend": {"orientation": "h", "y": -0.18, "x": 0.0},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero", "gridcolor": "#e2e8f0"},
        "hovermode": "x unified",
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
    }
    layout.update(extra)
    return layout


def _figure_html(figure: Any, div_id: str) -> str:
    html_text: str = figure.to_html(
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        div_id=div_id,
        config=_PLOTLY_CONFIG,
    )
    return html_text


def _daily_chart(data: _MeterFigures, div_id: str) -> str:
    import plotly.graph_objects as go

    if not data.daily:
        return _EMPTY
    energy = pd.Series(
        [p.energy_kwh for p in data.daily],
        index=pd.DatetimeIndex([p.start.date().isoformat() for p in data.daily]),
        dtype="float64",
    )
    days = pd.date_range(energy.index.min(), energy.index.max(), freq="D")
    energy = energy.reindex(days)
    mean7 = energy.rolling(7, min_periods=7).mean()
    factor, unit = _axis_scale(float(energy.max()), "Wh")
    x = [d.strftime("%Y-%m-%d") for d in days]
    fig = go.Figure()
    fig.add_bar(
        x=x,
        y=(energy * factor).round(4).tolist(),
        name="일별 / Daily",
        marker={"color": "#93c5fd"},
        hovertemplate="%{y:,.3f} " + unit + "<extra>일별 / Daily</extra>",
    )
    fig.add_scatter(
        x=x,
        y=(mean7 * factor).round(4).tolist(),
        name="7일 평균 / 7-day mean",
        mode="lines",
        line={"color": "#1e3a8a", "width": 2},
        hovertemplate="%{y:,.3f} " + unit + "<extra>7일 평균 / 7-day mean</extra>",
    )
    fig.update_layout(
        _layout(
            f"[{unit}]",
            bargap=0.1,
            xaxis={"type": "date", "gridcolor": "#f1f5f9"},
        )
    )
    return _figure_html(fig, div_id)


def _monthly_chart(data: _MeterFigures, div_id: str) -> str:
    import plotly.graph_objects as go

    if not data.monthly:
        return _EMPTY
    by_label = {p.label: p for p in data.monthly}
    recent = data.monthly[-12:]
    earlier = [by_label.get(f"{int(p.label[:4]) - 1}{p.label[4:]}") for p in recent]
    values = [p.energy_kwh for p in recent]
    before = [p.energy_kwh if p else None for p in earlier]
    largest = max(values + [v for v in before if v is not None])
    factor, unit = _axis_scale(largest, "Wh")
    x = [p.label for p in recent]

    def change(now: float, then: float | None) -> str:
        if then is None or then == 0:
            return "전년 자료 없음 / no data a year earlier"
        return f"전년 대비 / vs last year {100.0 * (now - then) / then:+.1f} %"

    fig = go.Figure()
    fig.add_bar(
        x=x,
        y=[v * factor for v in values],
        name="해당 월 / Month",
        marker={"color": "#2563eb"},
        customdata=[
            [p.readings, change(p.energy_kwh, b)] for p, b in zip(recent, before, strict=True)
        ],
        hovertemplate="%{y:,.3f} "
        + unit
        + " (%{customdata[0]:,} readings)<br>%{customdata[1]}<extra>해당 월 / Month</extra>",
    )
    fig.add_bar(
        x=x,
        y=[v * factor if v is not None else None for v in before],
        name="전년 동월 / Same month last year",
        marker={"color": "#cbd5e1"},
        customdata=[e.label if e else "" for e in earlier],
        hovertemplate="%{y:,.3f} " + unit + " (%{customdata})<extra>전년 동월 / Last year</extra>",
    )
    fig.update_layout(
        _layout(
            f"[{unit}]",
            barmode="group",
            bargap=0.25 if len(recent) >= 6 else 0.8 - 0.1 * len(recent),
            xaxis={"type": "category"},
        )
    )
    return _figure_html(fig, div_id)


def _profile_chart(data: _MeterFigures, div_id: str) -> str:
    import plotly.graph_objects as go

    profile = data.profile
    if profile.empty:
        return _EMPTY
    largest = float(profile["mean_kw"].max())
    if data.peak is not None:
        largest = max(largest, data.peak.demand_kw)
    factor, unit = _axis_scale(largest, "W")
    fig = go.Figure()
    for day_type in DAY_TYPES:
        rows = profile[profile["day_type"] == day_type]
        if rows.empty:
            continue
        days = int(rows["days"].max())
        label = f"{DAY_TYPE_LABELS[day_type]} ({days} d)"
        fig.add_scatter(
            x=rows["slot"].tolist(),
            y=(rows["mean_kw"] * factor).round(4).tolist(),
            name=label,
            mode="lines",
            line={"color": _DAY_TYPE_COLOURS[day_type], "width": 2.5, "shape": "spline"},
            hovertemplate="%{y:,.3f} " + unit + f"<extra>{html.escape(label)}</extra>",
        )
    if data.peak is not None:
        fig.add_hline(
            y=data.peak.demand_kw * factor,
            line={"color": "#b91c1c", "dash": "dash", "width": 1.5},
            annotation_text=(
                f"최대수요 / Peak {format_power_w(data.peak.demand_kw * 1000)}, "
                f"{format_period(data.peak.start, data.peak.end)}"
            ),
            annotation_position="top left",
            annotation_font={"color": "#b91c1c"},
        )
    if data.standby is not None:
        fig.add_hline(
            y=data.standby.power_w / 1000.0 * factor,
            line={"color": "#047857", "dash": "dot", "width": 1.5},
            annotation_text=f"대기전력 / Standby {format_power_w(data.standby.power_w)}",
            annotation_position="bottom left",
            annotation_font={"color": "#047857"},
        )
    fig.update_layout(
        _layout(
            f"[{unit}]",
            xaxis={"type": "category", "nticks": 13},
        )
    )
    return _figure_html(fig, div_id)


_EMPTY = '<p class="empty">자료 없음 / No data</p>'


def _bill_chart(bill: MeterBill, div_id: str) -> str:
    """Cumulative cycle energy: measured, then the P10-P90 band, against the tier bounds."""
    import plotly.graph_objects as go

    fig = go.Figure()
    forecast = bill.forecast
    if forecast is None:
        return _EMPTY
    daily = forecast.energy.daily
    x = [d.isoformat() for d in daily.index]
    measured = daily["status"].to_numpy() == "observed"
    cum = {q: daily[f"{q}_kwh"].cumsum().round(3).tolist() for q in ("p10", "p50", "p90")}
    last = int(measured.nonzero()[0].max()) if measured.any() else -1
    ahead = slice(max(last, 0), None)
    fig.add_scatter(
        x=x[ahead],
        y=cum["p90"][ahead],
        mode="lines",
        line={"width": 0},
        showlegend=False,
        hoverinfo="skip",
    )
    fig.add_scatter(
        x=x[ahead],
        y=cum["p10"][ahead],
        mode="lines",
        line={"width": 0},
        fill="tonexty",
        fillcolor="rgba(245,158,11,.22)",
        name="P10–P90",
        hovertemplate="P10 %{y:,.0f} kWh<extra></extra>",
    )
    fig.add_scatter(
        x=x[ahead],
        y=cum["p50"][ahead],
        mode="lines",
        line={"color": "#b45309", "dash": "dash", "width": 2},
        name="예측 P50 / forecast",
        hovertemplate="P50 %{y:,.0f} kWh<extra></extra>",
    )
    if last >= 0:
        fig.add_scatter(
            x=x[: last + 1],
            y=cum["p50"][: last + 1],
            mode="lines+markers",
            line={"color": "#1d4ed8", "width": 3},
            marker={"size": 5},
            name="사용량 / measured",
            hovertemplate="%{y:,.1f} kWh<extra>measured</extra>",
        )
    bounds = bill.tier.boundaries_kwh if bill.tier is not None else ()
    top = max(cum["p90"][-1], float(bounds[0]) if bounds else 0.0) * 1.12
    for i, bound in enumerate(bounds):
        if float(bound) > top:
            break
        fig.add_hline(
            y=float(bound),
            line={"color": "#dc2626" if i else "#f97316", "width": 1, "dash": "dot"},
            annotation_text=f"{bound:,.0f} kWh → tier {i + 2}",
            annotation_position="top left",
            annotation_font={"size": 11, "color": "#7f1d1d"},
        )
    for crossing in bill.crossings:
        if crossing.date_p50 is not None:
            fig.add_scatter(
                x=[crossing.date_p50.isoformat()],
                y=[float(crossing.boundary_kwh)],
                mode="markers",
                marker={"symbol": "x", "size": 12, "color": "#dc2626"},
                name=f"{crossing.boundary_kwh:,.0f} kWh crossed (P50)",
                hovertemplate="%{x}<extra>projected crossing</extra>",
            )
    fig.update_layout(
        _layout("누적 / cumulative [kWh]", xaxis={"type": "date", "gridcolor": "#f1f5f9"})
    )
    fig.update_yaxes(range=[0, top])
    return _figure_html(fig, div_id)


def _bill_section(bill: MeterBill, slug: str) -> str:
    """Cards and a chart for a meter's current billing cycle."""
    b = bill.bill
    cycle = bill.cycle
    state = (
        "complete"
        if bill.complete
        else f"measured to {bill.as_of - dt.timedelta(days=1)}, "
        f"{cycle.days - (bill.as_of - cycle.start).days} days to go"
    )
    cards = [
        _card(
            "total",
            "요금 지금까지 / Bill so far" if not bill.complete else "요금 / Bill",
            f"{b.total_won:,} 원",
            f"{bill.energy_kwh:,.1f} kWh · tier {b.tier} · {bill.contract}",
        )
    ]
    if bill.forecast is not None:
        e, q = bill.forecast.energy, bill.forecast.bills
        cards.append(
            _card(
                "peak",
                "월말 예상 / Month-end forecast",
                f"{q['p50'].total_won:,} 원",
                f"P10–P90 {q['p10'].total_won:,}–{q['p90'].total_won:,} 원 · "
                f"{e.p10_kwh:,.0f}–{e.p90_kwh:,.0f} kWh (P50 {e.p50_kwh:,.0f})",
            )
        )
    if bill.tier is not None:
        t = bill.tier
        nxt = (
            f"{t.kwh_to_boundary:,.1f} kWh left before {t.next_boundary_kwh:,.0f} kWh"
            if t.next_boundary_kwh is not None
            else "above the last block bound"
        )
        soon = next((c for c in bill.crossings if c.date_p50 is not None), None)
        detail = nxt + (f" · crossing projected {soon.date_p50}" if soon is not None else "")
        cards.append(
            _card(
                "issues",
                "다음 1 kWh / Next kWh costs",
                f"{t.marginal_won_per_kwh:,.1f} 원",
                detail,
            )
        )
    if bill.cashback is not None:
        c = bill.cashback
        cards.append(
            _card(
                "standby",
                "에너지캐시백 / Energy cashback",
                f"{c.total_won:,} 원",
                f"{c.reduction_pct}% vs the same month of past years ({c.baseline_kwh} kWh)"
                + ("" if bill.complete else ", on the P50"),
            )
        )
    notes = "".join(f"<li>{_esc(n)}</li>" for n in bill.notes)
    return (
        f'<h3 class="bill">이번 검침 기간 / Billing cycle {_esc(cycle.label)} '
        f"({cycle.start} – {cycle.end}, {_esc(state)})</h3>"
        f'<div class="cards">{"".join(cards)}</div>'
        + _chart_card(
            "요금 구간 / Tier bands",
            "Cumulative energy this cycle: measured (blue), then the P50 forecast (dashed) "
            "in its P10–P90 band, against the residential block bounds (dotted).",
            _bill_chart(bill, slug + "-bill"),
        )
        + (f'<ul class="notes">{notes}</ul>' if notes else "")
    )


def _chart_card(heading: str, caption: str, body: str) -> str:
    return (
        f'<div class="card chart"><h3>{_esc(heading)}</h3>'
        f'<p class="caption">{_esc(caption)}</p>{body}</div>'
    )


# -- html -------------------------------------------------------------------------------
_FONT_STACK = (
    '-apple-system, BlinkMacSystemFont, "Segoe UI", "Apple SD Gothic Neo", "Malgun Gothic", '
    '"Noto Sans KR", "Noto Sans CJK KR", Roboto, "Helvetica Neue", Arial, sans-serif'
)

_CSS = """
:root { --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --bg: #f8fafc; --accent: #f59e0b;
        --navy: #0b2545; --card: #ffffff; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font-family: FONTS;
       font-size: 15px; line-height: 1.5; }
header.top { background: linear-gradient(120deg, var(--navy) 0%, #13315c 60%, #1d4e89 100%);
             color: #fff; padding: 28px 40px 22px; border-bottom: 4px solid var(--accent); }
header.top .brand { font-size: 13px; letter-spacing: .12em; text-transform: uppercase;
                    color: #fcd34d; font-weight: 600; }
header.top h1 { margin: 4px 0 6px; font-size: 28px; font-weight: 700; }
header.top p.meta { margin: 0; color: #cbd5e1; font-size: 13px; }
nav { margin-top: 14px; display: flex; flex-wrap: wrap; gap: 8px; }
nav a { color: #fff; text-decoration: none; font-size: 13px; padding: 4px 12px;
        border: 1px solid rgba(255,255,255,.35); border-radius: 999px; }
nav a:hover { background: rgba(255,255,255,.12); }
main { max-width: 1240px; margin: 0 auto; padding: 28px 24px 8px; }
section.meter { margin-bottom: 44px; }
section.meter > h2 { font-size: 22px; margin: 0 0 2px; }
section.meter > h2 code { font-size: 14px; color: var(--muted); font-weight: 400;
                          background: #eef2f7; padding: 2px 8px; border-radius: 6px; }
p.sub { color: var(--muted); margin: 0 0 16px; font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 14px;
         margin-bottom: 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px;
        padding: 16px 18px; box-shadow: 0 1px 2px rgba(15,23,42,.04); }
.card .label { font-size: 12px; color: var(--muted); text-transform: uppercase;
               letter-spacing: .04em; }
.card .value { font-size: 28px; font-weight: 700; margin: 2px 0; }
.card .detail { font-size: 12.5px; color: var(--muted); }
.card.peak .value { color: #b91c1c; } .card.standby .value { color: #047857; }
.card.issues .value { color: #b45309; } .card.total .value { color: #1d4ed8; }
.chart { margin-bottom: 16px; }
h3.bill { font-size: 17px; margin: 6px 0 10px; }
ul.notes { color: var(--muted); font-size: 12.5px; margin: 0 0 16px; }
.chart h3 { margin: 0; }
p.caption { margin: 2px 0 4px; color: var(--muted); font-size: 12.5px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 16px; }
.grid2 > * { min-width: 0; }
h3 { font-size: 16px; margin: 0 0 10px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { color: var(--muted); font-weight: 600; background: #f8fafc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #047857; font-weight: 600; }
.empty { padding: 16px; color: var(--muted); }
details summary { cursor: pointer; color: #1d4ed8; margin: 10px 0 6px; }
footer { border-top: 1px solid var(--line); background: #fff; padding: 22px 40px 30px;
         color: var(--muted); font-size: 13px; }
footer h2 { font-size: 15px; color: var(--ink); margin: 0 0 8px; }
footer ul { margin: 0 0 10px; padding-left: 18px; }
footer .licence { color: var(--ink); }
""".replace("FONTS", _FONT_STACK)


def _esc(value: object) -> str:
    return html.escape(str(value))


def _slug(index: int, meter_id: str) -> str:
    return f"m{index}-" + re.sub(r"[^A-Za-z0-9_-]+", "-", meter_id)[:40]


def _card(kind: str, label: str, value: str, detail: str) -> str:
    return (
        f'<div class="card {kind}"><div class="label">{_esc(label)}</div>'
        f'<div class="value">{_esc(value)}</div><div class="detail">{_esc(detail)}</div></div>'
    )


def _cards(data: _MeterFigures) -> str:
    summary = data.summary
    parts = [
        _card(
            "total",
            "총 사용량 / Total energy",
            format_energy_kwh(summary.total_energy_kwh) if summary.reading_count else "—",
            f"{summary.total_energy_kwh:,.0f} kWh · {summary.reading_count:,} readings",
        )
    ]
    if data.peak is not None:
        peak = data.peak
        parts.append(
            _card(
                "peak",
                "최대수요 / Peak demand",
                format_power_w(peak.demand_kw * 1000),
                (f"{peak.demand_kw:,.0f} kW · " if peak.demand_kw >= 1000 else "")
                + f"{format_period(peak.start, peak.end)} "
                f"({_resolution_note(peak.resolution_s)})",
            )
        )
    else:
        parts.append(_card("peak", "최대수요 / Peak demand", "—", "no readings or interval"))
    if data.standby is not None:
        sb = data.standby
        zone = data.meter.zone
        window = (
            f"{_local(sb.window_start, zone):%Y-%m-%d}–"
            f"{_local(sb.window_end - dt.timedelta(microseconds=1), zone):%Y-%m-%d}"
        )
        parts.append(
            _card(
                "standby",
                "대기전력 / Standby power",
                format_power_w(sb.power_w),
                f"{sb.power_w:,.0f} W · {sb.method}, {sb.days_used} days, {window}",
            )
        )
    else:
        parts.append(_card("standby", "대기전력 / Standby power", "—", "fewer than 7 usable days"))
    counts = Counter(i.code for i in data.issues)
    detail = ", ".join(f"{code} {n}" for code, n in counts.most_common()) or "none found"
    parts.append(_card("issues", "품질 점검 / Quality findings", f"{len(data.issues):,}", detail))
    return '<div class="cards">' + "".join(parts) + "</div>"


def _affected(issue: DataIssue) -> int | None:
    for key in ("count", "missing_intervals"):
        value = issue.data.get(key)
        if isinstance(value, int):
            return value
    return None


def _quality_table(data: _MeterFigures) -> str:
    head = "<h3>데이터 품질 / Data quality</h3>"
    if not data.issues:
        return (
            f'<div class="card">{head}<p class="ok">발견된 문제 없음 / No findings: no gaps, '
            "stuck values, zero runs, spikes, negative readings or clock jumps.</p></div>"
        )
    by_code: dict[str, list[DataIssue]] = {}
    for issue in data.issues:
        by_code.setdefault(issue.code, []).append(issue)
    zone = data.meter.zone
    rows = []
    for code, issues in sorted(by_code.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        affected = [a for a in (_affected(i) for i in issues) if a is not None]
        first = _local(issues[0].start, zone)
        rows.append(
            f"<tr><td><code>{_esc(code)}</code></td><td>{_esc(ISSUE_LABELS.get(code, code))}</td>"
            f'<td class="num">{len(issues):,}</td>'
            f'<td class="num">{sum(affected):,}</td>'
            f"<td>{first:%Y-%m-%d %H:%M %Z}</td></tr>"
        )
    summary = (
        "<table><thead><tr><th>code</th><th>구분 / Finding</th>"
        '<th class="num">건수 / Count</th><th class="num">구간 / Intervals</th>'
        "<th>처음 / First</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )
    listed = data.issues[:_MAX_LISTED_ISSUES]
    details = "".join(
        f"<tr><td><code>{_esc(i.code)}</code></td>"
        f"<td>{_local(i.start, zone):%Y-%m-%d %H:%M}</td>"
        f"<td>{_local(i.end, zone):%Y-%m-%d %H:%M}</td><td>{_esc(i.message)}</td></tr>"
        for i in listed
    )
    more = len(data.issues) - len(listed)
    note = f"<p>… and {more:,} more</p>" if more else ""
    return (
        f'<div class="card">{head}{summary}<details><summary>모든 항목 보기 / '
        f"Show findings ({len(listed):,} of {len(data.issues):,})</summary><table><thead><tr>"
        "<th>code</th><th>시작 / Start</th><th>끝 / End</th><th>내용 / Message</th></tr>"
        f"</thead><tbody>{details}</tbody></table>{note}</details></div>"
    )


def _subtitle(data: _MeterFigures) -> str:
    meter, summary = data.meter, data.summary
    parts = [meter.timezone]
    if meter.interval_s:
        parts.append(f"{meter.interval_s // 60}-minute readings")
    if summary.first_ts is not None and summary.last_ts is not None:
        first = _local(summary.first_ts, meter.zone)
        last = _local(summary.last_ts, meter.zone)
        parts.append(f"{first:%Y-%m-%d %H:%M} – {last:%Y-%m-%d %H:%M} (interval starts)")
    parts.append(f"source unit {meter.unit}")
    return " · ".join(parts)


def _meter_section(index: int, data: _MeterFigures, bill: MeterBill | None = None) -> str:
    slug = _slug(index, data.meter.meter_id)
    meter_id = data.meter.meter_id
    zone = data.meter.timezone
    name = data.meter.name
    heading = f"{_esc(name)} <code>{_esc(meter_id)}</code>" if name else _esc(meter_id)
    return (
        f'<section class="meter" id="{slug}">'
        f"<h2>{heading}</h2>"
        f'<p class="sub">{_esc(_subtitle(data))}</p>'
        + _cards(data)
        + (_bill_section(bill, slug) if bill is not None else "")
        + _chart_card(
            "일별 사용량 / Daily energy",
            f"Energy per local day ({zone}); the line is the mean of the 7 days ending that day.",
            _daily_chart(data, slug + "-daily"),
        )
        + '<div class="grid2">'
        + _chart_card(
            "월별 사용량 / Monthly energy",
            "The last 12 months with data, each beside the same month a year earlier.",
            _monthly_chart(data, slug + "-monthly"),
        )
        + _chart_card(
            "하루 부하 곡선 / Typical day",
            f"Mean power by time of day ({zone}) on weekdays, weekends and public holidays "
            "(Korean calendar); dashed: peak demand; dotted: standby power (last 30 days).",
            _profile_chart(data, slug + "-profile"),
        )
        + "</div>"
        + _quality_table(data)
        + "</section>"
    )


def _footer(sources: Sequence[DataSource], plotly_version: str) -> str:
    items = "".join(
        f"<li><strong>{_esc(s.name)}</strong>: {_esc(s.attribution)} "
        f'<span class="licence">[{_esc(s.licence)}]</span>'
        + (f" — {_esc(s.url)}" if s.url else "")
        + "</li>"
        for s in sources
    )
    listed = f"<ul>{items}</ul>" if items else "<p>No sources were given for this report.</p>"
    return (
        "<footer><h2>출처 / Data sources</h2>"
        + listed
        + f"<p>Made with Bitgoeul {_esc(__version__)} (Apache-2.0). Charts: plotly.js "
        f"{_esc(plotly_version)} (MIT licence, © Plotly, Inc.), embedded so this file "
        "opens without a network connection.</p></footer>"
    )


def _plotly_script() -> tuple[str, str]:
    """Return the plotly.js bundle of the installed plotly package and its version."""
    from plotly.offline import get_plotlyjs

    script: str = get_plotlyjs()
    match = re.search(r"plotly\.js v([0-9][0-9A-Za-z.+-]*)", script[:400])
    version = match.group(1) if match else "(bundled)"
    # A literal "</script" inside the bundle would end the element early.
    return script.replace("</script", "<\\/script"), version


def write_report(
    store: MeterStore,
    meter_ids: Iterable[str],
    path: str | os.PathLike[str],
    *,
    title: str = "에너지 사용 리포트 / Energy report",
    sources: Sequence[DataSource] = (),
    bills: Mapping[str, MeterBill] | None = None,
) -> Path:
    """Write a self-contained HTML report of meters and return its path.

    Parameters
    ----------
    store : MeterStore
        Where the readings are.
    meter_ids : iterable of str
        Meters to report on, in this order.
    path : str or path-like
        HTML file to write (replaced atomically if it exists).
    title : str, optional
        Heading of the report.
    sources : sequence of DataSource, optional
        Data sources credited in the footer.
    bills : mapping of str to MeterBill, optional
        Billing cycles to show, by meter id (see
        :func:`bitgoeul.services.billing.bill_meter`): the bill, the month-end
        band and the tier bounds.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    NotFoundError
        If a meter does not exist; nothing is written.
    ValueError
        If ``meter_ids`` is empty.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> from bitgoeul.services import ingest_frame
    >>> from bitgoeul.store import open_store
    >>> store = open_store(":memory:")
    >>> ts = pd.date_range("2025-08-01", periods=96 * 14, freq="15min", tz="Asia/Seoul")
    >>> _ = ingest_frame(pd.DataFrame({"meter_id": "home", "ts": ts, "energy_kwh": 0.1}), store)
    >>> out = write_report(store, ["home"], pathlib.Path(tempfile.mkdtemp()) / "r.html")
    >>> "home" in out.read_text(encoding="utf-8")
    True
    """
    ids = list(dict.fromkeys(meter_ids))
    if not ids:
        raise ValueError("meter_ids is empty: name at least one meter to report on")
    for meter_id in ids:
        store.get_meter(meter_id)  # NotFoundError before any work or file is written
    summaries = {s.meter.meter_id: s for s in list_meters(store)}
    figures = [_gather(store, m, summaries) for m in ids]
    script, plotly_version = _plotly_script()
    nav = (
        "<nav>"
        + "".join(
            f'<a href="#{_slug(i, d.meter.meter_id)}">{_esc(d.meter.meter_id)}</a>'
            for i, d in enumerate(figures)
        )
        + "</nav>"
        if len(figures) > 1
        else ""
    )
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    store_name = Path(store.path).name if store.path != ":memory:" else ":memory:"
    document = (
        '<!DOCTYPE html>\n<html lang="ko">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="Bitgoeul {_esc(__version__)}">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n"
        f"<script>/* plotly.js {_esc(plotly_version)}, MIT licence, embedded from the installed "
        f"plotly package */\n{script}\n</script>\n</head>\n<body>\n"
        '<header class="top"><div class="brand">빛고을 Bitgoeul</div>'
        f"<h1>{_esc(title)}</h1>"
        f'<p class="meta">{len(figures)} meter(s) · store {_esc(store_name)} · '
        f"generated {generated}</p>{nav}</header>\n<main>\n"
        + "\n".join(
            _meter_section(i, d, (bills or {}).get(d.meter.meter_id)) for i, d in enumerate(figures)
        )
        + "\n</main>\n"
        + _footer(sources, plotly_version)
        + "\n</body>\n</html>\n"
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        partial.write_text(document, encoding="utf-8")
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target
