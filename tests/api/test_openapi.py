"""The OpenAPI document a studio generates its client from."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_openapi_has_clean_operation_ids_and_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operations = [
        (path, method, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]
    ids = [operation["operationId"] for _, _, operation in operations]
    assert len(ids) == len(set(ids))
    assert "takes-create_take" in ids and "projects-import_script" in ids
    assert all(op_id.count("-") >= 1 and " " not in op_id for op_id in ids)
    for path, method, operation in operations:
        if method == "post" and "requestBody" in operation:
            content = operation["requestBody"]["content"]
            body_schema = next(iter(content.values())).get("schema", {})
            refs = [body_schema.get("$ref", "")] + [
                s.get("$ref", "") for s in body_schema.get("anyOf", [])
            ]
            schemas = [
                spec["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}) for ref in refs if ref
            ]
            has_example = any("example" in c or "examples" in c for c in content.values()) or any(
                "examples" in schema for schema in schemas
            )
            assert has_example, f"POST {path} has no request example"
    assert client.get("/docs").status_code == 200
