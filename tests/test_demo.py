from __future__ import annotations

import csv
import hashlib
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs
from rich.console import Console
from tests.conftest import digest_files

from bitgoeul.demo import (
    DEFAULT_STORE_NAME,
    GREEN_BUTTON_FILE,
    HOUSEHOLD_FILE,
    HOUSEHOLD_METER_ID,
    JEJU_FILES,
    JEJU_METER_ID,
    DemoResult,
    run_demo,
    sample_files,
)
from bitgoeul.errors import StoreError
from bitgoeul.services import ingest_frame, list_meters
from bitgoeul.store import MeterSummary, open_store

JEJU_SHARED = Path("kr_kpx_jeju_hourly_demand") / "raw_yearly"
GREEN_BUTTON_SHARED = Path("green_button")
GREEN_BUTTON_PREFIX = Path(GREEN_BUTTON_FILE).stem + "."


def expected_jeju_kwh(shared_data: Path) -> float:
    """Sum of the KPX files' MWh column, read independently of Bitgoeul, in kWh."""
    total_mwh = 0.0
    for name in JEJU_FILES:
        with (shared_data / JEJU_SHARED / name).open(encoding="utf-8-sig", newline="") as fh:
            total_mwh += sum(float(row["전력거래량(MWh)"]) for row in csv.DictReader(fh))
    return total_mwh * 1000.0


def summaries(store_path: Path) -> dict[str, MeterSummary]:
    store = open_store(str(store_path), read_only=True)
    try:
        return {s.meter.meter_id: s for s in list_meters(store)}
    finally:
        store.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, str]:
    folder = tmp_path_factory.mktemp("demo")
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, color_system=None)
    result = run_demo(str(folder / "demo.duckdb"), out=folder / "report.html", console=console)
    return result, buffer.getvalue()


def test_sample_files_are_byte_identical_copies_of_the_shared_data(shared_data: Path) -> None:
    originals = {name: shared_data / JEJU_SHARED / name for name in JEJU_FILES}
    originals[GREEN_BUTTON_FILE] = shared_data / GREEN_BUTTON_SHARED / GREEN_BUTTON_FILE
    with sample_files() as paths:
        assert sorted(paths) == sorted([*originals, HOUSEHOLD_FILE])
        for name, packaged in paths.items():
            if name == HOUSEHOLD_FILE:
                continue  # derived, not copied: see the next test
            assert (
                hashlib.sha256(packaged.read_bytes()).hexdigest()
                == hashlib.sha256(originals[name].read_bytes()).hexdigest()
            ), name
        attribution = (next(iter(paths.values())).parent / "ATTRIBUTION.md").read_text("utf-8")
    for name in originals:
        assert name in attribution
    for credit in ("Korea Power Exchange", "공공누리", "Green Button Alliance", "Apache"):
        assert credit in attribution


def test_household_sample_is_the_london_meter_re_dated_by_whole_weeks(shared_data: Path) -> None:
    import pyarrow.parquet as pq

    original = pd.read_csv(
        shared_data / "uk_lcl_london_smartmeter" / "MAC000060_halfhourly.csv.gz",
        index_col=0,
        parse_dates=True,
    ).iloc[:, 0]
    with sample_files() as paths:
        sample = pq.read_table(paths[HOUSEHOLD_FILE]).to_pandas()
        attribution = (paths[HOUSEHOLD_FILE].parent / "ATTRIBUTION.md").read_text("utf-8")
    assert HOUSEHOLD_FILE in attribution and "Low Carbon London" in attribution
    assert set(sample["meter_id"]) == {HOUSEHOLD_METER_ID}
    local = pd.DatetimeIndex(sample["ts"]).tz_convert("Asia/Seoul").tz_localize(None)
    back = local - pd.Timedelta(weeks=678)
    assert (back.day_of_week == local.day_of_week).all()
    assert list(sample["energy_kwh"]) == list(original.loc[back])
    assert back[0] == original.index[0] and local[-1] == pd.Timestamp("2026-11-14 23:30")


def test_demo_bills_the_household_cycle_in_progress(demo: tuple[DemoResult, str]) -> None:
    result, output = demo
    bill = result.bill
    assert bill is not None and bill.meter_id == HOUSEHOLD_METER_ID and not bill.complete
    assert (bill.cycle.start.isoformat(), bill.cycle.end.isoformat()) == (
        "2026-11-01",
        "2026-11-30",
    )
    store = open_store(str(result.store_path), read_only=True)
    try:
        nov = store.connection.sql(
            """SELECT sum(energy_kwh) FROM reading JOIN meter USING (meter_key)
               WHERE meter_id = $m AND ts >= TIMESTAMPTZ '2026-11-01 00:00+09'""",
            params={"m": HOUSEHOLD_METER_ID},
        ).fetchall()[0][0]
    finally:
        store.close()
    assert bill.energy_kwh == pytest.approx(nov)
    assert bill.forecast is not None and bill.forecast.bills["p50"].total_won > bill.bill.total_won
    assert f"{bill.bill.total_won:,}" in output and "month-end forecast" in output
    report = result.report_path.read_text(encoding="utf-8")
    assert "Tier bands" in report and f"{bill.forecast.bills['p50'].total_won:,}" in report


def test_demo_store_holds_every_jeju_hour_with_the_files_exact_energy(
    demo: tuple[DemoResult, str], shared_data: Path
) -> None:
    result, _ = demo
    jeju = summaries(result.store_path)[JEJU_METER_ID]
    assert jeju.reading_count == 17_520
    assert jeju.total_energy_kwh == pytest.approx(expected_jeju_kwh(shared_data), rel=1e-12)
    assert jeju.meter.interval_s == 3600
    assert jeju.meter.timezone == "Asia/Seoul"
    # Hour-ending 1 of 2021-01-01 KST is the interval starting at midnight KST.
    assert jeju.first_ts == pd.Timestamp("2021-01-01 00:00", tz="Asia/Seoul")
    assert jeju.last_ts == pd.Timestamp("2022-12-31 23:00", tz="Asia/Seoul")


def test_demo_store_holds_the_green_button_meter_named_by_the_parser(
    demo: tuple[DemoResult, str],
) -> None:
    result, _ = demo
    stored = summaries(result.store_path)
    green = [s for m, s in stored.items() if m.startswith(GREEN_BUTTON_PREFIX)]
    assert len(green) == 1
    assert green[0].reading_count == 1_340
    # PROVENANCE: the raw <value>s sum to 1,391,666 Wh.
    assert green[0].total_energy_kwh == pytest.approx(1391.666, rel=1e-12)
    assert green[0].meter.timezone == "America/New_York"
    assert set(stored) == set(result.meter_ids)


def test_demo_result_reports_what_the_store_holds(demo: tuple[DemoResult, str]) -> None:
    result, _ = demo
    stored = summaries(result.store_path)
    assert result.meter_ids[0] == JEJU_METER_ID
    assert result.readings == {m: s.reading_count for m, s in stored.items()}
    assert result.findings[JEJU_METER_ID] > 0
    assert result.store_path.is_absolute() and result.report_path.is_absolute()
    assert 0 < result.seconds < 20


def test_demo_prints_meters_comparison_peak_base_load_profile_and_findings(
    demo: tuple[DemoResult, str],
) -> None:
    result, output = demo
    for text in (
        "17,520",
        "6.79 TWh",
        "Monthly energy [GWh]",
        "2021",
        "2022",
        "Peak demand",
        "572 MW",
        "2022-10-27 08:00–09:00 KST",
        "Base load",
        "평일 / Weekday",
        "주말 / Weekend",
        "공휴일 / Holiday",
        "stuck_value",
        "Report",
    ):
        assert text in output, text
    # December 2022 vs December 2021 (KPX: 348,864 vs 343,386 MWh).
    assert "343.4" in output and "348.9" in output and "+1.6 %" in output
    for meter_id in result.meter_ids:
        assert meter_id[:20] in output


def test_demo_report_is_self_contained_and_names_each_meter(
    demo: tuple[DemoResult, str],
) -> None:
    result, _ = demo
    page = result.report_path.read_text(encoding="utf-8")
    assert get_plotlyjs() in page
    assert re.search(r"<script\b[^>]*\bsrc\s*=", page, flags=re.IGNORECASE) is None
    for meter_id in result.meter_ids:
        assert meter_id in page
    assert "Korea Power Exchange" in page and "Green Button Alliance" in page


def test_demo_replaces_a_previous_demo_store_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    stale = open_store(str(tmp_path / DEFAULT_STORE_NAME))
    frame = pd.DataFrame(
        {
            "meter_id": [JEJU_METER_ID],
            "ts": [pd.Timestamp("2030-01-01 00:00", tz="Asia/Seoul")],
            "energy_kwh": [1.0],
        }
    )
    ingest_frame(frame, stale)
    stale.close()
    result = run_demo(console=Console(file=io.StringIO()))
    assert result.store_path == tmp_path / DEFAULT_STORE_NAME
    assert result.report_path == tmp_path / "bitgoeul-report.html"
    assert result.report_path.is_file()
    jeju = summaries(result.store_path)[JEJU_METER_ID]
    assert jeju.reading_count == 17_520
    assert jeju.last_ts == pd.Timestamp("2022-12-31 23:00", tz="Asia/Seoul")


def test_demo_refuses_to_delete_a_store_holding_other_meters(tmp_path: Path) -> None:
    path = tmp_path / "mine.duckdb"
    store = open_store(str(path))
    frame = pd.DataFrame(
        {
            "meter_id": ["home"],
            "ts": [pd.Timestamp("2025-08-01 00:00", tz="Asia/Seoul")],
            "energy_kwh": [0.4],
        }
    )
    ingest_frame(frame, store)
    store.close()
    files = [path, Path(f"{path}.wal")]
    before = digest_files(files)
    with pytest.raises(StoreError, match="home"):
        run_demo(str(path), out=tmp_path / "r.html", console=Console(file=io.StringIO()))
    assert digest_files(files) == before
    assert not (tmp_path / "r.html").exists()


def test_demo_refuses_to_delete_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_text("not a database\n", encoding="utf-8")
    with pytest.raises(StoreError, match="not a demo store"):
        run_demo(str(path), out=tmp_path / "r.html", console=Console(file=io.StringIO()))
    assert path.read_text(encoding="utf-8") == "not a database\n"


def test_bitgoeul_demo_ends_by_serving_the_dashboard_with_a_share_key(tmp_path: Path) -> None:
    import json
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bitgoeul",
                "demo",
                "--port",
                str(port),
                "--store",
                str(tmp_path / "demo.duckdb"),
                "--out",
                str(tmp_path / "r.html"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )
    try:
        share = None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and share is None and proc.poll() is None:
            found = re.search(r"/\?key=(bgk_[A-Za-z0-9_-]+)", log.read_text("utf-8"))
            share = found.group(1) if found else None
            time.sleep(0.2)
        assert share, f"the demo printed no dashboard link:\n{log.read_text('utf-8')}"
        body = None
        while time.monotonic() < deadline and body is None and proc.poll() is None:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/meters", headers={"X-API-Key": share}
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    body = json.load(response)
            except urllib.error.HTTPError:
                raise  # the server answered: a refusal is a failure, not a slow start
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        assert body is not None, f"the demo's server did not answer:\n{log.read_text('utf-8')}"
        assert {m["meter_id"] for m in body["items"]} >= {"demo-household", "jeju-kpx"}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/readings",
            data=b'{"readings": []}',
            method="POST",
            headers={"X-API-Key": share, "content-type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 403  # the share key is view-only
        refused.value.close()
        # The operator token printed at start creates organisations through the API.
        found = re.search(r"operator\s+([A-Za-z0-9_-]+)", log.read_text("utf-8"))
        assert found, log.read_text("utf-8")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/organisations",
            method="POST",
            data=json.dumps({"org_id": "newco"}).encode(),
            headers={"X-Operator-Token": found.group(1), "content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
            assert json.load(response)["admin_key"]["token"].startswith("bgk_")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"the demo's server did not stop on SIGTERM:\n{log.read_text('utf-8')}")
