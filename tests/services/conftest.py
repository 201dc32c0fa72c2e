"""Fixtures of the use-case tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from bitgoeul.ingest.csv import CsvOptions
from bitgoeul.services import MeterDefaults, ingest_file
from bitgoeul.store import open_store

CNU = "kr_cnu_campus_buildings_hourly"


@pytest.fixture(scope="module")
def buildings(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store with two real CNU buildings (hourly kWh, 2021-01 .. 2022-04)."""
    path = str(tmp_path_factory.mktemp("forecast") / "cnu.duckdb")
    store = open_store(path)
    for name, meter_id in (
        ("A06_agri_life_sci_bldg3_HV_02.csv", "A06"),
        ("C14_engineering_bldg7_HV_02.csv", "C14"),
    ):
        options = CsvOptions(meter_id=meter_id, ts_col="date", value_col="energy")
        ingest_file(shared_data / CNU / name, store, csv=options, defaults=MeterDefaults())
    store.close()
    return path
