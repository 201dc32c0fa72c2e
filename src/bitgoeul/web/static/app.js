/* Bitgoeul dashboard: reads the JSON API with the user's key, draws with plotly.js. */
"use strict";
(() => {
  const KEY = "bitgoeul.key";
  const LANG = "bitgoeul.lang";
  const LANGS = ["ko", "en"];
  const COLORS = { now: "#1f6feb", before: "#9aa5b1", band: "rgba(31,111,235,0.15)",
    forecast: "#f08c00", tier: ["rgba(26,127,55,0.07)", "rgba(240,140,0,0.09)", "rgba(207,34,46,0.08)"] };
  const $ = (id) => document.getElementById(id);
  const state = { strings: null, lang: "ko", key: null, fleet: null, board: null, meterId: null };
  // Runs before plotly.js (see index.html): fetch now, draw once plotly.js is ready.
  const stringsLoaded = fetch("/web/i18n.json").then((r) => r.json());
  const plotlyReady = new Promise((resolve) => {
    if (window.Plotly) resolve();
    else document.addEventListener("DOMContentLoaded", resolve, { once: true });
  });

  // -- the key: from ?key= (then removed from the address bar), else this tab's storage ------
  const params = new URLSearchParams(location.search);
  if (params.has("key")) {
    sessionStorage.setItem(KEY, params.get("key"));
    params.delete("key");
    const query = params.toString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : "") + location.hash);
  }
  state.key = sessionStorage.getItem(KEY);

  // -- the language: ?lang=, else the remembered choice, else the browser's -------------------
  function initialLang() {
    const asked = params.get("lang");
    if (LANGS.includes(asked)) { localStorage.setItem(LANG, asked); return asked; }
    const saved = localStorage.getItem(LANG);
    if (LANGS.includes(saved)) return saved;
    const browser = (navigator.languages || [navigator.language || "en"]);
    return browser.some((l) => String(l).toLowerCase().startsWith("ko")) ? "ko" : "en";
  }
  state.lang = initialLang();

  function t(name, values) {
    let text = (state.strings && state.strings[state.lang][name]) || name;
    for (const [k, v] of Object.entries(values || {})) text = text.split("{" + k + "}").join(v);
    return text;
  }
  const locale = () => (state.lang === "ko" ? "ko-KR" : "en-GB");
  function num(value, digits) {
    if (value === null || value === undefined) return "—";
    return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(value);
  }
  const pct = (v) => (v === null || v === undefined ? t("no_comparison") : (v > 0 ? "+" : "") + num(v, 1) + " %");
  function scaled(value, units, digits) {  // [[divisor, unit], ...] largest first
    if (value === null || value === undefined) return "—";
    const [divisor, unit] = units.find(([d]) => Math.abs(value) >= d * 10) || units.at(-1);
    return `${num(value / divisor, divisor === 1 ? digits : 1)} ${unit}`;
  }
  const energy = (kwh, digits = 1) => scaled(kwh, [[1e6, "GWh"], [1e3, "MWh"], [1, "kWh"]], digits);
  const power = (w, digits = 0) => scaled(w, [[1e6, "MW"], [1e3, "kW"], [1, "W"]], digits);
  const won = (v) => (state.lang === "ko" ? num(v, 0) + " 원" : "₩" + num(v, 0));
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function applyStrings() {
    document.documentElement.lang = state.lang;
    document.title = t("title");
    document.querySelectorAll("[data-t]").forEach((n) => { n.textContent = t(n.dataset.t); });
    document.querySelectorAll("[data-tp]").forEach((n) => { n.placeholder = t(n.dataset.tp); });
    document.querySelectorAll("[data-lang]").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.lang === state.lang));
    });
  }

  async function api(path) {
    const response = await fetch(path, { headers: { "X-API-Key": state.key, Accept: "application/json" } });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      const error = new Error(body.detail || body.title || response.statusText);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  function show(section) {
    for (const id of ["key-prompt", "fleet", "meter"]) $(id).hidden = id !== section;
    $("sign-out").hidden = !state.key;
  }
  function setStatus(text, isError) {
    $("status").textContent = text || "";
    $("status").className = "status" + (isError ? " error" : "");
  }

  // -- fleet table ---------------------------------------------------------------------------
  function renderFleet() {
    const body = document.querySelector("#fleet-table tbody");
    body.replaceChildren();
    $("fleet-more").hidden = !state.fleet.next_cursor;
    if (!state.fleet.items.length) {
      body.append(el("tr", {}, el("td", { colspan: "6" }, t("no_meters"))));
      return;
    }
    for (const m of state.fleet.items) {
      const q = m.quality;
      const counts = Object.entries(q.counts).map(([c, n]) => `${t("code_" + c)} ${n}`).join(", ");
      const badge = el("span", { class: "badge " + q.status, title: counts },
        q.status === "ok" ? t("quality_ok") : `${t("quality_warning")} · ${q.total}`);
      const row = el("tr", { "data-meter": m.meter_id, tabindex: "0" },
        el("td", { class: "name" }, el("a", { href: "#meter=" + encodeURIComponent(m.meter_id), class: "link" }, m.name || m.meter_id),
          m.name ? el("div", { class: "note" }, m.meter_id) : ""),
        el("td", {}, m.site_id),
        el("td", {}, m.last_reading ? m.last_reading.slice(0, 16).replace("T", " ") : "—"),
        el("td", { class: "num" }, m.today_kwh === null ? "—" : energy(m.today_kwh)),
        el("td", { class: "num" }, m.month_kwh === null ? "—" : energy(m.month_kwh)),
        el("td", {}, badge, counts ? el("span", { class: "note" }, " " + counts) : ""));
      row.addEventListener("click", () => { location.hash = "meter=" + encodeURIComponent(m.meter_id); });
      row.addEventListener("keydown", (e) => { if (e.key === "Enter") row.click(); });
      body.append(row);
    }
  }

  // -- one meter -------------------------------------------------------------------------------
  const baseLayout = () => ({
    margin: { l: 55, r: 15, t: 10, b: 40 }, hovermode: "x unified", showlegend: true,
    legend: { orientation: "h", y: -0.18 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    font: { family: getComputedStyle(document.body).fontFamily, size: 12 },
    xaxis: { gridcolor: "#eef0f3" }, yaxis: { gridcolor: "#eef0f3", rangemode: "tozero" },
  });
  const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] };
  // Date axes in the page's language: plotly.js's own month names are English only.
  const dateAxis = (withTime) => (state.lang === "ko"
    ? { type: "date", tickformat: withTime ? "%-m월 %-d일 %H시" : "%-m월 %-d일",
        hoverformat: withTime ? "%Y년 %-m월 %-d일 %H:%M" : "%Y년 %-m월 %-d일" }
    : { type: "date", tickformat: withTime ? "%-d %b %H:%M" : "%-d %b",
        hoverformat: withTime ? "%-d %b %Y %H:%M" : "%-d %b %Y" });
  function plot(id, traces, layout) {
    const node = $(id);
    if (!node.classList.contains("js-plotly-plot")) node.replaceChildren();
    return Plotly.react(node, traces, layout, CONFIG);
  }

  function kpi(label, value, sub, direction) {
    return el("div", { class: "card kpi" }, el("div", { class: "label" }, label),
      el("div", { class: "value" }, value), el("div", { class: "sub " + (direction || "") }, sub || ""));
  }
  const dir = (v) => (v === null || v === undefined || v === 0 ? "" : v > 0 ? "up" : "down");

  function renderKpis(b) {
    const box = $("kpis");
    box.replaceChildren();
    const today = b.today;
    const vsYesterday = today.yesterday_kwh ? 100 * (today.energy_kwh - today.yesterday_kwh) / today.yesterday_kwh : null;
    box.append(kpi(t("kpi_today"), energy(today.energy_kwh), t("vs_yesterday", { pct: pct(vsYesterday) }), dir(vsYesterday)));
    const cmp = b.compare ? b.compare.vs_last_year : { change_pct: null };
    box.append(kpi(t("kpi_month"), energy(b.compare ? b.compare.period.energy_kwh : null), t("vs_last_year", { pct: pct(cmp.change_pct) }), dir(cmp.change_pct)));
    if (b.bill) {
      const f = b.bill.forecast;
      box.append(kpi(t("kpi_bill"), won(b.bill.total_won),
        f ? `${t("bill_forecast")} ${won(f.total_won.p50)}` : t("cycle_complete")));
    }
    box.append(kpi(t("kpi_peak"), today.peak_kw === null ? "—" : today.peak_kw >= 1e4 ? power(today.peak_kw * 1000) : num(today.peak_kw, 2) + " kW", today.date));
    box.append(kpi(t("kpi_standby"), b.standby ? power(b.standby.power_w) : "—", ""));
  }

  function curveChart(b) {
    const d = b.today;
    return plot("chart-curve", [
      { x: d.steps, y: d.yesterday_kw, name: `${t("yesterday")}`, type: "scatter", mode: "lines",
        line: { color: COLORS.before, width: 1.5, dash: "dot", shape: "hv" } },
      { x: d.steps, y: d.today_kw, name: `${t("today")} (${d.date})`, type: "scatter", mode: "lines",
        line: { color: COLORS.now, width: 2.2, shape: "hv" }, fill: "tozeroy", fillcolor: "rgba(31,111,235,0.08)" },
    ], { ...baseLayout(), yaxis: { ...baseLayout().yaxis, title: { text: "kW" } },
      xaxis: { ...baseLayout().xaxis, nticks: 13 } });
  }

  function barsChart(id, x, now, before, beforeX, titleBefore, digits) {
    return plot(id, [
      { x, y: before, name: titleBefore, type: "bar", marker: { color: COLORS.before },
        customdata: beforeX, hovertemplate: `%{customdata}: %{y:.${digits}f} kWh<extra>${titleBefore}</extra>` },
      { x, y: now, name: t("this_period"), type: "bar", marker: { color: COLORS.now },
        hovertemplate: `%{x}: %{y:.${digits}f} kWh<extra>${t("this_period")}</extra>` },
    ], { ...baseLayout(), barmode: "group", bargap: 0.2, hovermode: "closest",
      margin: { ...baseLayout().margin, r: 30, b: 55 },
      yaxis: { ...baseLayout().yaxis, title: { text: "kWh" } },
      xaxis: { ...baseLayout().xaxis, type: "category", nticks: 12, tickangle: -45, automargin: true } });
  }

  function billFacts(bill) {
    const box = $("bill-facts");
    box.replaceChildren();
    const fact = (label, value) => box.append(el("div", {}, label, el("b", {}, value)));
    fact(t("cycle"), `${bill.cycle.start} – ${bill.cycle.end}`);
    fact(t("used"), `${num(bill.energy_kwh, 1)} kWh` + (bill.tier ? ` · ${t("tier", { n: bill.tier })}` : ""));
    fact(t("bill_so_far"), won(bill.total_won));
    if (bill.forecast) {
      const f = bill.forecast;
      fact(t("bill_forecast"), `${won(f.total_won.p50)} (${num(f.p50_kwh, 0)} kWh)`);
      fact(t("band"), `${num(f.p10_kwh, 0)}–${num(f.p90_kwh, 0)} kWh · ${won(f.total_won.p10)}–${won(f.total_won.p90)}`);
      const c = bill.next_crossing;
      fact(t("next_crossing"), c ? t("crossing_value", { kwh: num(c.boundary_kwh, 0), p50: c.date_p50 || "—", p90: c.date_p90 || "—" }) : t("no_crossing"));
    } else {
      fact(t("cycle"), t("cycle_complete"));
    }
    if (bill.marginal_won_per_kwh !== null) fact(t("marginal"), `${num(bill.marginal_won_per_kwh, 1)} ${t("won")}/kWh`);
  }

  function billChart(bill) {
    const p = bill.path;
    const traces = [];
    if (p.p90_kwh) {
      traces.push({ x: p.dates, y: p.p90_kwh, name: "P90", mode: "lines", line: { width: 0, color: COLORS.forecast }, showlegend: false, hoverinfo: "skip" });
      traces.push({ x: p.dates, y: p.p10_kwh, name: t("band"), mode: "lines", line: { width: 0, color: COLORS.forecast }, fill: "tonexty", fillcolor: "rgba(240,140,0,0.18)" });
      traces.push({ x: p.dates, y: p.p50_kwh, name: t("bill_forecast"), mode: "lines", line: { dash: "dash", color: COLORS.forecast } });
    }
    traces.push({ x: p.dates, y: p.actual_kwh, name: t("cumulative"), mode: "lines+markers", marker: { size: 4 }, line: { color: COLORS.now, width: 2.5 } });
    const top = Math.max(...[...(p.p90_kwh || []), ...p.actual_kwh].filter((v) => v !== null), ...bill.boundaries_kwh.map((x) => x * 1.08), 1);
    const bounds = [0, ...bill.boundaries_kwh, Math.max(top * 1.05, (bill.boundaries_kwh.at(-1) || 0) * 1.1)];
    const shapes = [];
    const annotations = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      shapes.push({ type: "rect", xref: "paper", x0: 0, x1: 1, yref: "y", y0: bounds[i], y1: bounds[i + 1],
        fillcolor: COLORS.tier[Math.min(i, 2)], line: { width: 0 }, layer: "below" });
      annotations.push({ xref: "paper", x: 0.005, xanchor: "left", yref: "y", y: bounds[i + 1], yanchor: "top",
        text: t("tier", { n: i + 1 }), showarrow: false, font: { size: 10, color: "#5b6675" } });
    }
    for (const bound of bill.boundaries_kwh) {
      shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, yref: "y", y0: bound, y1: bound, line: { color: "#8c959f", width: 1, dash: "dot" } });
    }
    const c = bill.next_crossing;
    if (c && c.date_p50) {
      shapes.push({ type: "line", xref: "x", x0: c.date_p50, x1: c.date_p50, yref: "paper", y0: 0, y1: 1, line: { color: "#cf222e", width: 1.5, dash: "dash" } });
      annotations.push({ x: c.date_p50, y: c.boundary_kwh, text: `${num(c.boundary_kwh, 0)} kWh · ${c.date_p50}`, showarrow: true, arrowhead: 2, ax: -40, ay: -30, font: { size: 11, color: "#cf222e" } });
    }
    return plot("chart-bill", traces, { ...baseLayout(), shapes, annotations,
      xaxis: { ...baseLayout().xaxis, ...dateAxis(false) },
      yaxis: { ...baseLayout().yaxis, title: { text: "kWh" }, range: [0, bounds.at(-1)] } });
  }

  function forecastChart(f) {
    const hours = f.resolution_s / 3600;
    return plot("chart-forecast", [
      { x: f.ts, y: f.p90_kw, name: "P90", mode: "lines", line: { width: 0, color: COLORS.forecast, shape: "hv" }, showlegend: false, hoverinfo: "skip" },
      { x: f.ts, y: f.p10_kw, name: t("band"), mode: "lines", line: { width: 0, color: COLORS.forecast, shape: "hv" }, fill: "tonexty", fillcolor: "rgba(240,140,0,0.18)" },
      { x: f.ts, y: f.p50_kw, name: t("forecast"), mode: "lines", line: { color: COLORS.forecast, dash: "dash", shape: "hv" } },
      { x: f.ts, y: f.actual_kw, name: t("actual"), mode: "lines", line: { color: COLORS.now, width: 2, shape: "hv" } },
    ], { ...baseLayout(), xaxis: { ...baseLayout().xaxis, ...dateAxis(true) },
      yaxis: { ...baseLayout().yaxis, title: { text: "kW" } }, meta: { hours } });
  }

  function renderQuality(q) {
    const box = $("quality");
    box.replaceChildren();
    const badge = el("span", { class: "badge " + q.status }, q.status === "ok" ? t("quality_ok") : `${t("quality_warning")} · ${q.total}`);
    box.append(el("p", {}, badge));
    if (!q.total) { box.append(el("p", { class: "note" }, t("quality_none"))); return; }
    box.append(el("p", {}, Object.entries(q.counts).map(([c, n]) => `${t("code_" + c)}: ${n}`).join(" · ")));
    const list = el("ul", { class: "issues" });
    for (const i of q.recent || []) list.append(el("li", {}, el("b", {}, t("code_" + i.code)), ` ${i.start.slice(0, 16).replace("T", " ")} — ${i.message}`));
    box.append(list);
  }

  function unavailable(id, why) {
    const node = $(id);
    if (node.classList.contains("js-plotly-plot")) Plotly.purge(node);
    node.replaceChildren(el("p", { class: "note" }, t("unavailable", { why })));
  }

  async function renderMeter() {
    const b = state.board;
    const m = b.meter;
    $("meter-title").textContent = m.name ? `${m.name} (${m.meter_id})` : m.meter_id;
    $("back").hidden = !(state.fleet && state.fleet.items.length > 1);
    renderQuality(b.quality);
    if (!b.today) {
      $("today-note").textContent = t("unavailable", { why: b.unavailable.today || "" });
      $("kpis").replaceChildren();
      for (const id of ["chart-curve", "chart-daily", "chart-monthly", "chart-bill", "chart-forecast"]) unavailable(id, b.unavailable.today || "");
      return;
    }
    const last = b.today.last_reading;
    $("today-note").textContent = t("today_note", { date: b.today.date, time: last.slice(11, 16), zone: m.timezone });
    renderKpis(b);
    const draws = [curveChart(b)];
    const d = b.daily;
    if (d) draws.push(barsChart("chart-daily", d.dates.map((x) => x.slice(5)), d.energy_kwh, d.last_year_kwh, d.last_year_dates, t("last_year_weekday"), 1));
    else unavailable("chart-daily", b.unavailable.daily);
    const mo = b.monthly;
    if (mo) draws.push(barsChart("chart-monthly", mo.months, mo.energy_kwh, mo.last_year_kwh, mo.last_year_months, t("last_year"), 0));
    else unavailable("chart-monthly", b.unavailable.monthly);
    if (b.bill) { billFacts(b.bill); draws.push(billChart(b.bill)); } else { $("bill-facts").replaceChildren(); unavailable("chart-bill", b.unavailable.bill); }
    if (b.forecast) {
      const f = b.forecast;
      $("forecast-note").textContent = t("forecast_note", { model: f.model, as_of: f.as_of.slice(0, 16).replace("T", " "),
        mae: num(f.mae_kw, 3), cov: f.coverage_pct === null ? "—" : num(f.coverage_pct, 0) + " %" });
      draws.push(forecastChart(f));
    } else { $("forecast-note").textContent = ""; unavailable("chart-forecast", b.unavailable.forecast); }
    if (b.standby) {
      $("standby").textContent = power(b.standby.power_w);
      $("standby-note").textContent = t("standby_note", { days: b.standby.days_used });
    } else {
      $("standby").textContent = "—";
      $("standby-note").textContent = t("unavailable", { why: b.unavailable.standby || "" });
    }
    await Promise.all(draws);
  }

  // -- navigation -------------------------------------------------------------------------------
  function hashMeter() {
    const match = /^#meter=(.+)$/.exec(location.hash);
    return match ? decodeURIComponent(match[1]) : null;
  }

  async function route() {
    if (!state.key) { show("key-prompt"); setStatus(""); return; }
    const boardOf = (id) => api(`/v1/meters/${encodeURIComponent(id)}/dashboard?lang=${state.lang}`);
    try {
      let meterId = hashMeter();
      if (!meterId) {
        state.fleet = state.fleet || await api("/v1/fleet");
        if (state.fleet.items.length === 1) meterId = state.fleet.items[0].meter_id;
      }
      if (!meterId) {
        show("fleet"); setStatus(""); renderFleet();
      } else {
        setStatus(t("loading"));
        if (!state.board || state.meterId !== meterId) {
          state.board = null;
          state.board = await boardOf(meterId);
          state.meterId = meterId;
        }
        await plotlyReady;
        show("meter"); setStatus("");
        await renderMeter();
        if (!state.fleet) {  // only for the link back to the fleet: after the charts
          api("/v1/fleet").then((fleet) => { state.fleet = fleet; $("back").hidden = fleet.items.length < 2; })
            .catch(() => {});
        }
      }
      window.bitgoeulReady = { at_ms: performance.now(), view: meterId ? "meter" : "fleet", meter: meterId };
    } catch (error) {
      if (error.status === 401) {
        sessionStorage.removeItem(KEY); state.key = null; state.fleet = null;
        show("key-prompt"); $("key-error").hidden = false; setStatus("");
      } else if (error.status === 404) {
        state.fleet = state.fleet || await api("/v1/fleet").catch(() => null);
        show(state.fleet && state.fleet.items.length ? "fleet" : null);
        if (state.fleet) renderFleet();
        setStatus(t("not_found", { id: hashMeter() }), true);
      } else {
        setStatus(t("error", { why: error.message }), true);
      }
      window.bitgoeulReady = { at_ms: performance.now(), view: "error", status: error.status || 0 };
    }
  }

  async function start() {
    state.strings = await stringsLoaded;
    applyStrings();
    document.querySelectorAll("[data-lang]").forEach((button) => button.addEventListener("click", () => {
      state.lang = button.dataset.lang;
      localStorage.setItem(LANG, state.lang);
      applyStrings();
      if (state.fleet && !$("fleet").hidden) renderFleet();
      if (state.board && !$("meter").hidden) {
        // Draw afresh: Plotly.react keeps a stale date range when only the tick format changes.
        document.querySelectorAll("#meter .js-plotly-plot").forEach((node) => Plotly.purge(node));
        renderMeter();
      }
    }));
    $("fleet-more").addEventListener("click", async () => {
      const next = await api("/v1/fleet?cursor=" + encodeURIComponent(state.fleet.next_cursor));
      state.fleet = { ...next, items: [...state.fleet.items, ...next.items] };
      renderFleet();
    });
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = $("key-input").value.trim();
      if (!value) return;
      sessionStorage.setItem(KEY, value); state.key = value; $("key-input").value = "";
      $("key-error").hidden = true;
      route();
    });
    $("sign-out").addEventListener("click", () => {
      sessionStorage.removeItem(KEY);
      Object.assign(state, { key: null, fleet: null, board: null, meterId: null });
      location.hash = ""; route();
    });
    $("back").addEventListener("click", (event) => { event.preventDefault(); location.hash = ""; });
    window.addEventListener("hashchange", route);
    await route();
  }
  start();
})();
