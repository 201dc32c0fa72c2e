"""Cursor pagination shared by every list route."""

from __future__ import annotations

import base64
from typing import Annotated, TypeVar

from fastapi import Query

from ..schemas import Page

__all__ = ["Cursor", "Limit", "decode_cursor", "encode_cursor", "page_of"]

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page (1-1000).")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
]


def encode_cursor(value: str) -> str:
    """Return an opaque cursor for a position."""
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """Return the position of a cursor; ValueError if it was not made by this API."""
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(
            "cursor is not one this API returned: pass next_cursor back as is"
        ) from exc


def page_of(items: list[T], *, limit: int, cursor: str | None) -> Page[T]:
    """Return one page of an in-memory list; the cursor is an offset."""
    raw = decode_cursor(cursor)
    if raw is not None and not raw.isdigit():
        raise ValueError("cursor is not one this API returned: pass next_cursor back as is")
    start = int(raw) if raw is not None else 0
    end = start + limit
    nxt = encode_cursor(str(end)) if end < len(items) else None
    return Page[T](items=items[start:end], next_cursor=nxt)
