"""Bitgoeul (빛고을): an open energy big-data platform.

The public API: open a store, ingest meter data, and ask for usage, quality,
peaks, standby power, load profiles and KEPCO bills with their month-end forecast.
"""

from __future__ import annotations

from bitgoeul.errors import (
    BitgoeulError,
    ConflictError,
    IngestError,
    NotFoundError,
    SchemaVersionError,
    StoreError,
    TariffError,
)
from bitgoeul.ingest.csv import CsvOptions
from bitgoeul.model import DataIssue, Measurement, Meter, MeterKind, Organisation, Site
from bitgoeul.services import (
    IngestReport,
    MeterBill,
    MeterDefaults,
    UsagePeriod,
    bill_meter,
    calculate_bill,
    compare_usage,
    ingest_file,
    ingest_files,
    ingest_frame,
    list_meters,
    meter_peak,
    meter_profile,
    meter_quality,
    meter_standby,
    read_frame,
    usage,
)
from bitgoeul.store import DuckDBStore, MeterStore, open_store

__version__ = "0.1.0"

__all__ = [
    "BitgoeulError",
    "ConflictError",
    "CsvOptions",
    "DataIssue",
    "DuckDBStore",
    "IngestError",
    "IngestReport",
    "Measurement",
    "Meter",
    "MeterBill",
    "MeterDefaults",
    "MeterKind",
    "MeterStore",
    "NotFoundError",
    "Organisation",
    "SchemaVersionError",
    "Site",
    "StoreError",
    "TariffError",
    "UsagePeriod",
    "bill_meter",
    "calculate_bill",
    "compare_usage",
    "ingest_file",
    "ingest_files",
    "ingest_frame",
    "list_meters",
    "meter_peak",
    "meter_profile",
    "meter_quality",
    "meter_standby",
    "open_store",
    "read_frame",
    "usage",
]
