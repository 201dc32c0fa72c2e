from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bitgoeul.store import DuckDBStore, open_store

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real test data missing: {SHARED_DATA} (../shared/data beside the repo)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def model_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own folder of cached models: none is written to the user's cache."""
    folder = tmp_path_factory.mktemp("models")
    monkeypatch.setenv("BITGOEUL_MODEL_DIR", str(folder))
    return folder


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


BENCH_API = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_api.py"


def load_bench_api() -> Any:
    """The load-test module (benchmarks/ is not a package): its server runner is reused."""
    import importlib.util
    import sys

    if "bench_api" in sys.modules:
        return sys.modules["bench_api"]
    spec = importlib.util.spec_from_file_location("bench_api", BENCH_API)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_api"] = module
    spec.loader.exec_module(module)
    return module
