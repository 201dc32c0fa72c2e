"""The bulk loader for canonical files must store exactly what the line parser stores."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from bitgoeul.errors import ConflictError, IngestError
from bitgoeul.ingest.csv import CsvOptions
from bitgoeul.services import ingest_file
from bitgoeul.store import DuckDBStore, open_store
from bitgoeul.synthetic import generate_readings, write_csv, write_parquet

HEADER = "meter_id,ts,energy_kwh\n"


def snapshot(store: DuckDBStore) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    con = store.connection
    meters = con.execute(
        "SELECT meter_id, site_id, timezone, kind, measurement, unit, interval_s, reading_day "
        "FROM meter ORDER BY meter_id"
    ).fetchall()
    readings = con.execute(
        "SELECT m.meter_id, r.ts, r.energy_kwh FROM reading r JOIN meter m USING (meter_key) "
        "ORDER BY 1, 2"
    ).fetchall()
    return meters, readings


def counts(report: object) -> tuple[int, ...]:
    return tuple(
        getattr(report, f)
        for f in ("rows_read", "inserted", "unchanged", "corrected", "duplicates_in_batch")
    )


def ingest_both(tmp_path: Path, files: list[Path], **kwargs: object) -> list[tuple[str, ...]]:
    """Ingest files into a bulk store and a parser store; assert the same outcome."""
    loaders = []
    bulk = open_store(str(tmp_path / "bulk.duckdb"))
    parser = open_store(str(tmp_path / "parser.duckdb"))
    try:
        for f in files:
            a = ingest_file(f, bulk, **kwargs)  # type: ignore[arg-type]
            b = ingest_file(f, parser, bulk=False, **kwargs)  # type: ignore[arg-type]
            assert b.loader == "parser"
            assert counts(a) == counts(b)
            assert a.meters_created == b.meters_created
            loaders.append((f.name, a.loader))
        assert snapshot(bulk) == snapshot(parser)
        assert snapshot(bulk)[1], "nothing was stored"
    finally:
        bulk.close()
        parser.close()
    return loaders


def test_bulk_loader_matches_parser_on_canonical_csv_and_parquet(tmp_path: Path) -> None:
    table = generate_readings(4, 300, seed=5)
    csv, parquet = tmp_path / "r.csv", tmp_path / "r.parquet"
    write_csv(csv, table)
    write_parquet(parquet, table)
    loaders = ingest_both(tmp_path, [csv, parquet, csv])
    assert [loader for _, loader in loaders] == ["bulk", "bulk", "bulk"]


def test_bulk_loader_takes_interleaved_meters_and_learns_each_interval(tmp_path: Path) -> None:
    quarter = generate_readings(2, 96, seed=1)
    hourly = generate_readings(1, 24, interval_s=3600, seed=2)
    hourly = hourly.set_column(0, quarter.schema.field(0), pa.array(["h1"] * 24))
    both = pa.concat_tables([quarter, hourly]).sort_by(
        [("ts", "ascending"), ("meter_id", "ascending")]
    )
    csv = tmp_path / "interleaved.csv"
    write_csv(csv, both)
    assert ingest_both(tmp_path, [csv]) == [("interleaved.csv", "bulk")]
    with open_store(str(tmp_path / "bulk.duckdb")) as store:
        assert store.get_meter("h1").interval_s == 3600
        assert store.get_meter("m0001").interval_s == 900


def test_bulk_loader_hands_back_files_it_cannot_vouch_for(tmp_path: Path) -> None:
    cases = {
        # naive time: must be read in the meter's zone, not as UTC
        "naive.csv": HEADER + "m1,2025-08-01T00:00:00+09:00,1\nm1,2025-08-01T00:15:00,2\n",
        # out of order within a meter, with an exact repeat
        "unordered.csv": HEADER
        + "m1,2025-08-01T00:15:00+09:00,2\nm1,2025-08-01T00:00:00+09:00,1\n"
        + "m1,2025-08-01T00:15:00+09:00,2\n",
        # an empty value is a missing-value finding, not a reading
        "missing.csv": HEADER + "m1,2025-08-01T00:00:00+09:00,\nm1,2025-08-01T00:15:00+09:00,2\n",
    }
    files = []
    for name, text in cases.items():
        files.append(tmp_path / name)
        files[-1].write_text(text, encoding="utf-8")
    loaders = ingest_both(tmp_path, files)
    assert loaders == [(name, "parser") for name in cases]
    with open_store(str(tmp_path / "bulk.duckdb")) as store:
        naive = store.read_readings("m1").column("ts").to_pylist()
        assert dt.datetime(2025, 7, 31, 15, 15, tzinfo=dt.UTC) in naive


def test_bulk_loader_accepts_a_utf8_bom(tmp_path: Path) -> None:
    csv = tmp_path / "bom.csv"
    csv.write_bytes(b"\xef\xbb\xbf" + (HEADER + "m1,2025-08-01T00:00:00+09:00,0.5\n").encode())
    assert ingest_both(tmp_path, [csv]) == [("bom.csv", "bulk")]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("m1,2025-08-01T00:15:00+09:00,nan", "energy_kwh"),
        ("m1,2025-13-01T00:15:00+09:00,1", "ts"),
        ("m1,2025-08-01T00:15:00+09:00,1e308", "energy_kwh"),  # finite, but no meter reads it
    ],
)
def test_bad_row_in_canonical_file_is_named_by_line(
    tmp_path: Path, store: DuckDBStore, row: str, field: str
) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text(HEADER + "m1,2025-08-01T00:00:00+09:00,1\n" + row + "\n", encoding="utf-8")
    with pytest.raises(IngestError) as info:
        ingest_file(csv, store)
    assert (info.value.line, info.value.field) == (3, field)
    assert store.list_meters() == []


def test_conflict_found_by_bulk_loader_is_reported_with_its_line(
    tmp_path: Path, store: DuckDBStore
) -> None:
    first = tmp_path / "a.csv"
    first.write_text(HEADER + "m1,2025-08-01T00:00:00+09:00,1\nm1,2025-08-01T00:15:00+09:00,2\n")
    assert ingest_file(first, store).loader == "bulk"
    second = tmp_path / "b.csv"
    second.write_text(HEADER + "m1,2025-08-01T00:00:00+09:00,1\nm1,2025-08-01T00:15:00+09:00,3\n")
    with pytest.raises(ConflictError) as info:
        ingest_file(second, store)
    assert info.value.line == 3
    fixed = ingest_file(second, store, on_conflict="correct")
    assert (fixed.loader, fixed.corrected, fixed.unchanged) == ("bulk", 1, 1)
    values = store.read_readings("m1").column("energy_kwh")
    assert pc.sum(values).as_py() == pytest.approx(4.0)


@pytest.mark.parametrize("chunk", [3, 64, 1 << 20])
def test_order_check_streams_in_chunks_across_meter_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    import bitgoeul.store.duckdb as duck

    monkeypatch.setattr(duck, "CHECK_BATCH_ROWS", chunk)
    # m1 every 15 min with one 30-min gap (mode stays 900 s), m2 hourly, m3 a single row
    lines = [f"m1,2025-08-01T{h:02d}:{m:02d}:00+09:00,1" for h in range(3) for m in (0, 15, 30, 45)]
    lines.remove("m1,2025-08-01T01:15:00+09:00,1")
    lines += [f"m2,2025-08-01T{h:02d}:00:00+09:00,2" for h in range(10)]
    lines += ["m3,2025-08-01T00:00:00+09:00,3"]
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    assert ingest_both(tmp_path, [good]) == [("good.csv", "bulk")]
    with open_store(str(tmp_path / "bulk.duckdb")) as store:
        assert store.get_meter("m1").interval_s == 900
        assert store.get_meter("m2").interval_s == 3600
        assert store.get_meter("m3").interval_s is None
    # time going back inside m2, at a row that a chunk of 3 puts at a chunk's start
    back = lines.copy()
    back[13], back[14] = back[14], back[13]
    bad = tmp_path / "back.csv"
    bad.write_text(HEADER + "\n".join(back) + "\n", encoding="utf-8")
    for f in ("bulk.duckdb", "parser.duckdb"):
        (tmp_path / f).unlink()
    assert ingest_both(tmp_path, [bad]) == [("back.csv", "parser")]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_meter_id_no_meter_may_have_is_named_by_line(
    tmp_path: Path, store: DuckDBStore, suffix: str
) -> None:
    # every value is well formed, so only the meter id can send the file back to the parser
    ids = ["m1", "m[/b]"]
    ts = [
        dt.datetime(2025, 8, 1, 0, 0, tzinfo=dt.UTC),
        dt.datetime(2025, 8, 1, 0, 15, tzinfo=dt.UTC),
    ]
    path = tmp_path / f"bad{suffix}"
    if suffix == ".csv":
        rows = "".join(f"{m},{t.isoformat()},1\n" for m, t in zip(ids, ts, strict=True))
        path.write_text(HEADER + rows, encoding="utf-8")
        line = 3
    else:
        import pyarrow.parquet as pq

        table = pa.table(
            {
                "meter_id": ids,
                "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
                "energy_kwh": [1.0, 1.0],
            }
        )
        pq.write_table(table, path)
        line = 2  # rows, not text lines, are counted in a Parquet file
    with pytest.raises(IngestError) as info:
        ingest_file(path, store)
    assert (info.value.line, info.value.field) == (line, "meter_id")
    assert "'m[/b]' is not a valid meter id" in str(info.value)
    assert store.list_meters() == []
    report = ingest_file(path, store, csv=CsvOptions(skip_bad_rows=True))
    assert report.meters_created == ["m1"] and [r.line for r in report.rejected] == [line]


def test_a_reading_beyond_any_meter_in_parquet_is_named_by_row(
    tmp_path: Path, store: DuckDBStore
) -> None:
    import pyarrow.parquet as pq

    path = tmp_path / "big.parquet"
    start = dt.datetime(2025, 8, 1, tzinfo=dt.UTC)
    table = pa.table(
        {
            "meter_id": ["m1"] * 3,
            "ts": pa.array(
                [start + dt.timedelta(hours=h) for h in range(3)], pa.timestamp("us", tz="UTC")
            ),
            "energy_kwh": [1.0, 1e308, 1e308],  # a sum over them would be infinite
        }
    )
    pq.write_table(table, path)
    with pytest.raises(IngestError, match="beyond the largest reading accepted") as info:
        ingest_file(path, store)
    assert (info.value.line, info.value.field) == (2, "energy_kwh")
    assert store.list_meters() == []
    report = ingest_file(path, store, csv=CsvOptions(skip_bad_rows=True))
    assert [r.line for r in report.rejected] == [2, 3]
    [meter] = store.list_meters()
    assert (meter.reading_count, meter.total_energy_kwh) == (1, 1.0)
