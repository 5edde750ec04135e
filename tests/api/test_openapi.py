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


def test_every_error_code_is_in_the_api_guide() -> None:
    """A studio's client branches on `code`; each one is documented in docs/API.md's table."""
    import re
    from pathlib import Path

    import api.app  # noqa: F401  (every router, so every error class is defined)
    from voicehub.errors import VoiceHubError

    def subclasses(cls: type[VoiceHubError]) -> set[type[VoiceHubError]]:
        found = set(cls.__subclasses__())
        return found.union(*(subclasses(sub) for sub in found))

    guide = (Path(__file__).parents[2] / "docs" / "API.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \| \d{3} \|", guide, flags=re.MULTILINE))
    codes = {cls.code for cls in subclasses(VoiceHubError)}
    assert codes - documented == set()
