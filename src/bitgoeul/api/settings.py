"""Settings of the API service, passed to :func:`bitgoeul.api.create_app` (never read at import)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["Settings"]


class Settings(BaseModel):
    """How one API service runs.

    Parameters
    ----------
    store_path : str
        The DuckDB store file the service owns while it runs.
    operator_token : SecretStr, optional
        Lets its holder create organisations (``POST /v1/organisations``); without
        it, organisations are created with ``bitgoeul org create`` while the
        service is stopped.
    max_body_bytes : int
        Largest request body accepted; larger gets 413 [bytes].
    max_batch_readings : int
        Most readings in one ingest request [count].
    max_page : int
        Most items in one page of a list [count].
    public_url : str, optional
        Base URL printed in share links.
    read_connections : int
        Extra store connections for read-only requests (usage, bills, forecasts),
        which then run while ingest commits; 0 reads through the writer's
        connection [count].
    model_cache : int
        Fitted forecasting models kept in memory (one serves every meter of
        an organisation as of a day); least recently used dropped first [count].
    model_dir : str, optional
        Folder where fitted models are also written, so that a restarted or
        second server process loads them instead of fitting again (the folder
        ``bitgoeul forecast`` uses too); without it, models live in memory only.
    """

    model_config = ConfigDict(frozen=True)

    store_path: str
    operator_token: SecretStr | None = None
    max_body_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    max_batch_readings: int = Field(default=100_000, gt=0)
    max_page: int = Field(default=1000, gt=0)
    public_url: str | None = None
    read_connections: int = Field(default=2, ge=0, le=32)
    model_cache: int = Field(default=8, ge=1, le=256)
    model_dir: str | None = None

    @classmethod
    def from_env(cls, store_path: str | os.PathLike[str] | None = None) -> Settings:
        """Build settings from ``BITGOEUL_*`` environment variables, with overrides.

        ``BITGOEUL_STORE``, ``BITGOEUL_OPERATOR_TOKEN``, ``BITGOEUL_MAX_BODY_BYTES``,
        ``BITGOEUL_MAX_BATCH_READINGS``, ``BITGOEUL_MODEL_CACHE``, ``BITGOEUL_MODEL_DIR``,
        ``BITGOEUL_PUBLIC_URL``.
        """
        from bitgoeul.store.duckdb import default_store_path

        env = os.environ
        values: dict[str, object] = {
            "store_path": str(Path(store_path))
            if store_path
            else env.get("BITGOEUL_STORE") or default_store_path(),
        }
        if env.get("BITGOEUL_OPERATOR_TOKEN"):
            values["operator_token"] = env["BITGOEUL_OPERATOR_TOKEN"]
        for name, key in (
            ("max_body_bytes", "BITGOEUL_MAX_BODY_BYTES"),
            ("max_batch_readings", "BITGOEUL_MAX_BATCH_READINGS"),
            ("model_cache", "BITGOEUL_MODEL_CACHE"),
        ):
            if env.get(key):
                values[name] = int(env[key])
        if env.get("BITGOEUL_MODEL_DIR"):
            values["model_dir"] = env["BITGOEUL_MODEL_DIR"]
        if env.get("BITGOEUL_PUBLIC_URL"):
            values["public_url"] = env["BITGOEUL_PUBLIC_URL"]
        return cls.model_validate(values)
