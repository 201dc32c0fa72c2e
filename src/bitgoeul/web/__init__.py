"""The web dashboard: one static page (HTML, JavaScript, CSS) in Korean and English.

The page is served by the API service itself (:mod:`bitgoeul.api.routes.dashboard`)
and draws its charts with plotly.js from the installed ``plotly`` package, so it
works offline. It reads everything through the JSON API with the API key the
user gives (``?key=`` in the address, kept in ``sessionStorage`` and removed
from the address bar), so it sees exactly what that key may see.

The interface's words live in ``static/i18n.json``, one object per language;
:func:`strings` returns one language's for adapters that label JSON.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Literal

__all__ = ["LANGUAGES", "Language", "static_file", "static_names", "strings"]

Language = Literal["ko", "en"]
LANGUAGES: tuple[Language, ...] = ("ko", "en")
"""Languages of the dashboard; Korean first."""


def _static() -> Traversable:
    return resources.files(__name__).joinpath("static")


@functools.cache
def static_names() -> frozenset[str]:
    """Return the names of the page's static files (``index.html``, ``app.js``, ...).

    Examples
    --------
    >>> sorted(static_names())
    ['app.js', 'i18n.json', 'index.html', 'style.css']
    """
    return frozenset(p.name for p in _static().iterdir() if p.is_file())


def static_file(name: str) -> bytes:
    """Return a static file's bytes; KeyError for a name not in :func:`static_names`."""
    if name not in static_names():
        raise KeyError(name)
    return _static().joinpath(name).read_bytes()


@functools.cache
def _all_strings() -> dict[str, dict[str, str]]:
    loaded: dict[str, dict[str, str]] = json.loads(static_file("i18n.json"))
    return loaded


def strings(lang: Language) -> dict[str, str]:
    """Return the interface's strings in one language, by key.

    Examples
    --------
    >>> strings("ko")["title"], strings("en")["title"]
    ('빛고을 에너지 대시보드', 'Bitgoeul energy dashboard')
    """
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {list(LANGUAGES)}, got {lang!r}")
    return dict(_all_strings()[lang])
