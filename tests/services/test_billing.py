"""Bills of stored meters: the cycle's bill, the month-end forecast, tier crossings, cashback."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from bitgoeul.cli import app
from bitgoeul.errors import NotFoundError, TariffError
from bitgoeul.services import MeterDefaults, ingest_file
from bitgoeul.services.billing import bill_meter, calculate_bill
from bitgoeul.store import DuckDBStore
from bitgoeul.tariff import compute_bill

SAMPLE = "household_lcl_mac000060_redated.parquet"


@pytest.fixture
def household(tmp_path: Path) -> tuple[DuckDBStore, pd.Series]:
    """The bundled real household (reading day 1) and its readings by local time."""
    from bitgoeul.store import open_store

    store = open_store(str(tmp_path / "h.duckdb"))
    with resources.as_file(resources.files("bitgoeul.data.samples") / SAMPLE) as path:
        ingest_file(path, store, defaults=MeterDefaults(reading_day=1))
        table = pq.read_table(path)
    frame = table.to_pandas()
    series = pd.Series(
        frame["energy_kwh"].to_numpy(),
        index=pd.DatetimeIndex(frame["ts"]).tz_convert("Asia/Seoul"),
    )
    return store, series


def test_complete_cycle_is_billed_on_what_was_measured(
    household: tuple[DuckDBStore, pd.Series],
) -> None:
    store, series = household
    result = bill_meter(store, "demo-household", cycle="2026-11")
    # reading day 1: the bill month 2026-11 covers October
    assert (result.cycle.start, result.cycle.end) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert result.complete and result.forecast is None and result.crossings == ()
    measured = series["2026-10-01":"2026-10-31"].sum()
    assert result.energy_kwh == pytest.approx(measured)
    expected = compute_bill(Decimal(str(round(measured, 3))), result.cycle.start, result.cycle.end)
    assert result.bill.won() == expected.won()
    assert result.bill.total_won > 0


def test_cycle_in_progress_has_an_ordered_forecast_and_ignores_later_readings(
    household: tuple[DuckDBStore, pd.Series],
) -> None:
    store, series = household
    as_of = dt.date(2026, 10, 11)  # the store holds October in full: it must be ignored
    result = bill_meter(store, "demo-household", as_of=as_of)
    assert result.cycle.label == "2026-11" and not result.complete
    so_far = series["2026-10-01":"2026-10-10"].sum()
    assert result.energy_kwh == pytest.approx(so_far)
    assert result.forecast is not None
    energy, bills = result.forecast.energy, result.forecast.bills
    assert so_far <= energy.p10_kwh <= energy.p50_kwh <= energy.p90_kwh
    assert bills["p10"].total_won <= bills["p50"].total_won <= bills["p90"].total_won
    assert energy.days_remaining == 21
    # replaying an earlier day gives the same answer whatever was stored after it
    again = bill_meter(store, "demo-household", as_of=as_of)
    assert again.forecast is not None and again.forecast.energy.p50_kwh == energy.p50_kwh


def test_tier_crossings_lie_above_the_usage_so_far_and_inside_the_band(
    household: tuple[DuckDBStore, pd.Series],
) -> None:
    store, _ = household
    result = bill_meter(store, "demo-household")  # data end mid-November 2026
    assert result.as_of == dt.date(2026, 11, 15) and result.forecast is not None
    assert result.tier is not None
    band = result.forecast.energy
    assert result.crossings, "November's band (about 345-423 kWh) spans the 200 and 400 bounds"
    for crossing in result.crossings:
        assert result.energy_kwh < crossing.boundary_kwh < band.p90_kwh
        assert crossing.date_p90 is not None
        assert crossing.date_p50 is None or crossing.date_p90 <= crossing.date_p50
        assert result.as_of <= crossing.date_p90 <= result.cycle.end
    assert [c.boundary_kwh for c in result.crossings] == [Decimal(200), Decimal(400)]
    assert [c.basic_jump_won for c in result.crossings] == [Decimal(690), Decimal(5700)]


def test_cashback_baseline_is_the_same_cycle_a_year_before(
    household: tuple[DuckDBStore, pd.Series],
) -> None:
    store, series = household
    result = bill_meter(store, "demo-household", cycle="2026-11")
    assert result.cashback is not None
    # October 2025 is fully measured; October 2024 precedes the data
    baseline = series["2025-10-01":"2025-10-31"].sum()
    assert float(result.cashback.baseline_kwh or 0) == pytest.approx(baseline, abs=1e-3)


def test_unknown_meter_and_cycle_before_the_tariff_data_are_refused(
    household: tuple[DuckDBStore, pd.Series], tmp_path: Path
) -> None:
    store, _ = household
    with pytest.raises(NotFoundError):
        bill_meter(store, "nobody")
    old = tmp_path / "old.csv"
    old.write_text("meter_id,ts,energy_kwh\nold,2019-05-03T00:00+09:00,1\n", encoding="utf-8")
    ingest_file(old, store)
    with pytest.raises(TariffError, match="begin on 2021-01-01"):
        bill_meter(store, "old", cycle="2019-06")


def test_a_cycle_without_readings_or_not_yet_begun_is_refused_by_name(
    household: tuple[DuckDBStore, pd.Series],
) -> None:
    store, _ = household  # readings from 2024-12-07 to 2026-11-14
    with pytest.raises(NotFoundError, match=r"no readings in cycle 2024-01 \(2023-12-01 \.\. "):
        bill_meter(store, "demo-household", cycle="2024-01")  # was a 0 kWh bill of 1,030 won
    with pytest.raises(ValueError, match=r"cycle 2027-01 .* has not begun as of 2026-11-15"):
        bill_meter(store, "demo-household", cycle="2027-01")
    with pytest.raises(ValueError, match="the latest cycle is 2026-09"):
        bill_meter(store, "demo-household", cycle="2026-11", as_of=dt.date(2026, 8, 20))
    first = bill_meter(store, "demo-household", cycle="2025-01")  # starts before the readings
    assert first.complete and first.energy_kwh > 0


def test_bill_cli_json_for_a_stored_meter(household: tuple[DuckDBStore, pd.Series]) -> None:
    store, _ = household
    path = store.path
    store.close()
    result = CliRunner().invoke(app, ["bill", "demo-household", "--store", path, "--json"])
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["cycle"]["label"] == "2026-12" and out["complete"] is False
    assert isinstance(out["bill"]["total_won"], int)
    assert set(out["forecast"]["bills"]) == {"p10", "p50", "p90"}
    assert [c["boundary_kwh"] for c in out["crossings"]] == ["200", "400"]
    shown = CliRunner().invoke(app, ["bill", "show", "demo-household", "--store", path])
    assert shown.exit_code == 0 and "month-end forecast" in shown.stdout


@pytest.mark.parametrize(
    ("kwh", "start", "end", "contract", "expected"),
    [
        (
            "350",
            "2025-08-01",
            "2025-08-31",
            "residential-low",
            {"subtotal_won": 53230, "total_won": 59980},
        ),
        (
            "350",
            "2025-10-01",
            "2025-10-31",
            "residential-low",
            {"vat_won": 6269, "total_won": 70640},
        ),
        (
            "1100",
            "2026-01-01",
            "2026-01-31",
            "residential-low",
            {"energy_won": 324920, "total_won": 391760},
        ),
        ("350", "2025-08-01", "2025-08-31", "residential-high", {"total_won": 52240}),
    ],
)
def test_bill_calc_cli_prints_integer_won_fields(
    kwh: str, start: str, end: str, contract: str, expected: dict[str, int]
) -> None:
    args = ["bill", "calc", "--kwh", kwh, "--start", start, "--end", end, "--contract", contract]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    fields = (
        "basic_won",
        "energy_won",
        "climate_won",
        "fuel_won",
        "subtotal_won",
        "vat_won",
        "fund_won",
        "total_won",
    )
    assert all(type(out[f]) is int for f in fields)
    assert {k: out[k] for k in expected} == expected
    assert out["subtotal_won"] == sum(out[f] for f in fields[:4]) - out["deduction_won"]


def test_bill_calc_cli_rejects_bad_input_with_exit_2() -> None:
    bad_date = CliRunner().invoke(
        app, ["bill", "calc", "--kwh", "10", "--start", "2025-13-01", "--end", "2025-08-31"]
    )
    assert bad_date.exit_code == 2 and "--start" in bad_date.stderr
    unknown = CliRunner().invoke(
        app,
        [
            "bill",
            "calc",
            "--kwh",
            "10",
            "--start",
            "2025-08-01",
            "--end",
            "2025-08-31",
            "--contract",
            "residential-medium",
        ],
    )
    assert unknown.exit_code == 2 and "residential-medium" in unknown.stderr


def test_calculate_bill_takes_an_override_tariff_file(tmp_path: Path) -> None:
    base = calculate_bill(350, dt.date(2025, 8, 1), dt.date(2025, 8, 31))
    override = tmp_path / "vat.toml"
    override.write_text(
        "schema = 1\n[[vat_rate]]\neffective_from = 2025-01-01\nvalue = 0.2\n"
        'source = "test override"\nstatus = "unverified"\n',
        encoding="utf-8",
    )
    changed = calculate_bill(
        350, dt.date(2025, 8, 1), dt.date(2025, 8, 31), tariff_files=[override]
    )
    assert changed.vat_won == 2 * base.vat_won


def test_time_of_use_meter_is_billed_from_its_hourly_energy(tmp_path: Path) -> None:
    from bitgoeul.services import ingest_frame
    from bitgoeul.store import open_store
    from bitgoeul.synthetic import generate_readings
    from bitgoeul.tariff import compute_tou_bill

    store = open_store(str(tmp_path / "tou.duckdb"))
    start = dt.datetime(2025, 4, 25, tzinfo=dt.UTC)
    readings = generate_readings(1, 96 * 50, start=start, seed=9)
    defaults = MeterDefaults(
        contract_class="industrial-a2-high-a-1", contract_kw=50.0, reading_day=1
    )
    ingest_frame(readings, store, defaults=defaults)
    result = bill_meter(store, "m0001", cycle="2025-06")  # May 2025
    assert result.complete and result.contract == "industrial-a2-high-a-1"
    frame = readings.to_pandas()
    local = pd.Series(
        frame["energy_kwh"].to_numpy(), index=pd.DatetimeIndex(frame["ts"]).tz_convert("Asia/Seoul")
    )
    may = local["2025-05-01":"2025-05-31"]
    expected = compute_tou_bill(
        may, dt.date(2025, 5, 1), dt.date(2025, 5, 31), contract=result.contract, demand_kw=50.0
    )
    assert result.bill.won() == expected.won()
    assert result.bill.demand_kw == Decimal(50)
    assert result.forecast is None and result.tier is None
    no_kw = MeterDefaults(contract_class="industrial-a2-high-a-1", site_id="other")
    ingest_frame(
        readings.set_column(0, readings.schema.field(0), pa.array(["m2"] * readings.num_rows)),
        store,
        defaults=no_kw,
    )
    with pytest.raises(TariffError, match="contract_kw"):
        bill_meter(store, "m2", cycle="2025-06")


def test_a_meter_with_only_part_of_a_day_gets_its_bill_so_far_and_no_forecast() -> None:
    from bitgoeul.services import ingest_frame
    from bitgoeul.store import open_store

    store = open_store(":memory:")
    ts = pd.date_range("2026-11-21T09:00", periods=2, freq="15min", tz="Asia/Seoul")
    frame = pd.DataFrame({"meter_id": "new", "ts": ts, "energy_kwh": [0.42, 0.39]})
    ingest_frame(frame, store, defaults=MeterDefaults(contract_class="residential-low"))
    result = bill_meter(store, "new")
    assert not result.complete and result.forecast is None
    assert result.energy_kwh == pytest.approx(0.81)
    assert result.bill.total_won > 0  # the basic charge and 0.81 kWh
    assert any("no month-end forecast yet" in note for note in result.notes)
    assert result.crossings == ()
