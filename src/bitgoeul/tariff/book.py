"""Tariff data: dated values read from TOML files, and the book that looks them up.

Every tariff number is one *entry* of a *series*: a value with the first day of usage
it applies to (``effective_from``), a ``status`` and a ``source``. The package ships
its data in ``bitgoeul/tariff/data/*.toml`` (layout in ``data/README.md`` beside
them). A user adds or corrects values without touching code:

* ``load_tariffs(extra_paths=[...])``, or
* the environment variable ``BITGOEUL_TARIFF_PATH``: directories (every ``*.toml`` in
  them, sorted by name) and files, separated by :data:`os.pathsep`.

Files are read in this order: package data, ``BITGOEUL_TARIFF_PATH`` entries in order,
then ``extra_paths`` in order. An entry replaces an earlier one with the same series key
and ``effective_from``, or is added to the series' history. Contract metadata (``kind``,
``name``, ``load_periods``) merge field by field, the later file winning, so a file
can also define a whole new contract.

Series keys
-----------
Global: ``climate_won_per_kwh``, ``fuel_won_per_kwh``, ``vat_rate``, ``fund_rate``,
``rounding``, ``cashback``. Per contract: ``<contract>.<series>``, e.g.
``residential-low.energy_won_per_kwh``. TOU calendars:
``load_periods.<name>.calendar`` and ``load_periods.<name>.day_rules``.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import os
import re
import tomllib
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bitgoeul.errors import TariffError

__all__ = [
    "ENV_VAR",
    "LOAD_PERIODS",
    "SEASONS",
    "Calendar",
    "CashbackRule",
    "ContractInfo",
    "DayRules",
    "Deduction",
    "Rounding",
    "RoundingRule",
    "TariffBook",
    "TariffValue",
    "load_tariffs",
]

ENV_VAR = "BITGOEUL_TARIFF_PATH"
"""Environment variable: extra tariff directories and files, :data:`os.pathsep`-separated."""

Status = Literal["verified", "sourced", "unverified"]
ContractKind = Literal["residential", "seasonal", "tou"]
STATUSES: tuple[str, ...] = ("verified", "sourced", "unverified")
KINDS: tuple[str, ...] = ("residential", "seasonal", "tou")
SEASONS: tuple[str, ...] = ("summer", "spring_fall", "winter")
"""TOU seasons (여름철 Jun-Aug, 봄·가을철 Mar-May and Sep-Oct, 겨울철 Nov-Feb by default)."""
LOAD_PERIODS: tuple[str, ...] = ("light", "mid", "peak")
"""Load periods 경부하, 중간부하, 최대부하; index 0, 1, 2 in the engine."""

_GLOBAL_SERIES = (
    "climate_won_per_kwh",
    "fuel_won_per_kwh",
    "vat_rate",
    "fund_rate",
    "rounding",
    "cashback",
)
_CONTRACT_SERIES: dict[str, tuple[str, ...]] = {
    "residential": ("tier_bounds_kwh", "basic_won", "energy_won_per_kwh", "deduction"),
    "seasonal": ("basic_won_per_kw", "energy_won_per_kwh"),
    "tou": ("basic_won_per_kw", "energy_won_per_kwh"),
}
_PERIOD_SERIES = ("calendar", "day_rules")
_ENTRY_KEYS = frozenset({"effective_from", "value", "status", "source", "note", "missing"})
_CONTRACT_META = frozenset({"kind", "name", "load_periods", "note"})
_PERIOD_META = frozenset({"timezone", "note"})
_NAME = re.compile(r"^[a-z0-9][a-z0-9\-]*$")
_RULE = re.compile(r"^(down|half_up)_(?:(\d+)_)?won$")
_PERIOD_CODE = {"L": 0, "M": 1, "P": 2}


# -- typed values --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RoundingRule:
    """How one bill component is rounded.

    Parameters
    ----------
    mode : {'down', 'half_up'}
        ``'down'`` cuts towards zero (절사); ``'half_up'`` rounds half away from zero
        (4사5입).
    unit : int
        Rounding unit [won]: 1 or 10.
    """

    mode: Literal["down", "half_up"]
    unit: int


@dataclass(frozen=True, slots=True)
class Rounding:
    """Rounding rule of each bill component (see :class:`RoundingRule`)."""

    basic: RoundingRule
    energy: RoundingRule
    climate: RoundingRule
    fuel: RoundingRule
    deduction: RoundingRule
    vat: RoundingRule
    fund: RoundingRule
    total: RoundingRule


@dataclass(frozen=True, slots=True)
class Deduction:
    """필수사용량 보장공제: ``min(limit_won, basic + energy + climate + fuel - offset_won)``.

    Parameters
    ----------
    limit_won : Decimal
        Largest deduction [won]; 0 once abolished.
    max_kwh : Decimal
        Usage up to which the deduction applies [kWh].
    offset_won : Decimal
        Amount kept out of the deduction [won].
    """

    limit_won: Decimal
    max_kwh: Decimal
    offset_won: Decimal


@dataclass(frozen=True, slots=True)
class CashbackRule:
    """주택용 에너지캐시백 rule (see :func:`bitgoeul.tariff.estimate_cashback`).

    Parameters
    ----------
    basic_won_per_kwh : Decimal
        Paid per kWh saved when the reduction qualifies [won/kWh].
    min_reduction_pct : Decimal
        Smallest reduction that qualifies [%].
    brackets : tuple of (Decimal, Decimal)
        ``(lower bound [%], extra [won/kWh])`` of the differential cashback, ascending.
    max_won_per_kwh : Decimal
        Cap on basic plus extra [won/kWh].
    min_history_years, max_history_years : int
        Years of same-month history the baseline needs and uses.
    """

    basic_won_per_kwh: Decimal
    min_reduction_pct: Decimal
    brackets: tuple[tuple[Decimal, Decimal], ...]
    max_won_per_kwh: Decimal
    min_history_years: int
    max_history_years: int


@dataclass(frozen=True, slots=True)
class Calendar:
    """A TOU calendar: the season of each month and the load period of each weekday hour.

    Parameters
    ----------
    season_by_month : tuple of str
        Twelve season names (January first), each one of :data:`SEASONS`.
    hours : Mapping of str to tuple of int
        Season -> 24 load-period indices (0 light, 1 mid, 2 peak), hour 0 first.
    """

    season_by_month: tuple[str, ...]
    hours: Mapping[str, tuple[int, ...]]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Calendar):
            return NotImplemented
        return self.season_by_month == other.season_by_month and dict(self.hours) == dict(
            other.hours
        )

    def __hash__(self) -> int:
        return hash((self.season_by_month, tuple(sorted(self.hours.items()))))


@dataclass(frozen=True, slots=True)
class DayRules:
    """What Saturdays, Sundays and public holidays change in a TOU calendar.

    Parameters
    ----------
    saturday_peak_as : int or None
        Load period (0-2) that Saturday peak hours are billed as; None: unchanged.
    sunday, holidays : int or None
        Load period every hour of a Sunday / public holiday is billed as; None: unchanged.
    holiday_calendar : str
        Country code for the ``holidays`` package, e.g. ``'KR'``.
    """

    saturday_peak_as: int | None
    sunday: int | None
    holidays: int | None
    holiday_calendar: str


@dataclass(frozen=True, slots=True)
class TariffValue:
    """One dated tariff value.

    Parameters
    ----------
    key : str
        Series key, e.g. ``'residential-low.energy_won_per_kwh'``.
    effective_from : datetime.date
        First day of usage the value applies to.
    value : object
        The parsed value (Decimal, tuple, or one of the typed records of this module);
        None when ``missing``.
    status : {'verified', 'sourced', 'unverified'}
        As defined in ``docs/kepco-tariff-and-dr.md``.
    source : str
        URL or reference the value comes from.
    note : str
        Free text ('' when none).
    missing : bool
        True when the value is known to exist but is not known: billing a day it
        covers raises :class:`~bitgoeul.errors.TariffError`.
    file : str
        The TOML file the entry was read from.
    """

    key: str
    effective_from: dt.date
    value: Any
    status: Status
    source: str
    note: str = ""
    missing: bool = False
    file: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (dates as ISO strings, decimals as strings)."""
        return {
            "key": self.key,
            "effective_from": self.effective_from.isoformat(),
            "value": _jsonable(self.value),
            "status": self.status,
            "source": self.source,
            "note": self.note,
            "missing": self.missing,
            "file": self.file,
        }


@dataclass(frozen=True, slots=True)
class ContractInfo:
    """What the book knows about one contract class.

    Parameters
    ----------
    key : str
        Contract key, e.g. ``'residential-low'``.
    kind : {'residential', 'seasonal', 'tou'}
        ``residential``: block pricing per household (:func:`compute_bill`);
        ``seasonal``: one rate per season, basic charge per kW; ``tou``: light/mid/peak
        rates per season, basic charge per kW (both :func:`compute_tou_bill`).
    name : str
        Human-readable name (Korean and English).
    load_periods : str or None
        Name of the TOU calendar (``load_periods.<name>``) for seasonal and tou kinds.
    data_from : datetime.date
        First day every series the contract needs has a value for.
    """

    key: str
    kind: ContractKind
    name: str
    load_periods: str | None
    data_from: dt.date
    series: tuple[str, ...] = field(default=())


# -- the book ------------------------------------------------------------------------------
class TariffBook:
    """Dated tariff values for every contract, as loaded by :func:`load_tariffs`.

    A book is immutable after loading. Look values up with :meth:`value_at`; list the
    contracts with :meth:`contracts`.
    """

    __slots__ = ("_contracts", "_dates", "_files", "_series", "_timezones")

    def __init__(
        self,
        series: Mapping[str, Sequence[TariffValue]],
        contracts: Mapping[str, ContractInfo],
        timezones: Mapping[str, str],
        files: Sequence[str],
    ) -> None:
        self._series = {k: tuple(v) for k, v in series.items()}
        self._dates = {k: [e.effective_from for e in v] for k, v in self._series.items()}
        self._contracts = dict(contracts)
        self._timezones = dict(timezones)
        self._files = tuple(files)

    @property
    def files(self) -> tuple[str, ...]:
        """The TOML files read, in the order they were applied."""
        return self._files

    def contracts(self) -> list[str]:
        """Return the contract keys, sorted.

        Examples
        --------
        >>> book = load_tariffs()
        >>> book.contracts()[-2:]
        ['residential-high', 'residential-low']
        """
        return sorted(self._contracts)

    def contract(self, key: str) -> ContractInfo:
        """Return what the book knows about a contract; TariffError if it is unknown."""
        info = self._contracts.get(key) if isinstance(key, str) else None
        if info is None:
            raise TariffError(
                f"unknown contract {key!r}: use one of {', '.join(self.contracts())} "
                f"(or define it in a tariff file on {ENV_VAR})"
            )
        return info

    def series(self) -> list[str]:
        """Return every series key, sorted."""
        return sorted(self._series)

    def history(self, key: str) -> tuple[TariffValue, ...]:
        """Return every entry of a series, oldest first; TariffError if there is none."""
        try:
            return self._series[key]
        except KeyError:
            raise TariffError(f"the tariff data have no series {key!r}") from None

    def timezone(self, load_periods: str) -> str:
        """Return the IANA time zone of a TOU calendar (e.g. ``'Asia/Seoul'``)."""
        return self._timezones.get(load_periods, "Asia/Seoul")

    def value_at(self, key: str, day: dt.date) -> TariffValue:
        """Return the entry of a series in force on a day.

        Parameters
        ----------
        key : str
            Series key.
        day : datetime.date
            Local date of usage.

        Returns
        -------
        TariffValue

        Raises
        ------
        TariffError
            If the day is before the series begins, or the entry in force is marked
            ``missing``.

        Examples
        --------
        >>> import datetime as dt
        >>> book = load_tariffs()
        >>> v = book.value_at("fund_rate", dt.date(2024, 7, 1))
        >>> (v.value, v.effective_from.isoformat(), v.status)
        (Decimal('0.032'), '2024-07-01', 'verified')
        """
        history = self.history(key)
        i = bisect_right(self._dates[key], day) - 1
        if i < 0:
            raise TariffError(
                f"{key}: the tariff data begin on {history[0].effective_from.isoformat()}, "
                f"so {day.isoformat()} cannot be billed (add earlier values in a tariff file "
                f"on {ENV_VAR})"
            )
        entry = history[i]
        if entry.missing:
            raise TariffError(
                f"{key} from {entry.effective_from.isoformat()} is not known ({entry.source}); "
                f"supply it in a tariff file on {ENV_VAR} or via load_tariffs(extra_paths=...)"
            )
        return entry

    def changes_in(self, keys: Iterable[str], start: dt.date, end: dt.date) -> list[dt.date]:
        """Return the dates ``start < d <= end`` on which any of the series changes, sorted."""
        out: set[dt.date] = set()
        for key in keys:
            dates = self._dates.get(key, [])
            lo = bisect_right(dates, start)
            hi = bisect_right(dates, end)
            out.update(dates[lo:hi])
        return sorted(out)

    def value_changes_in(self, key: str, start: dt.date, end: dt.date) -> list[dt.date]:
        """Return the dates ``start < d <= end`` on which a series' value changes."""
        history = self._series.get(key, ())
        out = []
        for prev, entry in itertools.pairwise(history):
            if start < entry.effective_from <= end and (
                entry.missing or prev.missing or entry.value != prev.value
            ):
                out.append(entry.effective_from)
        return out


# -- loading -------------------------------------------------------------------------------
def load_tariffs(*, extra_paths: Sequence[str | Path] = ()) -> TariffBook:
    """Read the packaged tariff data plus the user's files into a :class:`TariffBook`.

    Parameters
    ----------
    extra_paths : sequence of str or Path
        Tariff TOML files, or directories whose ``*.toml`` files are read in name order.
        Applied after the package data and after ``BITGOEUL_TARIFF_PATH``; an entry
        replaces the one with the same series key and ``effective_from``, or extends
        the history.

    Returns
    -------
    TariffBook

    Raises
    ------
    TariffError
        If a path does not exist or a file does not follow the layout (the message
        names the file and the entry).

    Examples
    --------
    >>> book = load_tariffs()
    >>> "residential-low" in book.contracts()
    True
    >>> book.value_at("climate_won_per_kwh", __import__("datetime").date(2023, 1, 1)).value
    Decimal('9.0')
    """
    if isinstance(extra_paths, str | Path):
        raise TypeError("extra_paths must be a sequence of paths: wrap a single path in a list")
    files = [*_package_files(), *_expand(_env_paths()), *_expand(extra_paths)]
    return _build(files)


@functools.lru_cache(maxsize=4)
def _cached_default(env_value: str) -> TariffBook:
    return load_tariffs()


def default_book() -> TariffBook:
    """Return the book used when ``book=None``: package data plus ``BITGOEUL_TARIFF_PATH``.

    Cached per value of the environment variable; call :func:`load_tariffs` and pass
    ``book=`` to pick up files edited during the process.
    """
    return _cached_default(os.environ.get(ENV_VAR, ""))


def _package_files() -> list[Path]:
    root = resources.files("bitgoeul.tariff").joinpath("data")
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith(".toml"))


def _env_paths() -> list[str]:
    raw = os.environ.get(ENV_VAR, "")
    return [p for p in raw.split(os.pathsep) if p.strip()]


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            out.extend(sorted(p for p in path.glob("*.toml") if p.is_file()))
        elif path.is_file():
            out.append(path)
        else:
            raise TariffError(
                f"tariff path {str(raw)!r} does not exist (from {ENV_VAR} or extra_paths)"
            )
    return out


@dataclass
class _Raw:
    """Everything read from the files, before parsing by kind."""

    entries: dict[str, dict[dt.date, tuple[dict[str, Any], str]]] = field(default_factory=dict)
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict)
    periods: dict[str, dict[str, Any]] = field(default_factory=dict)
    where: dict[str, list[str]] = field(default_factory=dict)


def _build(files: Sequence[Path]) -> TariffBook:
    raw = _Raw()
    for path in files:
        _read_file(path, raw)
    series: dict[str, list[TariffValue]] = {}
    timezones: dict[str, str] = {}
    for name, meta in raw.periods.items():
        tz = meta.get("timezone", "Asia/Seoul")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise TariffError(f"load_periods.{name}: unknown timezone {tz!r}") from exc
        timezones[name] = tz
    parsers: dict[str, Callable[[Any, str], Any]] = {
        "climate_won_per_kwh": _parse_decimal,
        "fuel_won_per_kwh": _parse_decimal,
        "vat_rate": _parse_fraction,
        "fund_rate": _parse_fraction,
        "rounding": _parse_rounding,
        "cashback": _parse_cashback,
    }
    for name in raw.periods:
        parsers[f"load_periods.{name}.calendar"] = _parse_calendar
        parsers[f"load_periods.{name}.day_rules"] = _parse_day_rules
    contracts: dict[str, ContractInfo] = {}
    for key, meta in raw.contracts.items():
        kind = meta.get("kind")
        defined_in = ", ".join(raw.where.get(f"contracts.{key}", []))
        if kind not in KINDS:
            raise TariffError(
                f"{defined_in}: contract {key!r}: kind must be one of {', '.join(KINDS)}, "
                f"got {kind!r}"
            )
        periods = meta.get("load_periods")
        if kind != "residential" and periods not in raw.periods:
            raise TariffError(
                f"{defined_in}: contract {key!r}: load_periods must name a "
                f"[load_periods.<name>] table (known: {', '.join(sorted(raw.periods)) or 'none'}), "
                f"got {periods!r}"
            )
        energy_parser = {
            "residential": _parse_block_list,
            "seasonal": _parse_seasonal_rates,
            "tou": _parse_tou_rates,
        }[kind]
        parsers[f"{key}.energy_won_per_kwh"] = energy_parser
        if kind == "residential":
            parsers[f"{key}.tier_bounds_kwh"] = _parse_tier_bounds
            parsers[f"{key}.basic_won"] = _parse_block_list
            parsers[f"{key}.deduction"] = _parse_deduction
        else:
            parsers[f"{key}.basic_won_per_kw"] = _parse_decimal
    for key, by_date in raw.entries.items():
        parser = parsers.get(key)
        if parser is None:
            files_ = sorted({f for _, f in by_date.values()})
            raise TariffError(
                f"{', '.join(files_)}: unknown series {key!r} (a contract's series need its "
                "[contracts.<key>] table with a kind; see bitgoeul/tariff/data/README.md)"
            )
        values = []
        for day in sorted(by_date):
            entry, file = by_date[day]
            values.append(_make_value(key, day, entry, file, parser))
        series[key] = values
    for key, meta in raw.contracts.items():
        kind = meta["kind"]
        needed = [f"{key}.{s}" for s in _CONTRACT_SERIES[kind]]
        needed += ["climate_won_per_kwh", "fuel_won_per_kwh", "vat_rate", "fund_rate", "rounding"]
        if kind != "residential":
            needed += [f"load_periods.{meta['load_periods']}.{s}" for s in _PERIOD_SERIES]
        absent = [s for s in needed if s not in series]
        if absent:
            raise TariffError(f"contract {key!r} has no data for {', '.join(absent)}")
        data_from = max(series[s][0].effective_from for s in needed)
        contracts[key] = ContractInfo(
            key=key,
            kind=kind,
            name=str(meta.get("name", key)),
            load_periods=meta.get("load_periods") if kind != "residential" else None,
            data_from=data_from,
            series=tuple(needed),
        )
    return TariffBook(series, contracts, timezones, [str(p) for p in files])


def _read_file(path: Path, raw: _Raw) -> None:
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise TariffError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise TariffError(f"{path}: cannot be read: {exc}") from exc
    where = str(path)
    for top, content in doc.items():
        if top == "schema":
            if content != 1:
                raise TariffError(f"{where}: schema {content!r} is not supported (use 1)")
        elif top in _GLOBAL_SERIES:
            _add_entries(raw, top, content, where)
        elif top == "contracts":
            _read_group(raw, content, where, "contracts", _CONTRACT_META, raw.contracts)
        elif top == "load_periods":
            _read_group(raw, content, where, "load_periods", _PERIOD_META, raw.periods)
        else:
            raise TariffError(
                f"{where}: unknown top-level key {top!r} (expected schema, contracts, "
                f"load_periods or one of {', '.join(_GLOBAL_SERIES)})"
            )


def _read_group(
    raw: _Raw,
    content: Any,
    where: str,
    group: str,
    meta_keys: frozenset[str],
    metas: dict[str, dict[str, Any]],
) -> None:
    if not isinstance(content, dict):
        raise TariffError(f"{where}: [{group}] must be a table of tables")
    for name, table in content.items():
        if not _NAME.match(name):
            raise TariffError(f"{where}: {group} key {name!r} must be lowercase a-z, 0-9 and '-'")
        if not isinstance(table, dict):
            raise TariffError(f"{where}: {group}.{name} must be a table")
        meta = metas.setdefault(name, {})
        raw.where.setdefault(f"{group}.{name}", []).append(where)
        for k, v in table.items():
            if isinstance(v, list):
                prefix = f"load_periods.{name}" if group == "load_periods" else name
                _add_entries(raw, f"{prefix}.{k}", v, where)
            elif k in meta_keys:
                meta[k] = v
            else:
                raise TariffError(
                    f"{where}: {group}.{name}.{k}: unknown field (expected "
                    f"{', '.join(sorted(meta_keys))}, or an array of dated entries)"
                )


def _add_entries(raw: _Raw, key: str, content: Any, where: str) -> None:
    if not isinstance(content, list) or not all(isinstance(e, dict) for e in content):
        raise TariffError(f"{where}: {key} must be an array of tables ([[{key}]] entries)")
    by_date = raw.entries.setdefault(key, {})
    seen: set[dt.date] = set()
    for entry in content:
        day = entry.get("effective_from")
        if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
            raise TariffError(
                f"{where}: {key}: every entry needs effective_from = YYYY-MM-DD (a TOML date), "
                f"got {day!r}"
            )
        if day in seen:
            raise TariffError(f"{where}: {key} has two entries effective from {day.isoformat()}")
        seen.add(day)
        by_date[day] = (entry, where)


def _make_value(
    key: str, day: dt.date, entry: dict[str, Any], file: str, parser: Callable[[Any, str], Any]
) -> TariffValue:
    where = f"{file}: {key} from {day.isoformat()}"
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise TariffError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    status = entry.get("status")
    if status not in STATUSES:
        raise TariffError(f"{where}: status must be one of {', '.join(STATUSES)}, got {status!r}")
    source = entry.get("source")
    if not isinstance(source, str) or not source.strip():
        raise TariffError(f"{where}: source must be a non-empty string (a URL or reference)")
    note = entry.get("note", "")
    if not isinstance(note, str):
        raise TariffError(f"{where}: note must be a string")
    missing = entry.get("missing", False)
    if not isinstance(missing, bool):
        raise TariffError(f"{where}: missing must be true or false")
    if missing:
        if "value" in entry:
            raise TariffError(f"{where}: an entry with missing = true must not have a value")
        value = None
    else:
        if "value" not in entry:
            raise TariffError(f"{where}: value is required (or write missing = true)")
        value = parser(entry["value"], where)
    return TariffValue(key, day, value, status, source, note, missing, file)


# -- value parsers -------------------------------------------------------------------------
def _parse_decimal(raw: Any, where: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal):
        raise TariffError(f"{where}: expected a number, got {raw!r}")
    value = Decimal(raw)
    if not value.is_finite():
        raise TariffError(f"{where}: expected a finite number, got {raw!r}")
    return value


def _parse_nonnegative(raw: Any, where: str) -> Decimal:
    value = _parse_decimal(raw, where)
    if value < 0:
        raise TariffError(f"{where}: expected a number >= 0, got {raw!r}")
    return value


def _parse_fraction(raw: Any, where: str) -> Decimal:
    value = _parse_decimal(raw, where)
    if not 0 <= value < 1:
        raise TariffError(f"{where}: expected a fraction 0 <= x < 1 (e.g. 0.037), got {raw!r}")
    return value


def _parse_block_list(raw: Any, where: str) -> tuple[Decimal, ...]:
    if not isinstance(raw, list) or not raw:
        raise TariffError(f"{where}: expected a list of numbers, one per block")
    return tuple(_parse_nonnegative(v, where) for v in raw)


def _parse_tier_bounds(raw: Any, where: str) -> tuple[tuple[Decimal, ...], ...]:
    if not isinstance(raw, list) or len(raw) != 12:
        raise TariffError(f"{where}: expected 12 lists of block bounds, January first")
    out = []
    for month, bounds in enumerate(raw, start=1):
        if not isinstance(bounds, list):
            raise TariffError(f"{where}: month {month}: expected a list of bounds [kWh]")
        parsed = tuple(_parse_nonnegative(b, where) for b in bounds)
        if any(b <= a for a, b in itertools.pairwise(parsed)) or (parsed and parsed[0] <= 0):
            raise TariffError(f"{where}: month {month}: bounds must be positive and increasing")
        out.append(parsed)
    return tuple(out)


def _table(raw: Any, where: str, keys: Iterable[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise TariffError(f"{where}: expected a table")
    keys = tuple(keys)
    absent = [k for k in keys if k not in raw]
    extra = [k for k in raw if k not in keys]
    if absent or extra:
        raise TariffError(
            f"{where}: expected the fields {', '.join(keys)}"
            + (f"; missing {', '.join(absent)}" if absent else "")
            + (f"; unknown {', '.join(extra)}" if extra else "")
        )
    return raw


def _parse_rule(raw: Any, where: str) -> RoundingRule:
    match = _RULE.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise TariffError(
            f"{where}: rounding rule must look like 'down_won', 'down_10_won' or 'half_up_won', "
            f"got {raw!r}"
        )
    mode: Literal["down", "half_up"] = "down" if match.group(1) == "down" else "half_up"
    unit = int(match.group(2) or 1)
    if unit < 1:
        raise TariffError(f"{where}: rounding unit must be at least 1 won")
    return RoundingRule(mode, unit)


def _parse_rounding(raw: Any, where: str) -> Rounding:
    names = ("basic", "energy", "climate", "fuel", "deduction", "vat", "fund", "total")
    table = _table(raw, where, names)
    return Rounding(*(_parse_rule(table[n], f"{where}: {n}") for n in names))


def _parse_deduction(raw: Any, where: str) -> Deduction:
    table = _table(raw, where, ("limit_won", "max_kwh", "offset_won"))
    return Deduction(
        _parse_nonnegative(table["limit_won"], where),
        _parse_nonnegative(table["max_kwh"], where),
        _parse_nonnegative(table["offset_won"], where),
    )


def _parse_int(raw: Any, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise TariffError(f"{where}: expected a whole number >= 0, got {raw!r}")
    return raw


def _parse_cashback(raw: Any, where: str) -> CashbackRule:
    table = _table(
        raw,
        where,
        (
            "basic_won_per_kwh",
            "min_reduction_pct",
            "brackets",
            "max_won_per_kwh",
            "min_history_years",
            "max_history_years",
        ),
    )
    brackets_raw = table["brackets"]
    if not isinstance(brackets_raw, list) or not all(
        isinstance(b, list) and len(b) == 2 for b in brackets_raw
    ):
        raise TariffError(f"{where}: brackets must be a list of [lower %, extra won/kWh] pairs")
    brackets = tuple(
        (_parse_nonnegative(b[0], where), _parse_nonnegative(b[1], where)) for b in brackets_raw
    )
    if [b[0] for b in brackets] != sorted(b[0] for b in brackets):
        raise TariffError(f"{where}: brackets must be in ascending order of their lower bound")
    lo = _parse_int(table["min_history_years"], where)
    hi = _parse_int(table["max_history_years"], where)
    if not 1 <= lo <= hi:
        raise TariffError(f"{where}: need 1 <= min_history_years <= max_history_years")
    return CashbackRule(
        _parse_nonnegative(table["basic_won_per_kwh"], where),
        _parse_nonnegative(table["min_reduction_pct"], where),
        brackets,
        _parse_nonnegative(table["max_won_per_kwh"], where),
        lo,
        hi,
    )


def _parse_seasonal_rates(raw: Any, where: str) -> Mapping[str, Decimal]:
    table = _table(raw, where, SEASONS)
    return MappingProxyType({s: _parse_nonnegative(table[s], where) for s in SEASONS})


def _parse_tou_rates(raw: Any, where: str) -> Mapping[str, tuple[Decimal, Decimal, Decimal]]:
    table = _table(raw, where, SEASONS)
    out: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
    for s in SEASONS:
        rates = table[s]
        if not isinstance(rates, list) or len(rates) != 3:
            raise TariffError(f"{where}: {s} must be [light, mid, peak] rates [won/kWh]")
        light, mid, peak = (_parse_nonnegative(r, where) for r in rates)
        out[s] = (light, mid, peak)
    return MappingProxyType(out)


def _parse_calendar(raw: Any, where: str) -> Calendar:
    table = _table(raw, where, ("seasons", "hours"))
    seasons = _table(table["seasons"], f"{where}: seasons", SEASONS)
    by_month: dict[int, str] = {}
    for s in SEASONS:
        months = seasons[s]
        if not isinstance(months, list):
            raise TariffError(f"{where}: seasons.{s} must be a list of months 1-12")
        for m in months:
            if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 12 or m in by_month:
                raise TariffError(f"{where}: seasons: month {m!r} is invalid or listed twice")
            by_month[m] = s
    if len(by_month) != 12:
        raise TariffError(f"{where}: seasons must cover the 12 months exactly once")
    hours_raw = _table(table["hours"], f"{where}: hours", SEASONS)
    hours: dict[str, tuple[int, ...]] = {}
    for s in SEASONS:
        text = hours_raw[s]
        if not isinstance(text, str) or len(text) != 24 or set(text) - set(_PERIOD_CODE):
            raise TariffError(
                f"{where}: hours.{s} must be 24 letters L/M/P (light/mid/peak), hour 0 first"
            )
        hours[s] = tuple(_PERIOD_CODE[c] for c in text)
    return Calendar(tuple(by_month[m] for m in range(1, 13)), MappingProxyType(hours))


def _parse_period_name(raw: Any, where: str) -> int | None:
    if raw == "unchanged":
        return None
    if raw not in LOAD_PERIODS:
        raise TariffError(
            f"{where}: expected one of {', '.join(LOAD_PERIODS)} or 'unchanged', got {raw!r}"
        )
    return LOAD_PERIODS.index(raw)


def _parse_day_rules(raw: Any, where: str) -> DayRules:
    table = _table(raw, where, ("saturday_peak_as", "sunday", "holidays", "holiday_calendar"))
    calendar = table["holiday_calendar"]
    if not isinstance(calendar, str) or not calendar:
        raise TariffError(f"{where}: holiday_calendar must be a country code such as 'KR'")
    return DayRules(
        _parse_period_name(table["saturday_peak_as"], where),
        _parse_period_name(table["sunday"], where),
        _parse_period_name(table["holidays"], where),
        calendar,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return {k: _jsonable(getattr(value, k)) for k in value.__dataclass_fields__}
    return value
