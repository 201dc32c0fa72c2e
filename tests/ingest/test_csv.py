from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from bitgoeul.errors import IngestError
from bitgoeul.ingest.csv import CsvOptions, detect_encoding, read_csv

KST = dt.timezone(dt.timedelta(hours=9))


def rows(parsed) -> pa.Table:
    return pa.Table.from_batches(list(parsed.iter_batches()))


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_read_csv_canonical_long_converts_offsets_to_utc(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "m.csv",
        "meter_id,ts,energy_kwh\nm1,2025-08-01T00:00:00+09:00,0.25\nm2,2025-08-01T00:15:00Z,1.5\n",
    )
    t = rows(read_csv(p))
    assert t.column("meter_id").to_pylist() == ["m1", "m2"]
    assert t.column("ts").to_pylist() == [
        dt.datetime(2025, 7, 31, 15, 0, tzinfo=dt.UTC),
        dt.datetime(2025, 8, 1, 0, 15, tzinfo=dt.UTC),
    ]
    assert t.column("value").to_pylist() == [0.25, 1.5]
    assert t.column("line").to_pylist() == [2, 3]


def test_read_csv_naive_timestamps_use_meter_zone(tmp_path: Path) -> None:
    p = write(
        tmp_path, "m.csv", "meter_id,ts,energy_kwh\nm1,2025-08-01 00:00,1\nm2,2025-08-01 00:00,1\n"
    )
    t = rows(read_csv(p, CsvOptions(timezone="Asia/Seoul", meter_zones={"m2": "Europe/London"})))
    got = dict(zip(t.column("meter_id").to_pylist(), t.column("ts").to_pylist(), strict=True))
    assert got["m1"] == dt.datetime(2025, 7, 31, 15, tzinfo=dt.UTC)
    assert got["m2"] == dt.datetime(2025, 7, 31, 23, tzinfo=dt.UTC)  # BST = UTC+1


def test_read_csv_cp949_daily_wide_hour_ending(tmp_path: Path) -> None:
    header = "날짜," + ",".join(f"{h}시" for h in range(1, 25))
    body = "2024-01-01," + ",".join(str(h * 10) for h in range(1, 25))
    p = write(tmp_path, "계통수요.csv", f"{header}\n{body}\n", encoding="cp949")
    assert detect_encoding(p.read_bytes()) == "cp949"
    parsed = read_csv(p, CsvOptions(meter_id="jeju-sys", unit="MWh"))
    t = rows(parsed)
    assert t.num_rows == 24
    ts = t.column("ts").to_pylist()
    # 1시 is the hour ending 01:00 KST, so it starts at 00:00 KST = 15:00 UTC the day before.
    assert ts[0] == dt.datetime(2023, 12, 31, 15, tzinfo=dt.UTC)
    assert ts[23] == dt.datetime(2024, 1, 1, 14, tzinfo=dt.UTC)
    assert t.column("value").to_pylist()[0] == 10.0
    assert parsed.meters["jeju-sys"].unit == "MWh"
    assert parsed.meters["jeju-sys"].interval_s == 3600


def test_read_csv_jeju_yearly_with_bom_and_hours_1_to_24(shared_data: Path) -> None:
    path = shared_data / "kr_kpx_jeju_hourly_demand/raw_yearly/jeju_DMND_time_2020.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    parsed = read_csv(path, CsvOptions(meter_id="jeju"))
    t = rows(parsed)
    assert t.num_rows == 8784  # leap year, complete
    assert parsed.meters["jeju"].unit == "MWh"  # from the header 전력거래량(MWh)
    ts = t.column("ts").to_pylist()
    assert ts[0] == dt.datetime(2019, 12, 31, 15, tzinfo=dt.UTC)  # 2020-01-01 00:00 KST
    assert ts[-1] == dt.datetime(2020, 12, 31, 14, tzinfo=dt.UTC)  # hour 24 of 12-31
    with path.open(encoding="utf-8-sig") as fh:
        expected = sum(float(r["전력거래량(MWh)"]) for r in csv.DictReader(fh))
    assert sum(t.column("value").to_pylist()) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("year", [2016, 2017, 2018])
def test_read_csv_jeju_int_and_float_years(shared_data: Path, year: int) -> None:
    path = shared_data / f"kr_kpx_jeju_hourly_demand/raw_yearly/jeju_DMND_time_{year}.csv"
    parsed = read_csv(path, CsvOptions(meter_id="jeju"))
    t = rows(parsed)
    missing = sum(i.data["count"] for i in parsed.issues if i.code == "missing_value")
    assert t.num_rows + missing == (8784 if year == 2016 else 8760)
    assert (year == 2017) == (missing > 0)  # 2017 has ten empty hours in March
    assert min(t.column("value").to_pylist()) >= 0


def test_read_csv_cnu_building_hourly_with_nan_cells(shared_data: Path) -> None:
    path = shared_data / "kr_cnu_campus_buildings_hourly/A06_agri_life_sci_bldg3_HV_02.csv"
    parsed = read_csv(path, CsvOptions(meter_id="A06", ts_col="date", value_col="energy"))
    t = rows(parsed)
    with path.open() as fh:
        reader = list(csv.DictReader(fh))
    empty = sum(1 for r in reader if r["energy"].strip() == "")
    assert t.num_rows == len(reader) - empty
    assert sum(i.data["count"] for i in parsed.issues if i.code == "missing_value") == empty
    assert t.column("ts").to_pylist()[0] == dt.datetime(2020, 12, 31, 15, tzinfo=dt.UTC)


def test_read_csv_wide_layout(tmp_path: Path) -> None:
    p = write(
        tmp_path, "w.csv", "timestamp,a,b\n2025-01-01T00:00+09:00,1,2\n2025-01-01T01:00+09:00,3,\n"
    )
    parsed = read_csv(p)
    t = rows(parsed)
    assert sorted(
        zip(t.column("meter_id").to_pylist(), t.column("value").to_pylist(), strict=False)
    ) == [
        ("a", 1.0),
        ("a", 3.0),
        ("b", 2.0),
    ]
    assert [i.code for i in parsed.issues] == ["missing_value"]


def test_read_csv_mapped_long_with_format_and_hour_ending(tmp_path: Path) -> None:
    p = write(tmp_path, "x.csv", "dev;when;kwh\nx1;01/02/2025 01:00;2\nx1;01/02/2025 02:00;3\n")
    opts = CsvOptions(
        meter_col="dev",
        ts_col="when",
        value_col="kwh",
        ts_format="%d/%m/%Y %H:%M",
        ts_convention="end",
    )
    t = rows(read_csv(p, opts))
    assert t.column("ts").to_pylist()[0] == dt.datetime(2025, 1, 31, 15, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("body", "line", "field", "needle"),
    [
        ("m1,2025-13-01T00:00+09:00,1\n", 2, "ts", "not a timestamp"),
        ("m1,2025-08-01T00:00+09:00,1\nm1,yesterday,1\n", 3, "ts", "yesterday"),
        ("m1,2025-08-01T00:00+09:00,abc\n", 2, "energy_kwh", "'abc' is not a finite number"),
        ("m1,2025-08-01T00:00+09:00,NaN\n", 2, "energy_kwh", "finite"),
        ("m1,2025-08-01T00:00+09:00,inf\n", 2, "energy_kwh", "finite"),
        (
            "m1,2025-08-01T00:00+09:00,1\nm1,2025-08-01T00:15+09:00,1e308\n",
            3,
            "energy_kwh",
            "'1e308' kWh is beyond the largest reading accepted (1e+12 kWh)",
        ),
        ("m1,2025-08-01T00:00+09:00,-2e12\n", 2, "energy_kwh", "beyond the largest reading"),
        ("m1,2025-08-01T00:00+09:00,1\nm1,2025-08-01T00:15+09:00\n", 3, "", "expected 3 fields"),
        ("bad id!,2025-08-01T00:00+09:00,1\n", 2, "meter_id", "not a valid meter id"),
    ],
)
def test_read_csv_bad_rows_name_file_line_and_field(
    tmp_path: Path, body: str, line: int, field: str, needle: str
) -> None:
    p = write(tmp_path, "bad.csv", "meter_id,ts,energy_kwh\n" + body)
    with pytest.raises(IngestError) as info:
        rows(read_csv(p))
    err = info.value
    assert err.source == str(p)
    assert err.line == line
    assert (err.field or "") == field
    assert needle in str(err)
    assert str(p) in str(err) and f"line {line}" in str(err)


@pytest.mark.parametrize(
    ("unit", "value", "refused"),
    [("kWh", "1e12", False), ("Wh", "2e12", False), ("Wh", "2e15", True), ("MWh", "2e9", True)],
)
def test_the_largest_reading_is_measured_in_the_files_unit(
    tmp_path: Path, unit: str, value: str, refused: bool
) -> None:
    p = write(tmp_path, "u.csv", f"ts,value\n2025-08-01T00:00+09:00,{value}\n")
    opts = CsvOptions(meter_id="m1", unit=unit)
    if refused:
        with pytest.raises(IngestError, match=f"'{value}' {unit} is beyond") as info:
            rows(read_csv(p, opts))
        assert (info.value.line, info.value.field) == (2, "value")
    else:
        assert rows(read_csv(p, opts)).column("value").to_pylist() == [float(value)]


def test_read_csv_skip_bad_rows_keeps_true_line_numbers(tmp_path: Path) -> None:
    body = (
        "m1,2025-08-01T00:00+09:00,1\n"
        "m1,2025-08-01T00:15+09:00\n"  # line 3: too few fields
        "m1,2025-08-01T00:30+09:00,x\n"  # line 4: text
        "m1,2025-08-01T00:45+09:00,4\n"
    )
    p = write(tmp_path, "bad.csv", "meter_id,ts,energy_kwh\n" + body)
    parsed = read_csv(p, CsvOptions(skip_bad_rows=True))
    t = rows(parsed)
    assert t.column("line").to_pylist() == [2, 5]
    assert t.column("value").to_pylist() == [1.0, 4.0]
    assert sorted(r.line for r in parsed.rejected) == [3, 4]


def test_read_csv_ambiguous_local_time_is_refused(tmp_path: Path) -> None:
    # 01:30 on 2024-11-03 happens twice in New York (DST ends).
    p = write(
        tmp_path, "dst.csv", "meter_id,ts,energy_kwh\nm,2024-11-03 00:30,1\nm,2024-11-03 01:30,1\n"
    )
    with pytest.raises(IngestError) as info:
        rows(read_csv(p, CsvOptions(timezone="America/New_York")))
    assert info.value.line == 3


def test_read_csv_empty_file(tmp_path: Path) -> None:
    p = write(tmp_path, "empty.csv", "")
    with pytest.raises(IngestError, match="empty"):
        read_csv(p)


def test_read_csv_header_only(tmp_path: Path) -> None:
    p = write(tmp_path, "h.csv", "meter_id,ts,energy_kwh\n")
    with pytest.raises(IngestError, match="no data rows"):
        rows(read_csv(p))


def test_read_csv_truncated_last_line(tmp_path: Path) -> None:
    p = write(
        tmp_path, "t.csv", "meter_id,ts,energy_kwh\nm1,2025-08-01T00:00+09:00,1\nm1,2025-08-01T00:1"
    )
    with pytest.raises(IngestError) as info:
        rows(read_csv(p))
    assert info.value.line == 3


def test_read_csv_huge_single_line_without_newline(tmp_path: Path) -> None:
    p = tmp_path / "blob.csv"
    with p.open("wb") as fh:
        for _ in range(32):
            fh.write(b"x" * (1 << 20))
    with pytest.raises(IngestError, match="longer than") as info:
        read_csv(p)
    assert info.value.line == 1


def test_read_csv_huge_data_line(tmp_path: Path) -> None:
    p = tmp_path / "blob2.csv"
    with p.open("wb") as fh:
        fh.write(b"meter_id,ts,energy_kwh\n")
        for _ in range(24):
            fh.write(b"9" * (1 << 20))
    with pytest.raises(IngestError):
        rows(read_csv(p, CsvOptions(block_bytes=1 << 20)))
