from __future__ import annotations

import datetime as dt
import doctest
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitgoeul import synthetic
from bitgoeul.ingest.csv import read_csv
from bitgoeul.synthetic import (
    READINGS_SCHEMA,
    generate_readings,
    iter_readings,
    write_csv,
    write_parquet,
)

SEOUL = ZoneInfo("Asia/Seoul")


def test_all_is_sorted_and_complete() -> None:
    assert synthetic.__all__ == sorted(synthetic.__all__)
    for name in synthetic.__all__:
        assert hasattr(synthetic, name)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(synthetic)
    assert result.attempted > 0
    assert result.failed == 0


def test_generate_readings_is_deterministic_for_a_seed() -> None:
    first = generate_readings(3, 200, seed=7)
    again = generate_readings(3, 200, seed=7)
    other = generate_readings(3, 200, seed=8)
    assert first.equals(again)
    assert not first.column("energy_kwh").equals(other.column("energy_kwh"))


def test_generate_readings_has_one_row_per_meter_and_interval() -> None:
    table = generate_readings(4, 96, interval_s=900, seed=0)
    assert table.schema == READINGS_SCHEMA
    assert table.num_rows == 4 * 96
    assert table.column("meter_id").unique().to_pylist() == ["m0001", "m0002", "m0003", "m0004"]
    ts = table.column("ts").to_pylist()
    assert ts[0] == dt.datetime(2025, 1, 1, tzinfo=SEOUL)
    assert ts[1] - ts[0] == dt.timedelta(minutes=15)
    assert ts[95] == dt.datetime(2025, 1, 1, 23, 45, tzinfo=SEOUL)
    assert ts[96] == ts[0]  # the second meter starts over


def test_generate_readings_are_non_negative_and_rounded_to_watt_hours() -> None:
    energy = generate_readings(20, 500, seed=3).column("energy_kwh").to_numpy()
    assert (energy >= 0).all()
    np.testing.assert_array_equal(energy, np.round(energy, 3))


def test_generate_readings_have_an_evening_peak_above_the_night() -> None:
    table = generate_readings(50, 96 * 14, seed=1)
    local_hour = pc.hour(table.column("ts").cast(pa.timestamp("us", tz="Asia/Seoul"))).to_numpy()
    energy = table.column("energy_kwh").to_numpy()
    evening = energy[(local_hour >= 18) & (local_hour < 22)].mean()
    night = energy[(local_hour >= 1) & (local_hour < 5)].mean()
    assert evening > 1.5 * night


def test_meters_differ_in_base_load() -> None:
    table = generate_readings(10, 96 * 7, seed=0)
    means = table.group_by("meter_id").aggregate([("energy_kwh", "mean")])
    assert len(set(means.column("energy_kwh_mean").to_pylist())) == 10


@settings(max_examples=25, deadline=None)
@given(
    n_meters=st.integers(1, 12),
    n_intervals=st.integers(1, 50),
    chunk_meters=st.integers(1, 15),
    seed=st.integers(0, 2**32 - 1),
)
def test_iter_readings_yields_the_rows_of_generate_readings_whatever_the_chunking(
    n_meters: int, n_intervals: int, chunk_meters: int, seed: int
) -> None:
    chunks = list(iter_readings(n_meters, n_intervals, seed=seed, chunk_meters=chunk_meters))
    assert all(c.num_rows <= chunk_meters * n_intervals for c in chunks)
    joined = pa.concat_tables(chunks).combine_chunks()
    assert joined.equals(generate_readings(n_meters, n_intervals, seed=seed))


def test_iter_readings_honours_interval_and_start() -> None:
    start = dt.datetime(2025, 7, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    (table,) = iter_readings(1, 3, interval_s=3600, start=start)
    assert table.column("ts").to_pylist() == [start + dt.timedelta(hours=h) for h in range(3)]
    # An hour of energy is about four 15-minute readings of the same load.
    hourly = generate_readings(5, 96, interval_s=3600).column("energy_kwh").to_numpy().mean()
    quarter = generate_readings(5, 96 * 4).column("energy_kwh").to_numpy().mean()
    assert 3.0 < hourly / quarter < 5.0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"n_meters": 0, "n_intervals": 5}, ValueError),
        ({"n_meters": 2, "n_intervals": 0}, ValueError),
        ({"n_meters": 10_000, "n_intervals": 5}, ValueError),
        ({"n_meters": 2.0, "n_intervals": 5}, TypeError),
        ({"n_meters": 2, "n_intervals": 5, "start": dt.datetime(2025, 1, 1)}, ValueError),
    ],
)
def test_generate_readings_rejects_bad_arguments(kwargs: dict[str, object], error: type) -> None:
    with pytest.raises(error):
        generate_readings(**kwargs)  # type: ignore[arg-type]


def test_write_csv_writes_the_canonical_header_and_seoul_offsets(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    assert write_csv(path, generate_readings(2, 3)) == 6
    lines = path.read_text().splitlines()
    assert lines[0] == "meter_id,ts,energy_kwh"
    assert len(lines) == 7
    assert lines[1].startswith("m0001,2025-01-01T00:00:00+09:00,")
    assert lines[2].startswith("m0001,2025-01-01T00:15:00+09:00,")
    assert lines[4].startswith("m0002,2025-01-01T00:00:00+09:00,")


def test_csv_round_trips_through_read_csv(tmp_path: Path) -> None:
    table = generate_readings(7, 300, seed=5)
    path = tmp_path / "readings.csv"
    write_csv(path, iter_readings(7, 300, seed=5, chunk_meters=3))
    parsed = read_csv(path)
    back = pa.Table.from_batches(list(parsed.iter_batches()))
    assert parsed.rejected == []
    assert sorted(parsed.meters) == [f"m{i:04d}" for i in range(1, 8)]
    assert back.column("meter_id").to_pylist() == table.column("meter_id").to_pylist()
    assert back.column("ts").to_pylist() == table.column("ts").to_pylist()
    assert back.column("value").to_pylist() == table.column("energy_kwh").to_pylist()
    assert back.column("line").to_pylist() == list(range(2, table.num_rows + 2))


def test_write_csv_writes_other_zones_with_their_offset(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    write_csv(path, generate_readings(1, 1), timezone="UTC")
    assert path.read_text().splitlines()[1].startswith("m0001,2024-12-31T15:00:00+00:00,")


def test_parquet_round_trips_exactly(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    assert write_parquet(path, iter_readings(5, 40, seed=2, chunk_meters=2)) == 200
    back = pq.read_table(path)
    assert back.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert back.combine_chunks().equals(generate_readings(5, 40, seed=2))
    assert pq.read_metadata(path).row_group(0).column(0).compression == "ZSTD"


def test_writers_reject_things_that_are_not_tables(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="pyarrow Tables"):
        write_parquet(tmp_path / "x.parquet", [{"meter_id": "m1"}])  # type: ignore[list-item]
