"""The data model: organisation (tenant) -> site -> meter, and data-quality records.

A :class:`Meter` carries what later features need to interpret its readings:
its time zone, what it measures, its nominal interval and the KEPCO contract
metadata (contract class, voltage, contracted demand and the meter-reading day
검침일 that delimits billing cycles).

Readings themselves are not objects: they travel as long-format Arrow tables
with the columns ``meter_id`` (string), ``ts`` (timestamp[us, UTC], interval
start) and ``energy_kwh`` (float64) [kWh per interval].
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_TIMEZONE",
    "ApiKey",
    "DataIssue",
    "Measurement",
    "Meter",
    "MeterKind",
    "Organisation",
    "Site",
]

DEFAULT_TIMEZONE = "Asia/Seoul"
_ID = re.compile(r"^[A-Za-z0-9가-힣][A-Za-z0-9가-힣_.:@\-]{0,127}$")


class MeterKind(enum.StrEnum):
    """What a meter measures the flow of."""

    GRID_IMPORT = "grid_import"
    """Energy delivered from the grid to the customer (the billed quantity)."""
    GRID_EXPORT = "grid_export"
    """Energy received by the grid from the customer (net metering)."""
    GENERATION = "generation"
    """On-site generation, e.g. rooftop PV."""
    APPLIANCE = "appliance"
    """A sub-meter on one appliance or circuit."""


class Measurement(enum.StrEnum):
    """How a source expresses its values before ingestion normalises them to energy."""

    INTERVAL_ENERGY = "interval_energy"
    """Energy consumed in each interval [kWh or Wh]; stored as is."""
    CUMULATIVE_REGISTER = "cumulative_register"
    """A register that only grows [kWh]; differenced into interval energy."""
    INSTANTANEOUS_POWER = "instantaneous_power"
    """Average or sampled power [kW or W]; multiplied by the interval length."""


def is_identifier(value: object) -> TypeGuard[str]:
    """Whether ``value`` may name a meter, site, organisation or key (:func:`check_identifier`)."""
    return isinstance(value, str) and _ID.match(value) is not None


def check_identifier(value: str, what: str) -> str:
    """Return ``value`` if it is a usable identifier, else raise ValueError."""
    if not is_identifier(value):
        raise ValueError(
            f"{what} {value!r} is not a valid identifier: use 1-128 letters, digits, "
            "Hangul, '_', '-', '.', ':' or '@', starting with a letter, digit or Hangul"
        )
    return value


def check_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA time zone, else raise ValueError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'Asia/Seoul'"
        ) from exc
    return name


@dataclass(frozen=True, slots=True)
class Organisation:
    """A tenant: every site and meter belongs to exactly one organisation."""

    org_id: str
    name: str = ""

    def __post_init__(self) -> None:
        check_identifier(self.org_id, "organisation id")


@dataclass(frozen=True, slots=True)
class Site:
    """A place with one or more meters (a home, a building, a plant)."""

    site_id: str
    org_id: str
    name: str = ""
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        check_identifier(self.site_id, "site id")
        check_identifier(self.org_id, "organisation id")
        check_timezone(self.timezone)


@dataclass(frozen=True, slots=True)
class Meter:
    """A metering point and the metadata needed to interpret and bill it.

    Parameters
    ----------
    meter_id : str
        Identifier, unique within the store.
    site_id : str
        The site it belongs to.
    timezone : str
        IANA zone for local-time features and naive source timestamps.
    kind : MeterKind
        Flow measured.
    measurement : Measurement
        How the source expressed values (stored values are always interval energy).
    unit : str
        Unit of the source values ('kWh', 'Wh', 'kW', 'W', 'MWh').
    interval_s : int or None
        Nominal interval [s], e.g. 900 for 15-minute data; None if unknown.
    contract_class : str or None
        KEPCO contract class, e.g. 'residential-low', 'general-b', 'industrial-b'.
    voltage : str or None
        Supply voltage class, e.g. 'low', 'high-a'.
    contract_kw : float or None
        Contracted demand [kW].
    reading_day : int
        Meter-reading day 검침일 (1-31) that starts each billing cycle; a day
        past a month's end means that month's last day.
    """

    meter_id: str
    site_id: str
    timezone: str = DEFAULT_TIMEZONE
    kind: MeterKind = MeterKind.GRID_IMPORT
    measurement: Measurement = Measurement.INTERVAL_ENERGY
    unit: str = "kWh"
    interval_s: int | None = None
    contract_class: str | None = None
    voltage: str | None = None
    contract_kw: float | None = None
    reading_day: int = 1
    name: str = ""

    def __post_init__(self) -> None:
        check_identifier(self.meter_id, "meter id")
        check_identifier(self.site_id, "site id")
        check_timezone(self.timezone)
        object.__setattr__(self, "kind", MeterKind(self.kind))
        object.__setattr__(self, "measurement", Measurement(self.measurement))
        if not 1 <= int(self.reading_day) <= 31:
            raise ValueError(f"reading_day must be 1..31, got {self.reading_day}")
        if self.interval_s is not None and self.interval_s <= 0:
            raise ValueError(
                f"interval_s must be a positive number of seconds, got {self.interval_s}"
            )
        if self.contract_kw is not None and self.contract_kw < 0:
            raise ValueError(f"contract_kw must be >= 0 [kW], got {self.contract_kw}")

    @property
    def zone(self) -> ZoneInfo:
        """The meter's time zone as a :class:`zoneinfo.ZoneInfo`."""
        return ZoneInfo(self.timezone)


Scope = Literal["read", "write", "admin"]
"""What an API key may do: read data, write (ingest, register meters), admin (keys, sites)."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key of one organisation, without its secret (only a hash is stored).

    Parameters
    ----------
    key_id : str
        Public identifier; the key a client sends is ``bgk_<key_id>_<secret>``.
    org_id : str
        The organisation (tenant) whose data the key reaches; never any other.
    name : str
        A label for people.
    scopes : tuple of {'read', 'write', 'admin'}
        What the key may do.
    site_ids : tuple of str or None
        The sites the key is limited to; None for every site of the organisation.
    share : bool
        A view-only share key for a dashboard (scope 'read' only).
    created_at, expires_at, revoked_at : datetime
        UTC instants; the key works from ``created_at`` until it expires or is revoked.
    """

    key_id: str
    org_id: str
    scopes: tuple[Scope, ...]
    created_at: dt.datetime
    name: str = ""
    site_ids: tuple[str, ...] | None = None
    share: bool = False
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None

    def active_at(self, when: dt.datetime) -> bool:
        """Return True if the key is neither revoked nor expired at ``when``."""
        if self.revoked_at is not None and self.revoked_at <= when:
            return False
        return self.expires_at is None or when < self.expires_at


@dataclass(frozen=True, slots=True)
class DataIssue:
    """One data-quality finding about a meter's readings.

    Parameters
    ----------
    code : str
        Machine-readable kind, e.g. 'gap', 'conflicting_duplicate',
        'negative_energy', 'stuck_value', 'spike', 'clock_jump', 'register_reset'.
    meter_id : str
        Meter concerned.
    start, end : datetime.datetime
        Time range concerned (UTC, aware; ``end`` exclusive).
    message : str
        A sentence a person can act on.
    data : dict
        Extra structured detail (counts, values, thresholds).
    """

    code: str
    meter_id: str
    start: dt.datetime
    end: dt.datetime
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (ISO 8601 times)."""
        return {
            "code": self.code,
            "meter_id": self.meter_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "message": self.message,
            "data": self.data,
        }
