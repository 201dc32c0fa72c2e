from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bitgoeul.errors import NotFoundError, SchemaVersionError
from bitgoeul.model import Meter, Organisation, Site
from bitgoeul.store import open_store
from bitgoeul.store.duckdb import SCHEMA_VERSION


def test_new_store_is_migrated_and_reopens(store_path: Path) -> None:
    db = open_store(str(store_path))
    assert db.schema_version() == SCHEMA_VERSION
    db.upsert_organisation(Organisation("o1"))
    db.upsert_site(Site("s1", "o1"))
    db.upsert_meter(Meter("m1", "s1", reading_day=25, contract_class="residential-low"))
    db.close()
    again = open_store(str(store_path), read_only=True)
    assert again.get_meter("m1").reading_day == 25
    again.close()


def test_newer_schema_is_refused(store_path: Path) -> None:
    db = open_store(str(store_path))
    db.connection.execute("INSERT INTO schema_version VALUES (99, now())")
    db.close()
    with pytest.raises(SchemaVersionError, match="upgrade bitgoeul"):
        open_store(str(store_path))


def test_site_needs_its_organisation(store_path: Path) -> None:
    db = open_store(str(store_path))
    with pytest.raises(NotFoundError):
        db.upsert_site(Site("s1", "nobody"))
    with pytest.raises(NotFoundError):
        db.get_meter("missing")
    db.close()


def test_upsert_meter_updates_metadata(store_path: Path) -> None:
    db = open_store(str(store_path))
    db.upsert_organisation(Organisation("o1"))
    db.upsert_site(Site("s1", "o1"))
    db.upsert_meter(Meter("m1", "s1"))
    db.upsert_meter(Meter("m1", "s1", reading_day=9, contract_kw=5.0))
    assert db.get_meter("m1").reading_day == 9
    assert len(db.list_meters()) == 1
    with pytest.raises(ValueError, match="aware"):
        db.read_readings("m1", dt.datetime(2025, 1, 1))
    db.close()


def test_model_validates_input() -> None:
    with pytest.raises(ValueError, match="reading_day"):
        Meter("m1", "s1", reading_day=32)
    with pytest.raises(ValueError, match="time zone"):
        Meter("m1", "s1", timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="identifier"):
        Meter("bad id", "s1")


def test_fixed_offset_is_found_only_where_the_zone_never_changes() -> None:
    from bitgoeul.store.duckdb import _fixed_offset_us

    year = (dt.datetime(2025, 1, 1, tzinfo=dt.UTC), dt.datetime(2025, 12, 31, tzinfo=dt.UTC))
    assert _fixed_offset_us("Asia/Seoul", *year) == 9 * 3600 * 10**6
    assert _fixed_offset_us("America/New_York", *year) is None
    winter = (dt.datetime(2025, 1, 1, tzinfo=dt.UTC), dt.datetime(2025, 2, 1, tzinfo=dt.UTC))
    assert _fixed_offset_us("America/New_York", *winter) == -5 * 3600 * 10**6
    # Korea kept daylight saving time in 1987 and 1988
    seoul_dst = (dt.datetime(1987, 1, 1, tzinfo=dt.UTC), dt.datetime(1987, 12, 31, tzinfo=dt.UTC))
    assert _fixed_offset_us("Asia/Seoul", *seoul_dst) is None


@pytest.mark.parametrize("zone", ["Asia/Seoul", "America/New_York", "Asia/Kolkata"])
@pytest.mark.parametrize("freq", ["15min", "hour", "day", "month"])
def test_rollups_match_time_zone_conversion_in_every_zone(
    store_path: Path, zone: str, freq: str
) -> None:
    import pyarrow as pa

    from bitgoeul.services import ingest_frame
    from bitgoeul.synthetic import generate_readings

    db = open_store(str(store_path))
    start = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)  # New York changes clocks on 9 March
    ingest_frame(generate_readings(2, 96 * 20, start=start, seed=4), db)
    trunc = {"15min": "time_bucket(INTERVAL 15 MINUTE, ts AT TIME ZONE $tz)"}.get(
        freq, f"date_trunc('{freq}', ts AT TIME ZONE $tz)"
    )
    expected = db.connection.sql(
        f"""SELECT m.meter_id, {trunc} AS period_start, sum(energy_kwh) AS energy_kwh
            FROM reading JOIN meter m USING (meter_key) GROUP BY ALL ORDER BY 1, 2""",
        params={"tz": zone},
    ).fetchall()
    got = db.rollup_all(freq, timezone=zone).sort_by(
        [("meter_id", "ascending"), ("period_start", "ascending")]
    )
    rows = list(zip(*[got.column(c).to_pylist() for c in got.column_names], strict=True))
    assert [r[:2] for r in rows] == [tuple(r[:2]) for r in expected]
    assert [r[2] for r in rows] == pytest.approx([r[2] for r in expected], abs=1e-9)
    one = db.rollup("m0001", freq, timezone=zone)
    assert pa.compute.sum(one.column("energy_kwh")).as_py() == pytest.approx(
        sum(r[2] for r in expected if r[0] == "m0001")
    )
    db.close()
