"""Exceptions raised by Bitgoeul.

The whole tree::

    BitgoeulError                 root: catch this to catch everything Bitgoeul raises
    ├── IngestError               a source could not be read into readings (names file, line, field)
    │   └── ConflictError         a reading contradicts a stored one and corrections were refused
    ├── StoreError                the store cannot be opened, migrated or written
    │   └── SchemaVersionError    the store was written by a newer Bitgoeul
    ├── NotFoundError             an organisation, site or meter does not exist (or is not
    │                             the caller's: another tenant's data is never confirmed)
    ├── AccessError               an API caller may not do what it asked
    │   ├── AuthenticationError   no key, an unknown, revoked or expired key
    │   └── PermissionDeniedError the key lacks the scope (read, write, admin) for the request
    ├── TariffError               a tariff file is invalid, or the tariff data cannot bill a
    │                             request (unknown contract, dates outside the data, a value
    │                             the data mark as missing)
    └── ForecastError             a forecasting model cannot be used as asked
        ├── NotFittedError        predict (or save) was called before fit
        └── ModelFormatError      a saved model file is corrupt or incompatible (names what
                                  differs: format version, feature set, LightGBM version)

Non-fatal data problems are not exceptions: they come back as
:class:`bitgoeul.model.DataIssue` records.
"""

from __future__ import annotations

__all__ = [
    "AccessError",
    "AuthenticationError",
    "BitgoeulError",
    "ConflictError",
    "ForecastError",
    "IngestError",
    "ModelFormatError",
    "NotFittedError",
    "NotFoundError",
    "PermissionDeniedError",
    "SchemaVersionError",
    "StoreError",
    "TariffError",
]


class BitgoeulError(Exception):
    """Root of every exception Bitgoeul raises on purpose."""


class IngestError(BitgoeulError):
    """A source could not be turned into readings.

    Parameters
    ----------
    message : str
        What is wrong and how to fix it.
    source : str, optional
        The file (or other source) being read.
    line : int, optional
        1-based physical line number in ``source`` of the offending record.
    field : str, optional
        Column or element name of the offending value.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.source is not None:
            where.append(str(self.source))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class ConflictError(IngestError):
    """A reading differs from the stored value for the same meter and interval.

    Raised when the ingest policy is ``on_conflict="refuse"``; nothing of the
    batch is written.
    """


class StoreError(BitgoeulError):
    """The store cannot be opened, migrated or written."""


class SchemaVersionError(StoreError):
    """The store's schema is newer than this version of Bitgoeul understands."""


class NotFoundError(BitgoeulError):
    """An organisation, site or meter that was asked for does not exist."""


class AccessError(BitgoeulError):
    """An API caller may not do what it asked."""


class AuthenticationError(AccessError):
    """No API key was sent, or the key is unknown, revoked or expired."""


class PermissionDeniedError(AccessError):
    """The API key lacks the scope the request needs (read, write or admin)."""


class TariffError(BitgoeulError):
    """The tariff data cannot answer a billing request, or a tariff file is invalid.

    Raised for an unknown contract key, a period that starts before the data
    (or reaches a value the data mark as missing), a period the chosen
    function cannot bill (a demand-charged contract without interval data),
    and a tariff TOML file that does not follow the documented layout (the
    message names the file and the entry).
    """


class ForecastError(BitgoeulError):
    """A forecasting model cannot be used as asked."""


class NotFittedError(ForecastError):
    """A model was asked to predict (or be saved) before it was fitted: call ``fit`` first."""


class ModelFormatError(ForecastError):
    """A saved model file cannot be loaded: corrupt, or written by an incompatible version.

    The message names what differs (file format version, model class, feature
    set, LightGBM major version) or what is damaged.
    """
