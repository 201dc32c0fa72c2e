"""Build the demo household sample from the Low Carbon London meter MAC000060.

The real half-hourly readings of one London household (2011-12-10 .. 2014-02-27,
Europe/London local time) are re-dated by 678 whole weeks, so each day keeps
its weekday, and read as Asia/Seoul wall-clock time: the household then sits in
2024-12 .. 2026-11, where the current KEPCO tariff applies. The series is cut
at 2026-11-15 00:00 so the demo has a billing cycle in progress. Values are
untouched.

Run from the repository root (needs ../shared/data):

    .venv/bin/python scripts/make_demo_household.py
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SOURCE = SHARED / "uk_lcl_london_smartmeter" / "MAC000060_halfhourly.csv.gz"
TARGET = ROOT / "src" / "bitgoeul" / "data" / "samples" / "household_lcl_mac000060_redated.parquet"
SHIFT = dt.timedelta(weeks=678)
CUT = pd.Timestamp("2026-11-15 00:00", tz="Asia/Seoul")
METER_ID = "demo-household"


def main() -> None:
    """Write the re-dated household sample into the package."""
    raw = pd.read_csv(SOURCE, index_col=0, parse_dates=True).iloc[:, 0].dropna()
    local = (raw.index + SHIFT).tz_localize("Asia/Seoul")
    frame = pd.DataFrame({"meter_id": METER_ID, "ts": local, "energy_kwh": raw.to_numpy()})
    frame = frame[frame["ts"] < CUT]
    table = pa.table(
        {
            "meter_id": pa.array(frame["meter_id"], pa.string()),
            "ts": pa.array(frame["ts"]).cast(pa.timestamp("s", tz="Asia/Seoul")),
            "energy_kwh": pa.array(frame["energy_kwh"], pa.float64()),
        }
    )
    pq.write_table(table, TARGET, compression="zstd")
    print(
        f"{TARGET.relative_to(ROOT)}: {table.num_rows} readings, "
        f"{frame['ts'].min()} .. {frame['ts'].max()}, {TARGET.stat().st_size:,} bytes"
    )


if __name__ == "__main__":
    main()
