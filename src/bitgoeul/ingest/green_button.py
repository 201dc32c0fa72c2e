"""Read Green Button (NAESB REQ.21 ESPI) Atom XML exports into long-format readings.

A Green Button file is an Atom feed whose entries each carry one ESPI resource
in their ``<content>``:

``UsagePoint``
    A service delivery point (``ServiceCategory/kind`` 0 = electricity, 1 = gas).
``MeterReading``
    One series of readings of a usage point; it becomes one Bitgoeul meter.
``ReadingType``
    How to read the series: ``uom`` (72 = Wh, 169 = therm), ``powerOfTenMultiplier``,
    ``intervalLength`` [s], ``flowDirection`` (1 = delivered to the customer,
    19 = received from the customer), ``commodity``, ``accumulationBehaviour``.
``IntervalBlock``
    ``IntervalReading`` elements, each a ``timePeriod`` (``start`` [s since the
    Unix epoch, UTC], ``duration`` [s]) and an integer ``value``.
``LocalTimeParameters``
    The customer's standard-time offset ``tzOffset`` [s] and DST shift
    ``dstOffset`` [s]; ESPI gives no IANA zone name.

Entries are tied together by their Atom links, not by nesting: a MeterReading's
``up`` link is its usage point's ``.../MeterReading`` collection, its ``related``
links name its ReadingType and its ``.../IntervalBlock`` collection, and each
IntervalBlock entry's ``up`` link is that collection. Links are compared after
resolving ``xml:base``; where a link is missing the single candidate of the
right kind is used, and an ambiguous file is refused rather than guessed at.

The XML is read with :mod:`defusedxml`'s SAX parser with DTDs, entity
declarations and external references all refused, so an entity-expansion bomb
or an external-entity reference fails fast with :class:`~bitgoeul.errors.IngestError`
instead of being expanded.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urljoin, urlsplit
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler, feature_namespaces
from xml.sax.xmlreader import AttributesNSImpl, Locator

import pyarrow as pa
from defusedxml import DefusedXmlException
from defusedxml.expatreader import DefusedExpatParser

from bitgoeul.errors import IngestError
from bitgoeul.ingest.source import MAX_READING, RAW_SCHEMA, MeterHint, ParsedSource
from bitgoeul.model import Measurement, MeterKind, check_identifier

__all__ = ["KWH_PER_THERM", "read_green_button"]

KWH_PER_THERM: Final = 29.3071
"""Energy of one US therm [kWh].

1 therm = 100,000 Btu (US EIA, "Units and calculators explained: British thermal
units"); 1 Btu = 1055.06 J (International Table Btu, 1055.05585 J, NIST SP 811
Appendix B); 100,000 x 1055.05585 J / 3.6e6 J/kWh = 29.3071 kWh, the figure EIA
publishes.
"""

_UOM_WH: Final = 72
_UOM_THERM: Final = 169
_FLOW_KIND: Final = {1: MeterKind.GRID_IMPORT, 19: MeterKind.GRID_EXPORT}
# ESPI AccumulationKind: 4 = deltaData (energy per interval); 0 = none. The
# cumulative kinds (1 bulkQuantity, 2 continuousCumulative, 3 cumulative) and
# the instantaneous ones are register or power readings, not interval energy.
_INTERVAL_ACCUMULATIONS: Final = frozenset({0, 4})
# ESPI CommodityKind: 1/2 = electricity (secondary/primary metered), 7 = natural gas.
_COMMODITY: Final = {1: "electricity", 2: "electricity", 7: "gas"}
# ESPI ServiceKind in UsagePoint/ServiceCategory/kind.
_SERVICE: Final = {0: "electricity", 1: "gas"}
_RESOURCES: Final = frozenset(
    {"UsagePoint", "MeterReading", "ReadingType", "IntervalBlock", "LocalTimeParameters"}
)
_XML_NS: Final = "http://www.w3.org/XML/1998/namespace"
_INT: Final = re.compile(r"[+-]?[0-9]+")
_DECIMAL: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SEGMENT_BAD: Final = re.compile(r"[^A-Za-z0-9가-힣_\-]")
_PREFIX_BAD: Final = re.compile(r"[^A-Za-z0-9가-힣_.:@\-]")
_PREFIX_LEAD: Final = re.compile(r"^[^A-Za-z0-9가-힣]+")
_MAX_SEGMENT: Final = 40
_MAX_ID: Final = 128
_MAX_EPOCH_S: Final = 253_402_300_799  # 9999-12-31T23:59:59Z


@dataclass(slots=True)
class _Reading:
    start_s: int
    duration_s: int | None
    value: int | float
    line: int
    value_line: int


@dataclass(slots=True)
class _PendingReading:
    """An IntervalReading whose children are still being read."""

    line: int
    has_time_period: bool = False
    start: tuple[str, int] | None = None
    duration: tuple[str, int] | None = None
    value: tuple[str, int] | None = None

    def finish(self, source: str) -> _Reading:
        if not self.has_time_period:
            raise IngestError(
                "IntervalReading has no timePeriod, so its interval is unknown",
                source=source,
                line=self.line,
                field="timePeriod",
            )
        if self.start is None:
            raise IngestError(
                "IntervalReading timePeriod has no start",
                source=source,
                line=self.line,
                field="start",
            )
        if self.value is None:
            raise IngestError(
                "IntervalReading has no value", source=source, line=self.line, field="value"
            )
        start_s = _parse_int(*self.start, "start", source)
        if not 0 <= start_s <= _MAX_EPOCH_S:
            raise IngestError(
                f"timePeriod start {start_s} is not a plausible time in seconds since 1970 UTC",
                source=source,
                line=self.start[1],
                field="start",
            )
        duration_s = None
        if self.duration is not None:
            duration_s = _parse_int(*self.duration, "duration", source)
            if duration_s <= 0:
                raise IngestError(
                    f"timePeriod duration must be a positive number of seconds, got {duration_s}",
                    source=source,
                    line=self.duration[1],
                    field="duration",
                )
        value = _parse_number(*self.value, source)
        return _Reading(start_s, duration_s, value, self.line, self.value[1])


@dataclass(slots=True)
class _Entry:
    """One Atom entry: its links, title and the ESPI resource it carries."""

    ordinal: int
    line: int
    self_href: str | None = None
    up_href: str | None = None
    related: list[str] = field(default_factory=list)
    title: str = ""
    kind: str | None = None
    fields: dict[str, tuple[str, int]] = field(default_factory=dict)
    readings: list[_Reading] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _ReadingType:
    uom: int
    multiplier: int
    interval_s: int | None
    flow_direction: int | None
    commodity: int | None


class _EspiHandler(ContentHandler):
    """SAX handler that collects entries and readings, recording source lines."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source
        self.entries: list[_Entry] = []
        self._locator: Locator | None = None
        self._stack: list[tuple[str, int]] = []
        self._bases: list[str] = []
        self._text: list[str] = []
        self._entry: _Entry | None = None
        self._reading: _PendingReading | None = None

    def setDocumentLocator(self, locator: Locator) -> None:  # noqa: N802 (SAX API)
        self._locator = locator

    def current_line(self) -> int | None:
        """Return the parser's current 1-based line, if known."""
        if self._locator is None:
            return None
        line = self._locator.getLineNumber()
        return line if isinstance(line, int) and line > 0 else None

    def characters(self, content: str) -> None:
        self._text.append(content)

    def startElementNS(  # noqa: N802 (SAX API)
        self, name: tuple[str | None, str], qname: str | None, attrs: AttributesNSImpl
    ) -> None:
        local = name[1]
        line = self.current_line() or 0
        parent = self._stack[-1][0] if self._stack else None
        base = self._bases[-1] if self._bases else ""
        own_base = attrs.get((_XML_NS, "base"))
        self._bases.append(urljoin(base, own_base.strip()) if own_base else base)
        self._stack.append((local, line))
        self._text = []
        if parent is None and local not in ("feed", "entry"):
            raise IngestError(
                f"root element <{local}> is not an Atom feed or entry: "
                "this is not a Green Button (ESPI) export",
                source=self.source,
                line=line,
                field=local,
            )
        if local == "entry" and parent in (None, "feed"):
            self._entry = _Entry(ordinal=len(self.entries) + 1, line=line)
            self.entries.append(self._entry)
            return
        entry = self._entry
        if entry is None:
            return
        if parent == "entry" and local == "link":
            self._add_link(entry, attrs)
        elif parent == "content" and local in _RESOURCES and entry.kind is None:
            entry.kind = local
        elif local == "IntervalReading" and parent == "IntervalBlock":
            self._reading = _PendingReading(line=line)
        elif local == "timePeriod" and parent == "IntervalReading" and self._reading:
            self._reading.has_time_period = True

    def endElementNS(self, name: tuple[str | None, str], qname: str | None) -> None:  # noqa: N802
        local, line = self._stack.pop()
        self._bases.pop()
        parent = self._stack[-1][0] if self._stack else None
        text = "".join(self._text).strip()
        self._text = []
        entry = self._entry
        if entry is None:
            return
        if local == "entry" and parent in (None, "feed"):
            self._entry = None
        elif parent == "entry" and local == "title":
            entry.title = " ".join(text.split())
        elif parent in ("ReadingType", "LocalTimeParameters"):
            entry.fields[local] = (text, line)
        elif parent == "ServiceCategory" and local == "kind":
            entry.fields["ServiceCategory.kind"] = (text, line)
        elif self._reading is not None:
            self._end_reading_part(entry, local, parent, text, line)

    def _end_reading_part(
        self, entry: _Entry, local: str, parent: str | None, text: str, line: int
    ) -> None:
        reading = self._reading
        if reading is None:
            return
        if local == "IntervalReading":
            entry.readings.append(reading.finish(self.source))
            self._reading = None
        elif parent == "IntervalReading" and local == "value":
            reading.value = (text, line)
        elif (
            parent == "timePeriod"
            and len(self._stack) >= 2
            and self._stack[-2][0] == "IntervalReading"
        ):
            if local == "start":
                reading.start = (text, line)
            elif local == "duration":
                reading.duration = (text, line)

    def _add_link(self, entry: _Entry, attrs: AttributesNSImpl) -> None:
        href = attrs.get((None, "href"))
        if not href or not href.strip():
            return
        key = _href_key(urljoin(self._bases[-1], href.strip()))
        rel = (attrs.get((None, "rel")) or "alternate").strip()
        if rel == "self" and entry.self_href is None:
            entry.self_href = key
        elif rel == "up" and entry.up_href is None:
            entry.up_href = key
        elif rel == "related":
            entry.related.append(key)


def read_green_button(
    path: str | os.PathLike[str], *, meter_id_prefix: str | None = None
) -> ParsedSource:
    """Read a Green Button (ESPI Atom XML) file into interval energy readings.

    Each ESPI ``MeterReading`` becomes one meter with id
    ``{prefix}.up{usage point id}.mr{meter reading id}``, the ids being the last
    segments of the resources' ``self`` links (their 1-based order in the file
    where a resource has none). Every ``IntervalReading`` becomes one row of
    :data:`~bitgoeul.ingest.source.RAW_SCHEMA` with ``ts`` its interval start
    (UTC) and ``value`` its energy [kWh]. Readings longer or shorter than the
    nominal interval (days with a DST change) are kept as they are.

    Parameters
    ----------
    path : str or os.PathLike
        The Green Button XML file.
    meter_id_prefix : str, optional
        First part of every meter id; default the file name without its
        extension, reduced to identifier characters.

    Returns
    -------
    ParsedSource
        ``raw`` with one row per IntervalReading in file order (``value`` [kWh],
        ``line`` the line of its ``<IntervalReading>`` tag) and one
        :class:`~bitgoeul.ingest.source.MeterHint` per meter with readings:
        measurement ``interval_energy``, unit ``'kWh'``, ``interval_s`` the
        ReadingType's ``intervalLength`` [s] (else the most common reading
        duration), kind ``grid_import`` for flowDirection 1 and ``grid_export``
        for 19, and ``timezone`` only when LocalTimeParameters pin an exact
        fixed offset (no DST); the offsets are also written into ``name``.

    Raises
    ------
    IngestError
        If the file cannot be read, is empty, truncated or not well-formed XML,
        declares a DTD or entities, holds a reading without a numeric value or
        a ``timePeriod``, a ReadingType whose ``uom`` is neither Wh (72) nor
        therm (169) or whose values accumulate, links that cannot be resolved,
        or no IntervalReading at all.
    ValueError
        If ``meter_id_prefix`` is not a valid identifier.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> feed = '''<feed xmlns="http://www.w3.org/2005/Atom">
    ... <entry><link rel="self" href="UsagePoint/7"/><title>Home</title>
    ...  <content><UsagePoint xmlns="http://naesb.org/espi"/></content></entry>
    ... <entry><link rel="self" href="UsagePoint/7/MeterReading/1"/>
    ...  <link rel="up" href="UsagePoint/7/MeterReading"/>
    ...  <link rel="related" href="ReadingType/1"/>
    ...  <content><MeterReading xmlns="http://naesb.org/espi"/></content></entry>
    ... <entry><link rel="self" href="ReadingType/1"/>
    ...  <content><ReadingType xmlns="http://naesb.org/espi">
    ...   <flowDirection>1</flowDirection><intervalLength>3600</intervalLength>
    ...   <powerOfTenMultiplier>0</powerOfTenMultiplier><uom>72</uom>
    ...  </ReadingType></content></entry>
    ... <entry><link rel="up" href="UsagePoint/7/MeterReading/1/IntervalBlock"/>
    ...  <content><IntervalBlock xmlns="http://naesb.org/espi">
    ...   <IntervalReading><timePeriod><duration>3600</duration>
    ...    <start>1704067200</start></timePeriod><value>1250</value></IntervalReading>
    ...  </IntervalBlock></content></entry>
    ... </feed>'''
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "home.xml"
    ...     _ = path.write_text(feed, encoding="utf-8")
    ...     parsed = read_green_button(path)
    >>> parsed.raw.column("meter_id").to_pylist(), parsed.raw.column("value").to_pylist()
    (['home.up7.mr1'], [1.25])
    >>> str(parsed.raw.column("ts")[0].as_py())
    '2024-01-01 00:00:00+00:00'
    >>> hint = parsed.meters["home.up7.mr1"]
    >>> hint.kind.value, hint.interval_s, hint.unit
    ('grid_import', 3600, 'kWh')
    """
    source = os.fspath(path)
    prefix = _meter_prefix(source, meter_id_prefix)
    entries = _parse_entries(source)
    return _assemble(source, prefix, entries, fit_prefix=meter_id_prefix is None)


def _parse_entries(source: str) -> list[_Entry]:
    """Parse the file with a defused SAX parser and return its Atom entries."""
    handler = _EspiHandler(source)
    parser = DefusedExpatParser(forbid_dtd=True, forbid_entities=True, forbid_external=True)
    parser.setFeature(feature_namespaces, True)
    parser.setContentHandler(handler)
    try:
        with open(source, "rb") as stream:
            if not stream.read(1):
                raise IngestError("the file is empty: expected Green Button XML", source=source)
            stream.seek(0)
            parser.parse(stream)
    except OSError as exc:
        raise IngestError(f"cannot read the file: {exc.strerror or exc}", source=source) from exc
    except SAXParseException as exc:
        raise IngestError(
            f"not well-formed XML (malformed or truncated file): {exc.getMessage()}",
            source=source,
            line=exc.getLineNumber(),
        ) from exc
    except DefusedXmlException as exc:
        raise IngestError(
            "refused a DTD, entity declaration or external reference "
            f"({type(exc).__name__}): Green Button files need none, and expanding one could "
            "exhaust memory (an XML bomb) or read local files",
            source=source,
            line=handler.current_line(),
        ) from exc
    return handler.entries


def _assemble(source: str, prefix: str, entries: list[_Entry], *, fit_prefix: bool) -> ParsedSource:
    """Link entries into meters and build the raw table and meter hints."""
    blocks = [e for e in entries if e.kind == "IntervalBlock" and e.readings]
    if not blocks:
        raise IngestError(
            "the feed holds no IntervalReading, so there is nothing to ingest "
            "(is this a Green Button usage export?)",
            source=source,
        )
    usage_points = [e for e in entries if e.kind == "UsagePoint"]
    meter_readings = [e for e in entries if e.kind == "MeterReading"]
    reading_types = [e for e in entries if e.kind == "ReadingType"]
    local_times = [e for e in entries if e.kind == "LocalTimeParameters"]

    # Group blocks by MeterReading, de-duplicating repeated MeterReading entries.
    canonical: dict[str, _Entry] = {}
    for mr in meter_readings:
        canonical.setdefault(mr.self_href or f"#{mr.ordinal}", mr)
    readings_of: dict[int, list[_Reading]] = {}
    block_owner: list[_Entry] = []
    mr_index = _LinkIndex.build("MeterReading", meter_readings, "IntervalBlock")
    for block in blocks:
        found = mr_index.parent_of(source, block, "IntervalBlock")
        if found is None:
            raise IngestError(
                "the feed has IntervalBlock entries but no MeterReading, so the readings' "
                "unit and meter are unknown",
                source=source,
                line=block.line,
                field="MeterReading",
            )
        mr = canonical[found.self_href or f"#{found.ordinal}"]
        block_owner.append(mr)
        readings_of.setdefault(mr.ordinal, []).extend(block.readings)

    mr_ordinal = {mr.ordinal: n for n, mr in enumerate(meter_readings, start=1)}
    up_ordinal = {up.ordinal: n for n, up in enumerate(usage_points, start=1)}
    parent_of: dict[int, _Entry | None] = {}
    ids: dict[int, str] = {}
    up_index = _LinkIndex.build("UsagePoint", usage_points, "MeterReading")
    for mr in meter_readings:
        if mr.ordinal not in readings_of:
            continue
        up = parent_of[mr.ordinal] = up_index.parent_of(source, mr, "MeterReading")
        mr_part = "mr" + _id_segment(mr.self_href, mr_ordinal[mr.ordinal])
        if up is None:
            ids[mr.ordinal] = f".{mr_part}"
        else:
            up_part = "up" + _id_segment(up.self_href, up_ordinal[up.ordinal])
            ids[mr.ordinal] = f".{up_part}.{mr_part}"
    counts = Counter(ids.values())
    for ordinal, suffix in ids.items():
        if counts[suffix] > 1:
            ids[ordinal] = f"{suffix}-{mr_ordinal[ordinal]}"
    longest = max(map(len, ids.values()), default=0)
    if fit_prefix and len(prefix) + longest > _MAX_ID:
        prefix = prefix[: _MAX_ID - longest].rstrip("._:@-") or "gb"
    ids = {ordinal: prefix + suffix for ordinal, suffix in ids.items()}

    meters: dict[str, MeterHint] = {}
    scale_of: dict[int, tuple[int, float]] = {}
    for mr in meter_readings:
        if mr.ordinal not in ids:
            continue
        meter_id = ids[mr.ordinal]
        try:
            check_identifier(meter_id, "meter id")
        except ValueError as exc:
            raise ValueError(f"{exc}; pass a shorter meter_id_prefix") from exc
        rt = _read_reading_type(source, _meter_reading_type(source, mr, reading_types))
        up = parent_of[mr.ordinal]
        ltp = _usage_point_local_time(up, local_times)
        meters[meter_id] = _meter_hint(meter_id, mr, rt, up, ltp, readings_of[mr.ordinal])
        exponent = rt.multiplier - 3 if rt.uom == _UOM_WH else rt.multiplier
        scale_of[mr.ordinal] = (exponent, 1.0 if rt.uom == _UOM_WH else KWH_PER_THERM)

    meter_col: list[str] = []
    ts_col: list[int] = []
    value_col: list[float] = []
    line_col: list[int] = []
    for block, mr in zip(blocks, block_owner, strict=True):
        meter_id = ids[mr.ordinal]
        exponent, factor = scale_of[mr.ordinal]
        for reading in block.readings:
            meter_col.append(meter_id)
            ts_col.append(reading.start_s * 1_000_000)
            value_col.append(_energy_kwh(reading, exponent, factor, source))
            line_col.append(reading.line)
    raw = pa.Table.from_arrays(
        [
            pa.array(meter_col, type=pa.string()),
            pa.array(ts_col, type=pa.timestamp("us", tz="UTC")),
            pa.array(value_col, type=pa.float64()),
            pa.array(line_col, type=pa.int64()),
        ],
        schema=RAW_SCHEMA,
    )
    return ParsedSource(source=source, raw=raw, meters=meters)


@dataclass(frozen=True, slots=True)
class _LinkIndex:
    """Parent entries by their 'self' link and by the collection links children point 'up' to."""

    kind: str
    parents: list[_Entry]
    by_self: dict[str, _Entry]
    by_collection: dict[str, _Entry]

    @classmethod
    def build(cls, kind: str, parents: list[_Entry], collection: str) -> _LinkIndex:
        by_self: dict[str, _Entry] = {}
        by_collection: dict[str, _Entry] = {}
        for parent in parents:
            if parent.self_href is not None:
                by_self.setdefault(parent.self_href, parent)
                by_collection.setdefault(f"{parent.self_href}/{collection}", parent)
            for href in parent.related:
                by_collection.setdefault(href, parent)
        return cls(kind, parents, by_self, by_collection)

    def parent_of(self, source: str, child: _Entry, child_kind: str) -> _Entry | None:
        """Return the child's parent; the only parent if unlinked; None if there is none."""
        candidates: list[tuple[str | None, dict[str, _Entry]]] = [
            (child.up_href, self.by_collection),
            (_parent(child.self_href), self.by_collection),
            (_parent(child.up_href), self.by_self),
            (_parent(_parent(child.self_href)), self.by_self),
        ]
        for key, table in candidates:
            if key and key in table:
                return table[key]
        if len(self.parents) <= 1:
            return self.parents[0] if self.parents else None
        raise IngestError(
            f"{child_kind} entry {child.self_href or child.up_href or child.title!r} links to "
            f"none of the {len(self.parents)} {self.kind} entries",
            source=source,
            line=child.line,
            field="link",
        )


def _meter_reading_type(source: str, mr: _Entry, reading_types: list[_Entry]) -> _Entry:
    """Return the ReadingType entry a MeterReading's 'related' link names."""
    by_self = {rt.self_href: rt for rt in reversed(reading_types) if rt.self_href}
    for href in mr.related:
        if href in by_self:
            return by_self[href]
    if len(reading_types) == 1:
        return reading_types[0]
    raise IngestError(
        f"MeterReading entry {mr.self_href or mr.title!r} links to none of the "
        f"{len(reading_types)} ReadingType entries, so its unit is unknown",
        source=source,
        line=mr.line,
        field="ReadingType",
    )


def _usage_point_local_time(up: _Entry | None, local_times: list[_Entry]) -> _Entry | None:
    """Return the LocalTimeParameters a UsagePoint names (or the file's only one)."""
    if up is not None:
        by_self = {ltp.self_href: ltp for ltp in reversed(local_times) if ltp.self_href}
        for href in up.related:
            if href in by_self:
                return by_self[href]
    return local_times[0] if len(local_times) == 1 else None


def _read_reading_type(source: str, entry: _Entry) -> _ReadingType:
    """Validate a ReadingType entry's fields and return the ones ingestion uses."""
    name = entry.title or entry.self_href or f"entry {entry.ordinal}"

    def integer(key: str) -> int | None:
        item = entry.fields.get(key)
        if item is None or not item[0]:
            return None
        return _parse_int(item[0], item[1], key, source)

    uom = integer("uom")
    if uom not in (_UOM_WH, _UOM_THERM):
        raise IngestError(
            f"ReadingType {name!r} has uom {uom}; only Wh (72) and therm (169) "
            "energy readings can be ingested",
            source=source,
            line=entry.fields["uom"][1] if "uom" in entry.fields else entry.line,
            field="uom",
        )
    accumulation = integer("accumulationBehaviour")
    if accumulation is not None and accumulation not in _INTERVAL_ACCUMULATIONS:
        raise IngestError(
            f"ReadingType {name!r} has accumulationBehaviour {accumulation}; only "
            "deltaData (4), energy per interval, can be ingested",
            source=source,
            line=entry.fields["accumulationBehaviour"][1],
            field="accumulationBehaviour",
        )
    interval_s = integer("intervalLength")
    return _ReadingType(
        uom=uom,
        multiplier=integer("powerOfTenMultiplier") or 0,
        interval_s=interval_s if interval_s is not None and interval_s > 0 else None,
        flow_direction=integer("flowDirection"),
        commodity=integer("commodity"),
    )


def _meter_hint(
    meter_id: str,
    mr: _Entry,
    rt: _ReadingType,
    up: _Entry | None,
    ltp: _Entry | None,
    readings: list[_Reading],
) -> MeterHint:
    """Describe one meter from its ReadingType, UsagePoint and local-time entries."""
    interval_s = rt.interval_s
    if interval_s is None:
        durations = Counter(r.duration_s for r in readings if r.duration_s is not None)
        if durations:
            interval_s = min(durations, key=lambda d: (-durations[d], d))
    commodity = _COMMODITY.get(rt.commodity) if rt.commodity is not None else None
    if commodity is None and up is not None and "ServiceCategory.kind" in up.fields:
        text = up.fields["ServiceCategory.kind"][0]
        commodity = _SERVICE.get(int(text)) if _INT.fullmatch(text) else None
    if commodity is None:
        commodity = "gas" if rt.uom == _UOM_THERM else "electricity"
    titles = [t for t in ((up.title if up else ""), mr.title) if t]
    name = " / ".join(titles)
    timezone = None
    offsets = _local_offsets(ltp)
    if offsets is not None:
        tz_s, dst_s = offsets
        dst_note = f"DST {_format_offset(dst_s)}" if dst_s else "no DST"
        note = f"standard time UTC{_format_offset(tz_s)}, {dst_note}"
        name = f"{name} ({note})" if name else note
        timezone = _fixed_zone(tz_s) if dst_s == 0 else None
    return MeterHint(
        meter_id=meter_id,
        measurement=Measurement.INTERVAL_ENERGY,
        unit="kWh",
        interval_s=interval_s,
        timezone=timezone,
        kind=_FLOW_KIND.get(rt.flow_direction) if rt.flow_direction is not None else None,
        commodity=commodity,
        name=name,
    )


def _local_offsets(ltp: _Entry | None) -> tuple[int, int] | None:
    """Return (tzOffset, dstOffset) [s] of LocalTimeParameters, if both are integers."""
    if ltp is None:
        return None
    tz_text = ltp.fields.get("tzOffset", ("", 0))[0]
    dst_text = ltp.fields.get("dstOffset", ("0", 0))[0] or "0"
    if not (_INT.fullmatch(tz_text) and _INT.fullmatch(dst_text)):
        return None
    return int(tz_text), int(dst_text)


def _fixed_zone(offset_s: int) -> str | None:
    """Return the IANA name of a whole-hour fixed UTC offset, else None."""
    if offset_s == 0:
        return "UTC"
    hours, rest = divmod(abs(offset_s), 3600)
    if rest or hours > (14 if offset_s > 0 else 12):
        return None
    # POSIX-style Etc/GMT zones have the sign inverted: Etc/GMT+5 is UTC-05:00.
    return f"Etc/GMT{'-' if offset_s > 0 else '+'}{hours}"


def _format_offset(offset_s: int) -> str:
    sign = "-" if offset_s < 0 else "+"
    hours, rest = divmod(abs(offset_s), 3600)
    return f"{sign}{hours:02d}:{rest // 60:02d}"


def _energy_kwh(reading: _Reading, exponent: int, factor: float, source: str) -> float:
    """Return a reading's energy [kWh]; refuse one beyond :data:`MAX_READING`."""
    try:
        kwh = _scale(reading.value, exponent) * factor
    except OverflowError:  # an integer too large for a float
        kwh = math.inf
    if abs(kwh) > MAX_READING:
        raise IngestError(
            f"IntervalReading value {_abridged(reading.value)}, scaled by its ReadingType, is "
            f"{'more than a float holds' if math.isinf(kwh) else f'{kwh:g} kWh'}: beyond the "
            f"largest reading accepted ({MAX_READING:g} kWh); check the value and the "
            "ReadingType's powerOfTenMultiplier",
            source=source,
            line=reading.value_line,
            field="value",
        )
    return kwh


def _abridged(value: int | float) -> str:
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text)} characters)"


def _scale(value: int | float, exponent: int) -> float:
    """Return ``value * 10**exponent``, exact up to one rounding for integers."""
    if exponent >= 0:
        multiplier: int = 10**exponent
        return float(value * multiplier)
    divisor: int = 10**-exponent
    return value / divisor


def _parse_int(text: str, line: int, element: str, source: str) -> int:
    if not _INT.fullmatch(text):
        raise IngestError(
            f"<{element}> must be an integer, got {text!r}",
            source=source,
            line=line,
            field=element,
        )
    return int(text)


def _parse_number(text: str, line: int, source: str) -> int | float:
    if _INT.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text):
        number = float(text)
        if math.isfinite(number):
            return number
    raise IngestError(
        f"IntervalReading value must be a number, got {text!r}",
        source=source,
        line=line,
        field="value",
    )


def _href_key(url: str) -> str:
    """Reduce a resolved link to the path that identifies the resource."""
    path = urlsplit(url).path
    return re.sub("/{2,}", "/", path).strip("/")


def _parent(key: str | None) -> str | None:
    if not key or "/" not in key:
        return None
    return key.rsplit("/", 1)[0]


def _id_segment(href: str | None, ordinal: int) -> str:
    """Return the id part taken from a self link's last segment (or the ordinal)."""
    if not href:
        return str(ordinal)
    last = href.rsplit("/", 1)[-1]
    segment = _SEGMENT_BAD.sub("_", last)
    if not segment:
        return str(ordinal)
    if len(segment) > _MAX_SEGMENT:
        digest = hashlib.sha256(last.encode("utf-8")).hexdigest()[:8]
        segment = f"{segment[: _MAX_SEGMENT - 9]}-{digest}"
    return segment


def _meter_prefix(source: str, prefix: str | None) -> str:
    """Return the validated user prefix, or one derived from the file name."""
    if prefix is not None:
        try:
            return check_identifier(prefix, "meter_id_prefix")
        except ValueError as exc:
            raise ValueError(f"{exc}; for example meter_id_prefix='home'") from exc
    stem = _PREFIX_LEAD.sub("", _PREFIX_BAD.sub("_", Path(source).stem))
    return stem[:_MAX_ID].rstrip("._:@-") or "greenbutton"
