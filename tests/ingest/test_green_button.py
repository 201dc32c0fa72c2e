from __future__ import annotations

import datetime as dt
import doctest
import itertools
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bitgoeul.errors import IngestError
from bitgoeul.ingest import green_button
from bitgoeul.ingest.green_button import KWH_PER_THERM, read_green_button
from bitgoeul.ingest.source import RAW_SCHEMA, ParsedSource
from bitgoeul.model import MeterKind, check_identifier

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SAMPLES = SHARED_DATA / "green_button"
FIXTURES = Path(__file__).resolve().parents[1] / "data" / "green_button"
UTC = dt.UTC


def sample(name: str) -> Path:
    path = SAMPLES / name
    if not path.is_file():
        pytest.fail(f"shared sample {path} is missing: the Green Button tests need it")
    return path


@dataclass(frozen=True)
class Expected:
    readings: int
    raw_sum: int  # sum of the integer <value> elements, before powerOfTenMultiplier
    usage_points: int
    meters: int
    kinds: frozenset[MeterKind]
    commodity: str
    interval_s: int


# Reading counts and raw sums as in shared/data/green_button/PROVENANCE.md (the 15-min and
# hourly sums are stated there; the others were counted from the files with ElementTree).
EXPECTED = {
    "espi_gba_test_usage_data_15min.xml": Expected(
        1340, 1_391_666, 1, 1, frozenset({MeterKind.GRID_IMPORT}), "electricity", 900
    ),
    "espi_mb_1hrLP_32Days.xml": Expected(
        768, 2_354_843, 1, 1, frozenset({MeterKind.GRID_IMPORT}), "electricity", 3600
    ),
    "espi_mb_BatchFeedThreeUsagePoints_M.xml": Expected(
        384,
        211_560,
        3,
        4,
        frozenset({MeterKind.GRID_IMPORT, MeterKind.GRID_EXPORT}),
        "electricity",
        900,
    ),
    "espi_mb_Gas.xml": Expected(
        13, 1_074_821, 1, 1, frozenset({MeterKind.GRID_IMPORT}), "gas", 2_678_400
    ),
    "espi_gbo_TestGBDataOneYearDailyBinnedMonthly.xml": Expected(
        444, 9_917_817, 1, 1, frozenset({MeterKind.GRID_IMPORT}), "electricity", 86_400
    ),
}


def values_by_meter(parsed: ParsedSource) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for meter_id, value in zip(
        parsed.raw.column("meter_id").to_pylist(),
        parsed.raw.column("value").to_pylist(),
        strict=True,
    ):
        out.setdefault(meter_id, []).append(value)
    return out


def test_every_shared_sample_has_expectations() -> None:
    if not SAMPLES.is_dir():
        pytest.fail(f"shared Green Button samples missing at {SAMPLES}")
    assert sorted(p.name for p in SAMPLES.glob("*.xml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_read_green_button_matches_provenance_counts_and_sums(name: str) -> None:
    expected = EXPECTED[name]
    parsed = read_green_button(sample(name))

    assert parsed.raw.schema.equals(RAW_SCHEMA)
    assert parsed.raw.num_rows == expected.readings
    assert parsed.source == str(sample(name))
    assert parsed.issues == []
    assert len(parsed.meters) == expected.meters
    assert set(parsed.raw.column("meter_id").to_pylist()) == set(parsed.meters)
    usage_points = {meter_id.split(".")[-2] for meter_id in parsed.meters}
    assert len(usage_points) == expected.usage_points
    assert {hint.kind for hint in parsed.meters.values()} == expected.kinds
    for meter_id, hint in parsed.meters.items():
        assert check_identifier(meter_id, "meter id") == meter_id
        assert hint.meter_id == meter_id
        assert hint.unit == "kWh"
        assert hint.measurement == "interval_energy"
        assert hint.commodity == expected.commodity
        assert hint.interval_s == expected.interval_s
        assert hint.timezone is None  # all samples observe North American DST

    total_kwh = sum(parsed.raw.column("value").to_pylist())
    if expected.commodity == "gas":  # uom 169 (therm), powerOfTenMultiplier -3
        assert total_kwh == pytest.approx(expected.raw_sum * 1e-3 * KWH_PER_THERM, rel=1e-12)
    else:  # uom 72 (Wh), powerOfTenMultiplier 0
        assert total_kwh == pytest.approx(expected.raw_sum / 1000, rel=1e-12)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_read_green_button_line_points_at_interval_reading_tag(name: str) -> None:
    path = sample(name)
    lines = path.read_text(encoding="utf-8").splitlines()
    parsed = read_green_button(path)
    numbers = parsed.raw.column("line").to_pylist()
    assert all("<IntervalReading>" in lines[n - 1] for n in numbers)
    assert numbers == sorted(numbers)  # rows come in file order
    assert len(set(numbers)) == len(numbers)


def test_read_green_button_batch_feed_has_delivered_and_received_meters() -> None:
    parsed = read_green_button(sample("espi_mb_BatchFeedThreeUsagePoints_M.xml"))
    prefix = "espi_mb_BatchFeedThreeUsagePoints_M"
    kinds = {meter_id: hint.kind for meter_id, hint in parsed.meters.items()}
    assert kinds == {
        f"{prefix}.up4284792.mr1": MeterKind.GRID_IMPORT,  # ReadingType/02, flowDirection 1
        f"{prefix}.up4284792.mr2": MeterKind.GRID_EXPORT,  # ReadingType/03, flowDirection 19
        f"{prefix}.up4284793.mr1": MeterKind.GRID_IMPORT,  # ReadingType/04
        f"{prefix}.up4284794.mr1": MeterKind.GRID_EXPORT,  # ReadingType/05
    }
    sums = {meter_id: sum(v) for meter_id, v in values_by_meter(parsed).items()}
    assert sums == pytest.approx(
        {
            f"{prefix}.up4284792.mr1": 14.635,
            f"{prefix}.up4284792.mr2": 30.195,
            f"{prefix}.up4284793.mr1": 166.730,
            f"{prefix}.up4284794.mr1": 0.0,
        }
    )
    # No intervalLength in these ReadingTypes: the nominal interval is the common duration.
    assert {hint.interval_s for hint in parsed.meters.values()} == {900}


def test_read_green_button_converts_therms_to_kwh() -> None:
    parsed = read_green_button(sample("espi_mb_Gas.xml"))
    (hint,) = parsed.meters.values()
    assert hint.meter_id == "espi_mb_Gas.up02.mr01"
    assert hint.commodity == "gas"
    first = parsed.raw.slice(0, 1).to_pylist()[0]
    assert first["ts"] == dt.datetime(2011, 4, 1, 4, tzinfo=UTC)
    # <value>72609</value> x 10^-3 therm x 29.3071 kWh/therm
    assert first["value"] == pytest.approx(72.609 * 29.3071, rel=1e-12)
    kwh_per_therm_from_btu = 100_000 * 1055.05585 / 3.6e6  # NIST International Table Btu
    assert abs(KWH_PER_THERM - kwh_per_therm_from_btu) < 1e-4


def test_read_green_button_keeps_all_blocks_inside_one_entry() -> None:
    parsed = read_green_button(sample("espi_mb_1hrLP_32Days.xml"))
    ts = parsed.raw.column("ts").to_pylist()
    assert ts[0] == dt.datetime(2012, 4, 1, 4, tzinfo=UTC)
    assert ts[-1] == dt.datetime(2012, 5, 3, 3, tzinfo=UTC)
    assert all(b - a == dt.timedelta(hours=1) for a, b in itertools.pairwise(ts))


def test_read_green_button_15min_keeps_the_short_dst_day() -> None:
    parsed = read_green_button(sample("espi_gba_test_usage_data_15min.xml"))
    ts = parsed.raw.column("ts").to_pylist()
    eastern = ZoneInfo("America/New_York")  # tzOffset -5 h with North American DST rules
    per_day = Counter(t.astimezone(eastern).date() for t in ts)
    assert per_day[dt.date(2012, 3, 11)] == 92  # 23-hour day at the spring DST change
    assert set(per_day.values()) == {92, 96}
    assert len(set(ts)) == len(ts)


_EXPECTED_LINE = re.compile(
    r"^\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\+00:00, (?:(\d+) days?, )?(\d+):(\d\d):(\d\d): "
    r"(\d+) Wh\("
)


def read_expected_results(path: Path) -> list[tuple[dt.datetime, dt.timedelta, int]]:
    rows = []
    for text in path.read_text(encoding="utf-8").splitlines():
        match = _EXPECTED_LINE.match(text)
        if match is None:
            continue
        stamp, days, hours, minutes, seconds, wh = match.groups()
        start = dt.datetime.fromisoformat(stamp).replace(tzinfo=UTC)
        duration = dt.timedelta(
            days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=int(seconds)
        )
        rows.append((start, duration, int(wh)))
    return rows


def test_read_green_button_daily_matches_greenbutton_objects_reading_by_reading() -> None:
    expected = read_expected_results(
        sample("expected_results/espi_gbo_TestGBDataOneYearDailyBinnedMonthly.txt")
    )
    assert len(expected) == 444
    parsed = read_green_button(sample("espi_gbo_TestGBDataOneYearDailyBinnedMonthly.xml"))
    ts = parsed.raw.column("ts").to_pylist()
    values = parsed.raw.column("value").to_pylist()
    assert ts == [start for start, _, _ in expected]
    assert values == pytest.approx([wh / 1000 for _, _, wh in expected], abs=1e-9)
    # The raw table has no duration column; the series is gapless, so each reading's
    # duration is the step to the next start, DST days (23 h, 25 h) included.
    steps = [b - a for a, b in itertools.pairwise(ts)]
    assert steps == [duration for _, duration, _ in expected[:-1]]
    odd = {start: d for start, d, _ in expected if d != dt.timedelta(days=1)}
    assert odd == {
        dt.datetime(2013, 3, 10, 5, tzinfo=UTC): dt.timedelta(hours=23),
        dt.datetime(2013, 11, 3, 4, tzinfo=UTC): dt.timedelta(hours=25),
        dt.datetime(2014, 3, 9, 5, tzinfo=UTC): dt.timedelta(hours=23),
    }


def test_read_green_button_links_prefixed_out_of_order_entries_through_xml_base() -> None:
    path = FIXTURES / "minimal.xml"
    parsed = read_green_button(path)
    assert parsed.raw.to_pylist() == [
        {
            "meter_id": "minimal.up7.mr3",
            "ts": dt.datetime(2024, 1, 1, 0, 0, tzinfo=UTC),
            "value": pytest.approx(1.2),
            "line": 23,
        },
        {
            "meter_id": "minimal.up7.mr3",
            "ts": dt.datetime(2024, 1, 1, 0, 30, tzinfo=UTC),
            "value": pytest.approx(0.7),
            "line": 30,
        },
        {
            "meter_id": "minimal.up7.mr3",
            "ts": dt.datetime(2024, 1, 1, 1, 0, tzinfo=UTC),
            "value": pytest.approx(0.5),
            "line": 38,
        },
    ]
    hint = parsed.meters["minimal.up7.mr3"]
    assert hint.kind == MeterKind.GRID_IMPORT
    assert hint.interval_s == 1800
    assert hint.commodity == "electricity"
    # tzOffset +9 h with dstOffset 0 is an exact fixed offset (POSIX sign: Etc/GMT-9).
    assert hint.timezone == "Etc/GMT-9"
    assert hint.name == (
        "Gwangju test house / Half-hourly consumption (standard time UTC+09:00, no DST)"
    )


def test_read_green_button_uses_meter_id_prefix() -> None:
    parsed = read_green_button(FIXTURES / "minimal.xml", meter_id_prefix="site-1:gb")
    assert list(parsed.meters) == ["site-1:gb.up7.mr3"]
    with pytest.raises(ValueError, match="meter_id_prefix"):
        read_green_button(FIXTURES / "minimal.xml", meter_id_prefix="bad prefix")


def test_read_green_button_sanitises_the_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "__my export (2024).xml"
    path.write_bytes((FIXTURES / "minimal.xml").read_bytes())
    assert list(read_green_button(path).meters) == ["my_export__2024.up7.mr3"]


@pytest.mark.parametrize(
    "name",
    ["billion_laughs.xml", "external_entity.xml", "external_dtd.xml", "parameter_entity.xml"],
)
def test_read_green_button_refuses_entity_tricks_quickly(name: str) -> None:
    path = FIXTURES / name
    started = time.perf_counter()
    with pytest.raises(IngestError) as caught:
        read_green_button(path)
    assert time.perf_counter() - started < 1.0
    assert caught.value.source == str(path)
    assert str(path) in str(caught.value)
    assert caught.value.line == 2
    assert "root:" not in str(caught.value)  # /etc/passwd was not read into the message
    assert "lollol" not in str(caught.value)


def test_read_green_button_rejects_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.xml"
    path.write_bytes(b"")
    with pytest.raises(IngestError, match="empty") as caught:
        read_green_button(path)
    assert caught.value.source == str(path)


def test_read_green_button_rejects_a_whitespace_only_file(tmp_path: Path) -> None:
    path = tmp_path / "blank.xml"
    path.write_bytes(b"\n\n  \n")
    with pytest.raises(IngestError, match="not well-formed") as caught:
        read_green_button(path)
    assert str(path) in str(caught.value)


def test_read_green_button_rejects_a_truncated_file(tmp_path: Path) -> None:
    data = sample("espi_gba_test_usage_data_15min.xml").read_bytes()
    path = tmp_path / "truncated.xml"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IngestError, match="truncated") as caught:
        read_green_button(path)
    assert caught.value.source == str(path)
    assert caught.value.line is not None
    assert caught.value.line > 1000


def test_read_green_button_rejects_malformed_xml(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    path.write_text('<feed xmlns="http://www.w3.org/2005/Atom">\n<entry>\n</feed>\n')
    with pytest.raises(IngestError, match="not well-formed") as caught:
        read_green_button(path)
    assert caught.value.line == 3


def test_read_green_button_reports_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.xml"
    with pytest.raises(IngestError, match="cannot read") as caught:
        read_green_button(path)
    assert caught.value.source == str(path)


def minimal_variant(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    text = (FIXTURES / "minimal.xml").read_text(encoding="utf-8")
    if text.count(old) < count:
        pytest.fail(f"fixture does not contain {old!r} {count} times")
    path = tmp_path / "variant.xml"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return path


def test_read_green_button_rejects_a_non_numeric_value(tmp_path: Path) -> None:
    path = minimal_variant(tmp_path, "<espi:value>7</espi:value>", "<espi:value>7 kWh</espi:value>")
    with pytest.raises(IngestError, match="must be a number") as caught:
        read_green_button(path)
    assert caught.value.field == "value"
    assert caught.value.line == 36
    assert "<espi:value>7 kWh" in path.read_text().splitlines()[35]


def test_read_green_button_rejects_a_reading_without_time_period(tmp_path: Path) -> None:
    block = (
        "<espi:timePeriod>\n"
        "            <espi:duration>1800</espi:duration>\n"
        "            <espi:start>1704069000</espi:start>\n"
        "          </espi:timePeriod>"
    )
    path = minimal_variant(tmp_path, block, "")
    with pytest.raises(IngestError, match="no timePeriod") as caught:
        read_green_button(path)
    assert caught.value.field == "timePeriod"
    assert caught.value.line == 30


def test_read_green_button_rejects_a_non_integer_start(tmp_path: Path) -> None:
    path = minimal_variant(
        tmp_path, "<espi:start>1704070800</espi:start>", "<espi:start>2024-01-01</espi:start>"
    )
    with pytest.raises(IngestError, match="integer") as caught:
        read_green_button(path)
    assert caught.value.field == "start"
    assert caught.value.line == 41


def test_read_green_button_rejects_an_unsupported_uom(tmp_path: Path) -> None:
    path = minimal_variant(tmp_path, "<espi:uom>72</espi:uom>", "<espi:uom>38</espi:uom>")
    with pytest.raises(IngestError, match=r"uom 38") as caught:
        read_green_button(path)
    assert "Energy delivered, Wh x 10^2" in str(caught.value)
    assert caught.value.field == "uom"


def test_read_green_button_rejects_cumulative_readings(tmp_path: Path) -> None:
    path = minimal_variant(
        tmp_path,
        "<espi:accumulationBehaviour>4</espi:accumulationBehaviour>",
        "<espi:accumulationBehaviour>1</espi:accumulationBehaviour>",
    )
    with pytest.raises(IngestError, match="accumulationBehaviour 1"):
        read_green_button(path)


def test_read_green_button_rejects_a_feed_without_readings(tmp_path: Path) -> None:
    text = (FIXTURES / "minimal.xml").read_text(encoding="utf-8")
    start = text.index("<espi:IntervalReading>")
    end = text.rindex("</espi:IntervalReading>") + len("</espi:IntervalReading>")
    path = tmp_path / "no_readings.xml"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    with pytest.raises(IngestError, match="no IntervalReading") as caught:
        read_green_button(path)
    assert caught.value.source == str(path)


def test_read_green_button_rejects_a_non_atom_document(tmp_path: Path) -> None:
    path = tmp_path / "page.xml"
    path.write_text("<html><body/></html>")
    with pytest.raises(IngestError, match="not an Atom feed"):
        read_green_button(path)


def test_read_green_button_refuses_to_guess_an_unlinked_block(tmp_path: Path) -> None:
    text = sample("espi_mb_BatchFeedThreeUsagePoints_M.xml").read_text(encoding="utf-8")
    old = (
        '<link href="RetailCustomer/4299914/UsagePoint/4284792/MeterReading/2/IntervalBlock/0173"'
        ' rel="self"/>\n\t\t<link href="RetailCustomer/4299914/UsagePoint/4284792/MeterReading/2/'
        'IntervalBlock" rel="up"/>'
    )
    if old not in text:
        pytest.fail("batch sample changed: IntervalBlock links not found")
    path = tmp_path / "unlinked.xml"
    path.write_text(text.replace(old, '<link href="Elsewhere/1" rel="up"/>'), encoding="utf-8")
    with pytest.raises(IngestError, match="links to none") as caught:
        read_green_button(path)
    assert caught.value.field == "link"


def test_read_green_button_docstring_example_runs() -> None:
    result = doctest.testmod(green_button, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_read_green_button_reads_the_largest_sample_fast() -> None:
    path = sample("espi_gba_test_usage_data_15min.xml")
    read_green_button(path)  # warm imports and caches
    started = time.perf_counter()
    read_green_button(path)
    assert time.perf_counter() - started < 1.0


def test_read_green_button_names_meters_without_usage_point_by_reading(tmp_path: Path) -> None:
    text = (FIXTURES / "minimal.xml").read_text(encoding="utf-8")
    start = text.index("<espi:UsagePoint>")
    end = text.index("</espi:UsagePoint>") + len("</espi:UsagePoint>")
    path = tmp_path / "no_usage_point.xml"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    parsed = read_green_button(path)
    assert list(parsed.meters) == ["no_usage_point.mr3"]
    assert parsed.raw.num_rows == 3


@pytest.mark.parametrize(
    ("value", "words"),
    [("20000000000000", "is 2e+12 kWh"), ("9" * 400, "more than a float holds")],
)
def test_read_green_button_refuses_a_value_beyond_any_meter(
    tmp_path: Path, value: str, words: str
) -> None:
    # the fixture's ReadingType is Wh with powerOfTenMultiplier 2: a value is 0.1 kWh
    path = minimal_variant(
        tmp_path, "<espi:value>7</espi:value>", f"<espi:value>{value}</espi:value>"
    )
    with pytest.raises(IngestError, match="beyond the largest reading accepted") as caught:
        read_green_button(path)
    assert words in str(caught.value)
    assert (caught.value.field, caught.value.line) == ("value", 36)


def test_read_green_button_accepts_a_value_at_the_limit(tmp_path: Path) -> None:
    path = minimal_variant(
        tmp_path, "<espi:value>7</espi:value>", "<espi:value>10000000000000</espi:value>"
    )
    [values] = values_by_meter(read_green_button(path)).values()
    assert 1e12 in values
