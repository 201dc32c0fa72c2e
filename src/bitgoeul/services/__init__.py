"""Use cases: one function per thing a user does; adapters (CLI, API, web) call these."""

from __future__ import annotations

from bitgoeul.services.billing import (
    BillForecast,
    MeterBill,
    TierCrossing,
    bill_meter,
    calculate_bill,
)
from bitgoeul.services.ingest import (
    IngestReport,
    MeterDefaults,
    ingest_file,
    ingest_files,
    ingest_frame,
)
from bitgoeul.services.usage import (
    LatestUsage,
    UsagePeriod,
    compare_usage,
    latest_usage,
    list_meters,
    meter_peak,
    meter_profile,
    meter_quality,
    meter_standby,
    read_frame,
    usage,
)

__all__ = [
    "BillForecast",
    "IngestReport",
    "LatestUsage",
    "MeterBill",
    "MeterDefaults",
    "TierCrossing",
    "UsagePeriod",
    "bill_meter",
    "calculate_bill",
    "compare_usage",
    "ingest_file",
    "ingest_files",
    "ingest_frame",
    "latest_usage",
    "list_meters",
    "meter_peak",
    "meter_profile",
    "meter_quality",
    "meter_standby",
    "read_frame",
    "usage",
]
