"""Bitgoeul (빛고을): an open energy big-data platform."""

from __future__ import annotations

__version__ = "0.1.0"
