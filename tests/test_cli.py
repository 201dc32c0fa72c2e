from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from bitgoeul.cli import app
from bitgoeul.store import open_store

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_ingest_then_meters_and_usage_json(tmp_path: Path, shared_data: Path) -> None:
    store = str(tmp_path / "s.duckdb")
    src = shared_data / "kr_kpx_jeju_hourly_demand/raw_yearly/jeju_DMND_time_2022.csv"
    code, out, err = run("ingest", str(src), "--meter-id", "jeju", "--store", store, "--json")
    assert code == 0, err
    report = json.loads(out)[0]
    assert report["inserted"] == 8760 and report["meters_created"] == ["jeju"]
    code, out, _ = run("meters", "--store", store, "--json")
    meters = json.loads(out)
    assert meters[0]["meter_id"] == "jeju" and meters[0]["reading_count"] == 8760
    assert meters[0]["first_ts"] == "2021-12-31T15:00:00+00:00"
    code, out, _ = run("usage", "jeju", "--freq", "month", "--store", store, "--json")
    periods = json.loads(out)["periods"]
    assert [p["label"] for p in periods][:2] == ["2022-01", "2022-02"]
    assert sum(p["energy_kwh"] for p in periods) == pytest.approx(meters[0]["total_energy_kwh"])


def test_cli_reports_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("meter_id,ts,energy_kwh\nm1,2025-08-01T00:00+09:00,x\n")
    code, _, err = run("ingest", str(bad), "--store", str(tmp_path / "s.duckdb"))
    assert code == 1
    assert "bad.csv, line 2, field 'energy_kwh'" in " ".join(err.split())


def test_cli_unknown_meter_exits_2(tmp_path: Path) -> None:
    store = str(tmp_path / "s.duckdb")
    open_store(store).close()
    code, _, err = run("usage", "nope", "--store", store)
    assert code == 2 and "does not exist" in err


def test_cli_every_query_command_takes_json(tmp_path: Path, shared_data: Path) -> None:
    store = str(tmp_path / "s.duckdb")
    src = shared_data / "kr_cnu_campus_buildings_hourly/C14_engineering_bldg7_HV_02.csv"
    assert (
        run(
            "ingest",
            str(src),
            "--meter-id",
            "C14",
            "--ts-col",
            "date",
            "--value-col",
            "energy",
            "--store",
            store,
        )[0]
        == 0
    )
    for cmd in (
        ["quality", "C14"],
        ["standby", "C14"],
        ["peak", "C14"],
        ["profile", "C14"],
        ["usage", "C14", "--freq", "cycle", "--compare"],
    ):
        code, out, err = run(*cmd, "--store", store, "--json")
        assert code == 0, (cmd, err)
        json.loads(out)


def _count(store: str) -> int:
    # Not read-only: a kill before the schema was created leaves a file that must be migrated.
    db = open_store(store)
    try:
        return sum(m.reading_count for m in db.list_meters())
    finally:
        db.close()


@pytest.mark.slow
def test_kill_9_mid_ingest_leaves_all_or_nothing(tmp_path: Path) -> None:
    """A real `bitgoeul ingest` killed with SIGKILL: the store holds the whole file or none."""
    store = str(tmp_path / "s.duckdb")
    iso = tmp_path / "big.csv"
    n = 1_500_000
    base = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    with iso.open("w") as fh:
        fh.write("meter_id,ts,energy_kwh\n")
        for i in range(n):
            ts = (base + dt.timedelta(minutes=15 * (i // 50))).isoformat()
            fh.write(f"m{i % 50},{ts},0.{i % 997}\n")
    env = {**os.environ, "BITGOEUL_STORE": store}
    exe = [sys.executable, "-m", "bitgoeul", "ingest", str(iso), "--json"]
    outcomes = set()
    for delay in (0.5, 1.5, 3.0):
        if Path(store).exists():
            for p in tmp_path.glob("s.duckdb*"):
                if p.is_file():
                    p.unlink()
        proc = subprocess.Popen(exe, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        count = _count(store) if Path(store).exists() else 0
        assert count in (0, n), f"partial batch after kill at {delay}s: {count}"
        outcomes.add(count)
    assert 0 in outcomes, "no kill landed mid-ingest: make the file bigger"
    # and a run left alone commits everything
    done = subprocess.run(exe, env=env, capture_output=True, check=True)
    assert json.loads(done.stdout)[0]["committed"] is True
    assert _count(store) == n


def test_org_and_key_commands_issue_show_once_list_and_revoke(tmp_path: Path) -> None:
    from bitgoeul.services.tenancy import authenticate

    store = str(tmp_path / "s.duckdb")
    code, out, err = run("org", "create", "acme", "--name", "Acme", "--store", store, "--json")
    assert code == 0, err
    admin = json.loads(out)
    assert admin["token"].startswith(f"bgk_{admin['key_id']}_")
    code, out, err = run("org", "create", "acme", "--store", store)
    assert code == 2 and "already exists" in err
    code, out, err = run(
        "key",
        "create",
        "acme",
        "--scope",
        "read",
        "--scope",
        "write",
        "--name",
        "etl",
        "--expires",
        "2099-01-01T00:00+09:00",
        "--store",
        store,
        "--json",
    )
    assert code == 0, err
    etl = json.loads(out)
    code, out, err = run("key", "create", "acme", "--share", "--scope", "write", "--store", store)
    assert code == 2 and "view-only" in err
    code, out, _ = run("key", "list", "acme", "--store", store, "--json")
    listed = {k["key_id"]: k for k in json.loads(out)}
    assert set(listed) == {admin["key_id"], etl["key_id"]}
    assert listed[etl["key_id"]]["scopes"] == ["read", "write"] and listed[etl["key_id"]]["active"]
    assert etl["token"] not in out and admin["token"] not in out  # secrets are never listed
    db = open_store(store, read_only=True)
    try:
        stored = db.connection.sql("SELECT * FROM api_key").fetchall()
        assert etl["token"].split("_", 2)[2] not in repr(stored)  # only a hash is kept
        assert authenticate(db, etl["token"]).scopes == ("read", "write")
    finally:
        db.close()
    code, out, err = run("key", "revoke", "acme", etl["key_id"], "--store", store)
    assert code == 0, err
    code, out, _ = run("key", "list", "acme", "--store", store, "--json")
    assert not {k["key_id"]: k for k in json.loads(out)}[etl["key_id"]]["active"]
    code, _, err = run("key", "revoke", "other", etl["key_id"], "--store", store)
    assert code == 2 and "does not exist" in err


def test_demo_no_serve_stops_after_the_report(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bitgoeul",
            "demo",
            "--no-serve",
            "--store",
            str(tmp_path / "demo.duckdb"),
            "--out",
            str(tmp_path / "r.html"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r.html").is_file() and "Ctrl-C" not in proc.stdout


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command under ``group`` (the group itself first) with its path of names."""
    found = [(path, group)]
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group of commands
            found += _commands(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


def test_help_shows_units_and_defaults_in_brackets() -> None:
    # "[kWh]" or "[default: detected]" read as console markup would vanish from --help
    checked = 0
    for path, command in _commands(typer.main.get_command(app)):
        texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        wanted = [m for text in texts for m in re.findall(r"\[[^\]]+\]", " ".join(text.split()))]
        if not wanted:
            continue
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "4000"})
        assert result.exit_code == 0, result.output
        shown = " ".join(result.stdout.split())
        for fragment in wanted:
            assert fragment in shown, (path, fragment)
            checked += 1
    assert checked >= 20


def test_errors_show_brackets_in_paths_and_values_verbatim(tmp_path: Path) -> None:
    # text from the user (a file name, a field's value) is printed, never read as console markup
    store = str(tmp_path / "s.duckdb")
    bad = tmp_path / "use[kWh].csv"
    bad.write_text("meter_id,ts,energy_kwh\nm[/b],2024-01-01T00:00+09:00,1.5\n")
    code, out, err = run("ingest", str(bad), "--store", store)
    assert code == 1, out
    assert "use[kWh].csv, line 2, field 'meter_id': 'm[/b]'" in err
    code, out, err = run("ingest", str(tmp_path / "nope[/x].csv"), "--store", store)
    assert code == 1 and "nope[/x].csv: no such file" in err
    code, out, _ = run("meters", "--store", store, "--json")
    assert code == 0 and json.loads(out) == []  # nothing was stored


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["peak", "m1", "--top", "0"], "--top"),
        (["profile", "m1", "--days", "0"], "--days"),
        (["forecast", "backtest", "m1", "--origins", "0"], "--origins"),
        (["ingest", "x.csv", "--skip-rows", "-1"], "--skip-rows"),
        (["ingest", "x.csv", "--interval", "0"], "--interval"),
    ],
)
def test_a_count_out_of_range_is_refused_by_name(
    tmp_path: Path, args: list[str], option: str
) -> None:
    # refused before the store is opened: no traceback, no empty table
    code, out, err = run(*args, "--store", str(tmp_path / "s.duckdb"))
    assert code == 2, out
    assert f"Invalid value for '{option}'" in " ".join(err.split())
    assert not (tmp_path / "s.duckdb").exists()


@pytest.mark.parametrize(
    ("kwh", "words"), [("nan", "finite number"), ("inf", "finite number"), ("1e300", "below 1e24")]
)
def test_bill_calc_names_an_impossible_energy_instead_of_a_traceback(kwh: str, words: str) -> None:
    code, _, err = run("bill", "calc", "--kwh", kwh, "--start", "2026-07-01", "--end", "2026-07-31")
    assert code == 2
    assert err.startswith("error: energy_kwh must be") and words in err, err
