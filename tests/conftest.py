from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bitgoeul.store import DuckDBStore, open_store

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real test data missing: {SHARED_DATA} (../shared/data beside the repo)")
    return SHARED_DATA


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store.duckdb"


@pytest.fixture
def store(store_path: Path) -> Iterator[DuckDBStore]:
    db = open_store(str(store_path))
    yield db
    db.close()


def digest_files(paths: list[Path]) -> dict[str, str | None]:
    """sha256 of each path (None when absent): to prove a store file is untouched."""
    out: dict[str, str | None] = {}
    for p in paths:
        out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None
    return out
