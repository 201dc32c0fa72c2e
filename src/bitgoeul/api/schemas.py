"""Request and response bodies: ``XCreate`` comes in, ``XPublic`` goes out."""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from bitgoeul.ingest.source import MAX_READING
from bitgoeul.model import DEFAULT_TIMEZONE, ApiKey, MeterKind
from bitgoeul.store import MeterSummary

__all__ = [
    "IngestResult",
    "KeyCreate",
    "KeyCreated",
    "KeyPublic",
    "MeterCreate",
    "MeterPublic",
    "OrganisationCreate",
    "OrganisationCreated",
    "OrganisationPublic",
    "Page",
    "ReadingBatch",
    "ReadingIn",
    "ReadingPublic",
    "SiteCreate",
    "SitePublic",
    "UsagePublic",
]

T = TypeVar("T")
ID_PATTERN = r"^[A-Za-z0-9가-힣][A-Za-z0-9가-힣_.:@\-]{0,127}$"
ScopeName = Literal["read", "write", "admin"]


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next."""

    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Opaque; absent on the last page.", examples=[None]
    )


class OrganisationCreate(BaseModel):
    """A new organisation (tenant)."""

    model_config = ConfigDict(extra="forbid")
    org_id: str = Field(pattern=ID_PATTERN, examples=["gwangju-energy"])
    name: str = Field(default="", max_length=200, examples=["광주에너지 Gwangju Energy"])


class OrganisationPublic(BaseModel):
    """An organisation."""

    org_id: str
    name: str


class KeyCreate(BaseModel):
    """A new API key of the caller's organisation."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=200, examples=["billing exporter"])
    scopes: list[ScopeName] = Field(min_length=1, examples=[["read"]])
    site_ids: list[str] | None = Field(
        default=None, description="Limit the key to these sites.", examples=[["hq"]]
    )
    share: bool = Field(default=False, description="A view-only key for sharing a dashboard.")
    expires_at: AwareDatetime | None = Field(default=None, examples=["2027-01-01T00:00:00+09:00"])


class KeyPublic(BaseModel):
    """An API key, without its secret."""

    key_id: str
    name: str
    scopes: list[ScopeName]
    site_ids: list[str] | None
    share: bool
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    active: bool

    @classmethod
    def of(cls, key: ApiKey) -> KeyPublic:
        """Describe a key record."""
        return cls(
            key_id=key.key_id,
            name=key.name,
            scopes=list(key.scopes),
            site_ids=list(key.site_ids) if key.site_ids is not None else None,
            share=key.share,
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            active=key.active_at(dt.datetime.now(dt.UTC)),
        )


class KeyCreated(KeyPublic):
    """A new key with its secret: shown this once, store it now."""

    token: str = Field(examples=["bgk_3f9a1c2b7d4e_Xq..."])


class OrganisationCreated(BaseModel):
    """A new organisation and its first (admin) key."""

    organisation: OrganisationPublic
    admin_key: KeyCreated


class SiteCreate(BaseModel):
    """A new site of the caller's organisation."""

    model_config = ConfigDict(extra="forbid")
    site_id: str = Field(pattern=ID_PATTERN, examples=["hq"])
    name: str = Field(default="", max_length=200, examples=["본사 Headquarters"])
    timezone: str = Field(default=DEFAULT_TIMEZONE, examples=["Asia/Seoul"])


class SitePublic(BaseModel):
    """A site."""

    site_id: str
    name: str
    timezone: str


class MeterCreate(BaseModel):
    """A new meter on one of the caller's sites; readings are interval energy [kWh]."""

    model_config = ConfigDict(extra="forbid")
    meter_id: str = Field(pattern=ID_PATTERN, examples=["hq-main"])
    site_id: str = Field(pattern=ID_PATTERN, examples=["hq"])
    name: str = Field(default="", max_length=200)
    timezone: str | None = Field(default=None, description="Default: the site's zone.")
    kind: MeterKind = MeterKind.GRID_IMPORT
    interval_s: int | None = Field(default=None, gt=0, le=86_400, examples=[900])
    contract_class: str | None = Field(default=None, examples=["residential-low"])
    voltage: str | None = Field(default=None, examples=["low"])
    contract_kw: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    reading_day: int = Field(
        default=1, ge=1, le=31, description="검침일: billing cycles start on it."
    )


class MeterPublic(BaseModel):
    """A meter and what the store holds of it."""

    meter_id: str
    site_id: str
    name: str
    timezone: str
    kind: str
    interval_s: int | None
    contract_class: str | None
    voltage: str | None
    contract_kw: float | None
    reading_day: int
    reading_count: int
    first_ts: dt.datetime | None
    last_ts: dt.datetime | None
    total_energy_kwh: float

    @classmethod
    def of(cls, summary: MeterSummary) -> MeterPublic:
        """Describe a stored meter."""
        m = summary.meter
        return cls(
            meter_id=m.meter_id,
            site_id=m.site_id,
            name=m.name,
            timezone=m.timezone,
            kind=str(m.kind),
            interval_s=m.interval_s,
            contract_class=m.contract_class,
            voltage=m.voltage,
            contract_kw=m.contract_kw,
            reading_day=m.reading_day,
            reading_count=summary.reading_count,
            first_ts=summary.first_ts,
            last_ts=summary.last_ts,
            total_energy_kwh=summary.total_energy_kwh,
        )


class ReadingIn(BaseModel):
    """One interval reading: the energy used in the interval starting at ``ts``."""

    model_config = ConfigDict(extra="forbid")
    meter_id: str = Field(examples=["hq-main"])
    ts: AwareDatetime = Field(
        description="Interval start, ISO 8601 with an offset.",
        examples=["2026-11-21T09:00:00+09:00"],
    )
    energy_kwh: float = Field(
        ge=0,
        allow_inf_nan=False,
        description=f"Energy in the interval [kWh], at most {MAX_READING:g}.",
        examples=[0.42],
    )

    @field_validator("energy_kwh")
    @classmethod
    def _plausible(cls, value: float) -> float:
        if value > MAX_READING:
            raise ValueError(
                f"{value:g} kWh is beyond the largest reading accepted ({MAX_READING:g} kWh): "
                "check the value and its unit"
            )
        return value


class ReadingBatch(BaseModel):
    """A batch of readings for one or more of the caller's meters, committed atomically."""

    model_config = ConfigDict(extra="forbid")
    readings: list[ReadingIn] = Field(min_length=1)


class IngestResult(BaseModel):
    """A committed batch: every reading is durably stored when this is returned."""

    received: int = Field(description="Readings in this request.")
    committed: bool = True
    batch_id: int | None = Field(description="The store's batch holding them.")
    group_requests: int = Field(description="Requests committed in the same transaction.")
    group: dict[str, Any] = Field(
        description="Counts of the whole transaction: inserted, unchanged, corrected."
    )


class ReadingPublic(BaseModel):
    """A stored reading."""

    ts: dt.datetime
    energy_kwh: float


class UsagePublic(BaseModel):
    """Energy of one local period."""

    start: dt.datetime = Field(description="Local start (inclusive), with its offset.")
    end: dt.datetime = Field(
        description="Local end (exclusive); a billing cycle cut by start or end ends there."
    )
    label: str
    energy_kwh: float
    readings: int


JsonObject = dict[str, Any]
