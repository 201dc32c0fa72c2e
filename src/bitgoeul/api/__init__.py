"""The REST API and web dashboard (FastAPI): ``create_app(settings)``, ``bitgoeul serve``."""

from __future__ import annotations

from bitgoeul.api.app import create_app
from bitgoeul.api.settings import Settings

__all__ = ["Settings", "create_app"]
