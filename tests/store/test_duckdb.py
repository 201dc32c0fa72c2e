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
