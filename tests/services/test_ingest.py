from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import digest_files

from bitgoeul.errors import ConflictError, IngestError
from bitgoeul.ingest.csv import CsvOptions
from bitgoeul.model import Measurement, MeterKind
from bitgoeul.services import MeterDefaults, ingest_file, ingest_frame, usage
from bitgoeul.store import DuckDBStore, open_store

HEADER = "meter_id,ts,energy_kwh\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_ingest_is_idempotent(tmp_path: Path, store: DuckDBStore) -> None:
    p = write(
        tmp_path,
        "a.csv",
        HEADER + "m1,2025-08-01T00:00+09:00,0.25\nm1,2025-08-01T00:15+09:00,0.5\n",
    )
    first = ingest_file(p, store)
    second = ingest_file(p, store)
    assert (first.inserted, first.unchanged) == (2, 0)
    assert (second.inserted, second.unchanged) == (0, 2)
    assert store.read_readings("m1").num_rows == 2
    assert store.get_meter("m1").interval_s == 900


def test_ingest_refuses_changed_value_and_leaves_store_untouched(
    tmp_path: Path, store_path: Path
) -> None:
    db = open_store(str(store_path))
    ingest_file(write(tmp_path, "a.csv", HEADER + "m1,2025-08-01T00:00+09:00,0.25\n"), db)
    db.close()
    files = [store_path, Path(str(store_path) + ".wal")]
    before = digest_files(files)
    db = open_store(str(store_path))
    changed = write(
        tmp_path, "b.csv", HEADER + "m1,2025-08-01T00:15+09:00,9\nm1,2025-08-01T00:00+09:00,0.3\n"
    )
    with pytest.raises(ConflictError) as info:
        ingest_file(changed, db)
    assert info.value.line == 3 and info.value.field == "energy_kwh"
    db.close()
    assert digest_files(files) == before


def test_ingest_applies_corrections_when_asked(tmp_path: Path, store: DuckDBStore) -> None:
    ingest_file(write(tmp_path, "a.csv", HEADER + "m1,2025-08-01T00:00+09:00,0.25\n"), store)
    report = ingest_file(
        write(
            tmp_path,
            "b.csv",
            HEADER + "m1,2025-08-01T00:00+09:00,0.3\nm1,2025-08-01T00:15+09:00,1\n",
        ),
        store,
        on_conflict="correct",
    )
    assert (report.inserted, report.corrected) == (1, 1)
    assert store.read_readings("m1").column("energy_kwh").to_pylist() == [0.3, 1.0]
    log = store.list_corrections("m1")
    assert [(c["old_energy_kwh"], c["new_energy_kwh"]) for c in log] == [(0.25, 0.3)]


def test_bad_file_leaves_store_byte_for_byte(tmp_path: Path, store_path: Path) -> None:
    db = open_store(str(store_path))
    ingest_file(write(tmp_path, "good.csv", HEADER + "m1,2025-08-01T00:00+09:00,1\n"), db)
    db.close()
    files = [store_path, Path(str(store_path) + ".wal")]
    before = digest_files(files)
    rows = "".join(f"m{i % 7},2025-08-02T{i % 24:02d}:00+09:00,{i}\n" for i in range(5000))
    bad = write(tmp_path, "bad.csv", HEADER + rows + "m9,2025-08-03T00:00+09:00,oops\n")
    db = open_store(str(store_path))
    with pytest.raises(IngestError) as info:
        ingest_file(bad, db)
    assert info.value.line == 5002
    assert [m.meter.meter_id for m in db.list_meters()] == ["m1"]
    db.close()
    assert digest_files(files) == before


def test_conflicting_duplicates_within_a_file(tmp_path: Path, store: DuckDBStore) -> None:
    p = write(
        tmp_path,
        "d.csv",
        HEADER
        + "m1,2025-08-01T00:00+09:00,1\nm1,2025-08-01T00:15+09:00,2\nm1,2025-08-01T00:00+09:00,3\n",
    )
    with pytest.raises(IngestError) as info:
        ingest_file(p, store)
    assert info.value.line == 4
    report = ingest_file(p, store, csv=CsvOptions(skip_bad_rows=True))
    assert report.inserted == 1
    assert sorted(r.line for r in report.rejected) == [2, 4]
    assert "conflicting_duplicate" in {i.code for i in store.list_data_issues("m1")}


def test_exact_duplicates_collapse(tmp_path: Path, store: DuckDBStore) -> None:
    p = write(
        tmp_path, "d.csv", HEADER + "m1,2025-08-01T00:00+09:00,1\nm1,2025-08-01T00:00+09:00,1\n"
    )
    report = ingest_file(p, store)
    assert (report.inserted, report.duplicates_in_batch) == (1, 1)


def test_late_data_lands_on_its_interval(tmp_path: Path, store: DuckDBStore) -> None:
    ingest_file(write(tmp_path, "a.csv", HEADER + "m1,2025-08-01T01:00+09:00,1\n"), store)
    ingest_file(write(tmp_path, "b.csv", HEADER + "m1,2025-08-01T00:00+09:00,2\n"), store)
    hours = usage(store, "m1", "hour")
    assert [(p.start.hour, p.energy_kwh) for p in hours] == [(0, 2.0), (1, 1.0)]


def test_cumulative_register_with_rollover_and_reset(tmp_path: Path, store: DuckDBStore) -> None:
    text = HEADER + "".join(
        f"r1,2025-08-01T{h:02d}:00+09:00,{v}\n"
        for h, v in enumerate([99990, 99995, 3, 10, 2])  # rollover at 100000, then a reset
    )
    opts = CsvOptions(measurement=Measurement.CUMULATIVE_REGISTER)
    report = ingest_file(write(tmp_path, "r.csv", text), store, csv=opts)
    energy = store.read_readings("r1").column("energy_kwh").to_pylist()
    assert energy == [5.0, 8.0, 7.0, 2.0]
    assert [i.code for i in report.issues] == ["register_rollover", "register_reset"]
    # The next file continues from the stored register value.
    more = HEADER + "r1,2025-08-01T05:00+09:00,5\n"
    ingest_file(write(tmp_path, "r2.csv", more), store, csv=opts)
    assert store.read_readings("r1").column("energy_kwh").to_pylist()[-1] == 3.0


def test_power_readings_become_energy(tmp_path: Path, store: DuckDBStore) -> None:
    text = "meter_id,ts,power_w\np1,2025-08-01T00:00+09:00,2000\np1,2025-08-01T00:15+09:00,4000\n"
    ingest_file(write(tmp_path, "p.csv", text), store, csv=CsvOptions(value_col="power_w"))
    assert store.read_readings("p1").column("energy_kwh").to_pylist() == [0.5, 1.0]


def test_meter_defaults_apply_to_new_meters(tmp_path: Path, store: DuckDBStore) -> None:
    defaults = MeterDefaults(
        site_id="home",
        org_id="acme",
        contract_class="residential-low",
        reading_day=15,
        kind=MeterKind.GRID_IMPORT,
        contract_kw=3.0,
    )
    ingest_file(
        write(tmp_path, "a.csv", HEADER + "h1,2025-08-01T00:00+09:00,1\n"), store, defaults=defaults
    )
    meter = store.get_meter("h1")
    assert (meter.site_id, meter.contract_class, meter.reading_day) == (
        "home",
        "residential-low",
        15,
    )
    assert store.list_meters()[0].org_id == "acme"


def test_ingest_green_button_every_sample(shared_data: Path, store: DuckDBStore) -> None:
    for path in sorted((shared_data / "green_button").glob("*.xml")):
        report = ingest_file(path, store)
        assert report.inserted > 0, path
    kinds = {m.meter.kind for m in store.list_meters()}
    assert MeterKind.GRID_EXPORT in kinds
    total = sum(m.total_energy_kwh for m in store.list_meters() if "15min" in m.meter.meter_id)
    assert total == pytest.approx(1391.666)


def test_ingest_sgsc_households_parquet_with_gaps(shared_data: Path, store: DuckDBStore) -> None:
    path = shared_data / "au_sgsc_smart_meter10/sgsc_households7_halfhourly.parquet"
    opts = CsvOptions(
        meter_col="customer_id", ts_col="reading_datetime", value_col="general_supply_kwh"
    )
    # The timestamps are Australian standard time all year: no DST gap or repeat in the data.
    ingest_file(path, store, csv=opts, defaults=MeterDefaults(timezone="Etc/GMT-10"))
    source = pq.read_table(path).to_pandas()
    summaries = {s.meter.meter_id: s for s in store.list_meters()}
    assert len(summaries) == 7
    for cid, group in source.groupby("customer_id"):
        s = summaries[str(cid)]
        assert s.reading_count == len(group)
        assert s.total_energy_kwh == pytest.approx(group["general_supply_kwh"].sum())
        assert s.meter.interval_s == 1800


def test_sgsc_as_sydney_time_is_refused_for_the_dst_gap(
    shared_data: Path, store: DuckDBStore
) -> None:
    path = shared_data / "au_sgsc_smart_meter10/sgsc_households7_halfhourly.parquet"
    opts = CsvOptions(
        meter_col="customer_id", ts_col="reading_datetime", value_col="general_supply_kwh"
    )
    with pytest.raises(IngestError, match="ambiguous or non-existent"):
        ingest_file(path, store, csv=opts, defaults=MeterDefaults(timezone="Australia/Sydney"))
    assert store.list_meters() == []


def test_ingest_pandas_polars_and_arrow(store: DuckDBStore) -> None:
    ts = [dt.datetime(2025, 8, 1, h, tzinfo=dt.UTC) for h in range(3)]
    pdf = pd.DataFrame({"meter_id": ["a"] * 3, "ts": ts, "energy_kwh": [1.0, 2.0, 3.0]})
    assert ingest_frame(pdf, store).inserted == 3
    plf = pl.DataFrame({"meter_id": ["b"] * 3, "ts": ts, "energy_kwh": [1.0, 2.0, 3.0]})
    assert ingest_frame(plf, store).inserted == 3
    tbl = pa.table({"meter_id": ["c"] * 3, "ts": ts, "energy_kwh": [1.0, 2.0, 3.0]})
    assert ingest_frame(tbl, store).inserted == 3
    assert ingest_frame(pdf, store).unchanged == 3
    bad = pd.DataFrame({"meter_id": ["d"], "ts": ts[:1], "energy_kwh": [float("inf")]})
    with pytest.raises(IngestError) as info:
        ingest_frame(bad, store, name="frame")
    assert info.value.line == 1 and info.value.field == "energy_kwh"


readings = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.integers(min_value=0, max_value=2000),
        st.floats(min_value=0, max_value=1e4, allow_nan=False).map(lambda v: round(v, 3)),
    ),
    min_size=1,
    max_size=60,
    unique_by=lambda r: (r[0], r[1]),
)


def _frame(rows: list[tuple[str, int, float]]) -> pa.Table:
    base = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    return pa.table(
        {
            "meter_id": [r[0] for r in rows],
            "ts": pa.array(
                [base + dt.timedelta(minutes=15 * r[1]) for r in rows], pa.timestamp("us", tz="UTC")
            ),
            "energy_kwh": [r[2] for r in rows],
        }
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=readings)
def test_store_round_trip_and_idempotence(
    tmp_path: Path, rows: list[tuple[str, int, float]]
) -> None:
    db = open_store(":memory:")
    try:
        table = _frame(rows)
        ingest_frame(table, db)
        again = ingest_frame(table, db)
        assert again.inserted == 0 and again.unchanged == len(rows)
        for meter in {r[0] for r in rows}:
            got = db.read_readings(meter)
            want = sorted((r[1], r[2]) for r in rows if r[0] == meter)
            base = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
            assert [
                (int((t - base).total_seconds() // 900), e)
                for t, e in zip(
                    got.column("ts").to_pylist(), got.column("energy_kwh").to_pylist(), strict=True
                )
            ] == want
    finally:
        db.close()


@settings(max_examples=25, deadline=None)
@given(rows=readings, freq=st.sampled_from(["15min", "30min", "hour", "day", "month", "cycle"]))
def test_rollups_keep_total_energy(rows: list[tuple[str, int, float]], freq: str) -> None:
    db = open_store(":memory:")
    longest = {"15min": 900, "30min": 1800, "hour": 3600, "day": 86_400}
    try:
        ingest_frame(_frame(rows), db, defaults=MeterDefaults(reading_day=17))
        for meter in {r[0] for r in rows}:
            interval_s = db.get_meter(meter).interval_s or 0
            if interval_s > longest.get(freq, 31 * 86_400):  # finer than the readings
                with pytest.raises(ValueError, match="finer than its readings"):
                    usage(db, meter, freq)  # type: ignore[arg-type]
                continue
            periods = usage(db, meter, freq)  # type: ignore[arg-type]
            total = sum(r[2] for r in rows if r[0] == meter)
            assert sum(p.energy_kwh for p in periods) == pytest.approx(total, abs=1e-6)
            assert sum(p.readings for p in periods) == sum(1 for r in rows if r[0] == meter)
    finally:
        db.close()


def test_every_usage_period_says_where_it_ends_even_when_clocks_fall_back(
    tmp_path: Path, store: DuckDBStore
) -> None:
    # New York: a month that ends a year, and the day clocks fall back (25 hours)
    rows = "".join(
        f"ny,{(dt.datetime(2025, 10, 31, 23, tzinfo=dt.UTC) + dt.timedelta(hours=h)).isoformat()},1\n"
        for h in range(24 * 40)
    )
    defaults = MeterDefaults(timezone="America/New_York")
    ingest_file(write(tmp_path, "ny.csv", HEADER + rows), store, defaults=defaults)

    def ends(freq: str) -> dict[str, str]:
        periods = usage(store, "ny", freq)  # type: ignore[arg-type]
        return {p.label: p.end.isoformat() for p in periods if p.end is not None}

    months = ends("month")
    assert months == {
        "2025-10": "2025-11-01T00:00:00-04:00",
        "2025-11": "2025-12-01T00:00:00-05:00",
        "2025-12": "2026-01-01T00:00:00-05:00",
    }
    days = ends("day")
    assert days["2025-11-02"] == "2025-11-03T00:00:00-05:00"
    assert len(days) == len(usage(store, "ny", "day"))
    hours = usage(store, "ny", "hour")
    # the wall-clock hour 01:00 comes twice on 2 November: two periods, one reading each
    assert len(hours) == 24 * 40 and all(p.readings == 1 for p in hours)
    assert [p.label for p in hours if p.label.startswith("2025-11-02T01:")] == [
        "2025-11-02T01:00:00-04:00",
        "2025-11-02T01:00:00-05:00",
    ]
    utc = [(p.start.astimezone(dt.UTC), p.end.astimezone(dt.UTC)) for p in hours if p.end]
    assert len(utc) == len(hours) and all(b - a == dt.timedelta(hours=1) for a, b in utc)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(utc))


def test_usage_is_never_finer_than_the_readings(tmp_path: Path, store: DuckDBStore) -> None:
    rows = "".join(f"hh,2025-08-01T{h:02d}:{m:02d}+09:00,0.5\n" for h in range(3) for m in (0, 30))
    ingest_file(write(tmp_path, "hh.csv", HEADER + rows), store)
    with pytest.raises(ValueError, match="reads every 30 min: 15min periods are finer") as info:
        usage(store, "hh", "15min")  # was: each 30-min reading shown as a 15-min period
    assert "use 30min, hour, day, month, cycle" in str(info.value)
    halves = usage(store, "hh", "30min")
    assert [(p.label[11:16], p.energy_kwh) for p in halves[:2]] == [("00:00", 0.5), ("00:30", 0.5)]
    assert all(p.end is not None and p.end - p.start == dt.timedelta(minutes=30) for p in halves)
    assert [p.energy_kwh for p in usage(store, "hh", "hour")] == [1.0, 1.0, 1.0]
