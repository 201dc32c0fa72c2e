"""The OpenAPI document: complete, resolvable, with examples; /docs served offline."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_every_schema_reference_resolves(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    found = refs(doc)
    assert "#/components/schemas/ReadingBatch" in found
    missing = sorted({r for r in found if r.removeprefix("#/components/schemas/") not in schemas})
    assert not missing


def test_ingest_documents_json_and_csv_with_examples(client: TestClient) -> None:
    op = client.get("/openapi.json").json()["paths"]["/v1/readings"]["post"]
    content = op["requestBody"]["content"]
    assert set(content) == {"application/json", "text/csv"}
    assert content["application/json"]["example"]["readings"][0]["energy_kwh"] == 0.42
    assert content["text/csv"]["example"].startswith("meter_id,ts,energy_kwh\n")
    assert {"404", "409", "413", "422"} <= set(op["responses"])


def test_docs_are_served_without_a_cdn(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        r = client.get(page)
        assert r.status_code == 200, page
        external = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", r.text)
        assert not external, (page, external)
        for asset in re.findall(r"""(?:src|href)=["'](/[^"']+)""", r.text):
            assert client.get(asset).status_code == 200, asset
