"""Schemathesis against the live app's OpenAPI schema: no input makes the service fail (5xx).

The app runs under uvicorn on a loopback port in this process; every generated
request carries a valid admin key (and the operator token), so it reaches the
handlers instead of stopping at authentication.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
import uvicorn
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from tests.conftest import load_bench_api

from bitgoeul.api import Settings, create_app

from .conftest import OPERATOR, make_org


class LiveServer:
    """uvicorn serving the app on 127.0.0.1 in a thread."""

    def __init__(self, store: Path) -> None:
        self.app = create_app(Settings(store_path=str(store), operator_token=OPERATOR))
        self.port = load_bench_api().free_port()
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, str, dict[str, str]]]:
    store = tmp_path_factory.mktemp("schemathesis") / "s.duckdb"
    # Seed a tenant with data through the same app first (TestClient runs the lifespan).
    with TestClient(create_app(Settings(store_path=str(store), operator_token=OPERATOR))) as client:
        org = make_org(client, "alpha", days=35)
        spare = client.post("/v1/keys", json={"scopes": ["read"]}, headers=org.headers).json()
    real = {"meter_id": org.meters[0], "site_id": org.sites[0], "key_id": spare["key_id"]}
    with LiveServer(store) as server:
        yield server, org.token, real


# The schema is static: read it from an app that is never started.
SCHEMA = schemathesis.openapi.from_dict(create_app(Settings(store_path=":memory:")).openapi())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
# Each request body media type (JSON and CSV readings) and both valid and invalid inputs.
CASES = [
    pytest.param(op, media, mode, id=f"{op.label} {media or ''} {mode.value}".replace("  ", " "))
    for op in OPERATIONS
    for media in ([b.media_type for b in op.body] or [None])
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    # An operation without inputs has no invalid form.
    if mode is GenerationMode.POSITIVE or op.body or op.path_parameters or op.query or op.headers
]


@pytest.fixture(scope="module")
def session(live: tuple[LiveServer, str, dict[str, str]]) -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def test_every_operation_is_fuzzed(live: tuple[LiveServer, str, dict[str, str]]) -> None:
    server, _, _ = live
    served = server.app.openapi()["paths"]
    fuzzed = {(op.method.lower(), op.path) for op in OPERATIONS}
    assert fuzzed == {(m, p) for p, ops in served.items() for m in ops}


@pytest.mark.parametrize(("operation", "media", "mode"), CASES)
def test_no_generated_request_gets_a_server_error(
    operation: schemathesis.APIOperation,
    media: str | None,
    mode: GenerationMode,
    live: tuple[LiveServer, str, dict[str, str]],
    session: requests.Session,
) -> None:
    server, token, real = live
    credentials = {"Authorization": f"Bearer {token}", "X-Operator-Token": OPERATOR}

    @given(case=operation.as_strategy(mode, media_type=media), aim=st.booleans())
    @settings(
        max_examples=6 if operation.path.endswith("/forecast") else 20,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: schemathesis.Case, aim: bool) -> None:
        if aim:
            # Half the cases name the tenant's real meter, site and key, so the
            # generated queries and bodies reach the code behind the 404.
            for name in case.path_parameters or {}:
                if name in real:
                    case.path_parameters[name] = real[name]
            body = case.body
            if isinstance(body, dict) and isinstance(body.get("readings"), list):
                for reading in body["readings"]:
                    if isinstance(reading, dict) and "meter_id" in reading:
                        reading["meter_id"] = real["meter_id"]
            if isinstance(body, dict) and "site_id" in body:
                body["site_id"] = real["site_id"]
            if isinstance(body, str):
                case.body = body.replace("hq-main", real["meter_id"])
        # Generated headers stay, except the credentials that let requests in.
        headers = {**(case.headers or {}), **credentials}
        case.call_and_validate(
            base_url=server.url,
            session=session,
            headers=headers,
            checks=[not_a_server_error],
            timeout=120,  # a LightGBM forecast on a busy 2-core runner takes seconds
        )

    check()
