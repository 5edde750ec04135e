"""Every operation in the OpenAPI document, called by one tenant with another tenant's ids.

Two studios (A and B), each with its own actor, hold real data made through
the API: a project with a cut, a line, a take, an actor's approval of the
project, an approved take (and so an event), a webhook endpoint, a synthesis
job, an export job, a voice build and, after the month is closed, an invoice
and statements. For every operation with path parameters, A calls it with B's
ids (studio endpoints with A's studio key, `/v1/actor/…` with A's actor key)
and must be refused (404 or 403) without B's ids, names or text in the answer.
Listings called by A never show B's objects.

`ID_PARAMETERS` says which of B's ids each path parameter name takes; a path
parameter missing from it (a new endpoint nobody mapped) fails the test.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import struct
import wave
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.billing.conftest import close, this_month
from tests.factories import (
    SeededStudio,
    SeededVoice,
    cast_project,
    one_line,
    seed_studio,
    seed_voice,
)
from voicehub.billing.tables import Invoice
from voicehub.db import transaction
from voicehub.runtime import Runtime
from voicehub.tenancy.tables import ApiKey

# Which kinds of B's object each path parameter name takes (every kind is tried).
ID_PARAMETERS: dict[str, tuple[str, ...]] = {
    "project_id": ("project",),
    "cut_id": ("cut",),
    "line_id": ("line",),
    "take_id": ("take",),
    "job_id": ("synthesis_job", "export_job"),
    "event_id": ("event",),
    "endpoint_id": ("webhook_endpoint",),
    "voice_id": ("voice", "own_voice"),
    "consent_id": ("consent",),
    "approval_id": ("approval",),
    "build_id": ("build",),
    "invoice_id": ("invoice",),
    "key_id": ("studio_key", "actor_key"),
}
# Path parameters that are not ids: every tenant names the same thing (a month).
SHARED_PARAMETERS = {"period"}

REFUSED = {403, 404}


def _wav(seconds: float = 1.0, rate: int = 16000) -> bytes:
    """A short sine tone as 16-bit mono WAV, a well-formed upload for audio endpoints."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * n / rate)))
        for n in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


@dataclass
class Tenant:
    """One studio and its actor, with the ids of everything made for them."""

    studio: SeededStudio
    actor: SeededVoice
    ids: dict[str, str]
    # Strings only this tenant's own callers may ever see.
    private_text: list[str] = field(default_factory=list)

    def secrets_for(self, path: str) -> list[str]:
        """What another tenant must never read: every id and text, less the public voice.

        The voice catalog shows every studio each voice with its actor's id; actors'
        own endpoints show another actor nothing at all.
        """
        public = (
            {self.actor.voice_id, self.actor.actor_id}
            if not path.startswith("/v1/actor")
            else set()
        )
        return [value for value in [*self.ids.values(), *self.private_text] if value not in public]


def _seed_tenant(client: TestClient, runtime: Runtime, tag: str) -> Tenant:
    studio = seed_studio(runtime, f"Studio {tag} Meridian")
    actor = seed_voice(runtime, name=f"Actor {tag} Halloran", requires_project_approval=True)
    text = f"The {tag} lighthouse keeper hums a secret tune."
    project = cast_project(client, studio, {"KEN": actor}, one_line(text))
    ids = {
        "studio": studio.id,
        "actor": actor.actor_id,
        "voice": actor.voice_id,
        "consent": actor.consent_id,
        "project": project.project_id,
        "cut": project.cut_ids[0],
        "line": project.line_ids[0],
    }
    asked = client.get("/v1/actor/approvals", headers=actor.actor_headers).json()["data"]
    ids["approval"] = asked[0]["id"]
    decided = client.post(
        f"/v1/actor/approvals/{ids['approval']}/approve", headers=actor.actor_headers
    )
    assert decided.status_code == 200, decided.text
    endpoint = client.post(
        "/v1/webhook-endpoints",
        json={"url": f"https://studio-{tag.lower()}.example/hooks"},
        headers=studio.headers,
    )
    assert endpoint.status_code == 201, endpoint.text
    ids["webhook_endpoint"] = endpoint.json()["id"]
    take = client.post(f"/v1/lines/{ids['line']}/takes", headers=studio.headers)
    assert take.status_code == 201, take.text
    ids["take"] = take.json()["id"]
    approved = client.post(f"/v1/takes/{ids['take']}/approve", headers=studio.headers)
    assert approved.status_code == 200, approved.text
    ids["event"] = client.get("/v1/events", headers=studio.headers).json()["data"][0]["id"]
    job = client.post(f"/v1/projects/{ids['project']}/synthesis-jobs", headers=studio.headers)
    assert job.status_code == 202, job.text
    ids["synthesis_job"] = job.json()["id"]
    export = client.post(f"/v1/projects/{ids['project']}/exports", headers=studio.headers)
    assert export.status_code == 202, export.text
    ids["export_job"] = export.json()["id"]
    own = client.post(
        "/v1/actor/voices",
        json={"name": f"{tag} own voice", "language": "en"},
        headers=actor.actor_headers,
    )
    assert own.status_code == 201, own.text
    ids["own_voice"] = own.json()["id"]
    build = client.post(f"/v1/actor/voices/{ids['own_voice']}/builds", headers=actor.actor_headers)
    assert build.status_code == 201, build.text
    ids["build"] = build.json()["id"]
    with transaction(runtime.sessions) as session:
        for key in session.scalars(
            select(ApiKey).where(
                (ApiKey.studio_id == studio.id) | (ApiKey.actor_id == actor.actor_id)
            )
        ):
            ids["studio_key" if key.studio_id else "actor_key"] = key.id
    return Tenant(
        studio,
        actor,
        ids,
        [text, f"Studio {tag} Meridian", f"studio-{tag.lower()}.example", f"{tag} own voice"],
    )


def _add_invoice(runtime: Runtime, tenant: Tenant) -> None:
    with transaction(runtime.sessions) as session:
        invoice = session.scalar(select(Invoice).where(Invoice.studio_id == tenant.studio.id))
    assert invoice is not None, "closing the month invoices the studio's usage"
    tenant.ids["invoice"] = invoice.id


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    document = client.get("/openapi.json").json()
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _path_parameters(operation: dict[str, Any]) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]


def _request_body(
    path: str, operation: dict[str, Any], schemas: dict[str, Any], own: Tenant, other: Tenant
) -> dict[str, Any]:
    """A body the operation would accept from its owner: the refusal must be about tenancy."""
    body = operation.get("requestBody")
    if body is None:
        return {}
    content = body["content"]
    if path.endswith("/cast"):
        return {"json": {"character": "KEN", "voice_id": own.actor.voice_id}}
    if path.endswith("/approval"):
        return {"json": {"take_id": other.ids["take"]}}
    if path.endswith("/script"):
        return {"json": {"cuts": one_line("A line the intruder tries to slip in.")}}
    if "application/json" in content:
        schema = content["application/json"]["schema"]
        if not body.get("required"):
            return {}
        name = schema.get("$ref", "").rsplit("/", 1)[-1]
        examples = schemas.get(name, {}).get("examples")
        assert examples, f"no example body for {path}; add one to its schema or here"
        return {"json": examples[0]}
    if "audio/wav" in content:
        return {"content": _wav(), "headers": {"Content-Type": "audio/wav"}}
    raise AssertionError(f"no body known for {path} ({', '.join(content)})")


def _caller_headers(path: str, tenant: Tenant) -> dict[str, str]:
    return tenant.actor.actor_headers if path.startswith("/v1/actor") else tenant.studio.headers


def _substitutions(parameters: list[str], own: Tenant, other: Tenant) -> list[dict[str, str]]:
    """Every way to fill the parameters with the other tenant's ids (all of them, or one at a time)."""
    unknown = [p for p in parameters if p not in ID_PARAMETERS and p not in SHARED_PARAMETERS]
    assert not unknown, f"path parameters with no entry in ID_PARAMETERS: {unknown}"
    period = this_month()
    choices = [
        [period] if name in SHARED_PARAMETERS else [other.ids[kind] for kind in ID_PARAMETERS[name]]
        for name in parameters
    ]
    fills = [dict(zip(parameters, combo, strict=True)) for combo in itertools.product(*choices)]
    id_names = [p for p in parameters if p in ID_PARAMETERS]
    if len(id_names) > 1:
        # The other tenant's id next to the caller's own: a child reached through one's own parent.
        for foreign in id_names:
            for value in (other.ids[kind] for kind in ID_PARAMETERS[foreign]):
                mixed = {
                    name: value
                    if name == foreign
                    else period
                    if name in SHARED_PARAMETERS
                    else own.ids[ID_PARAMETERS[name][-1]]
                    for name in parameters
                }
                fills.append(mixed)
    return fills


def _assert_no_leak(text: str, secrets: list[str], asked: str, where: str) -> None:
    # An id the caller put in the request may be named back in the refusal; nothing else may.
    leaked = [secret for secret in secrets if secret in text and secret not in asked]
    assert not leaked, f"{where} shows the other tenant's {leaked}: {text[:300]}"


def test_every_operation_refuses_another_tenants_ids(client: TestClient, runtime: Runtime) -> None:
    a = _seed_tenant(client, runtime, "Alpha")
    b = _seed_tenant(client, runtime, "Bravo")
    close(runtime, this_month())
    _add_invoice(runtime, a)
    _add_invoice(runtime, b)
    schemas = client.get("/openapi.json").json()["components"]["schemas"]

    tried = 0
    for method, template, operation in _operations(client):
        parameters = _path_parameters(operation)
        if not parameters:
            continue
        shared_only = all(p in SHARED_PARAMETERS for p in parameters)
        for fill in _substitutions(parameters, a, b):
            url = template.format(**fill)
            body = _request_body(template, operation, schemas, a, b)
            headers = {**_caller_headers(template, a), **body.pop("headers", {})}
            response = client.request(method, url, headers=headers, **body)
            where = f"{method} {url}"
            asked = url + json.dumps(body.get("json"))
            _assert_no_leak(response.text, b.secrets_for(template), asked, where)
            tried += 1
            if shared_only:
                # A month is everyone's: the caller sees its own figures or nothing.
                assert response.status_code < 500, (where, response.text)
                continue
            assert response.status_code in REFUSED, (where, response.status_code, response.text)
            if response.status_code == 404:
                assert response.json()["code"] == "not_found", (where, response.text)
    assert tried > 60, "the matrix covered the API's operations"

    # The owner still reaches every object: the ids used above are real and live.
    assert client.get(f"/v1/takes/{b.ids['take']}", headers=b.studio.headers).status_code == 200
    assert (
        client.get(f"/v1/lines/{b.ids['line']}/approval", headers=b.studio.headers).json()[
            "take_id"
        ]
        == b.ids["take"]
    )
    versions = client.get(
        f"/v1/actor/consents/{b.ids['consent']}/versions", headers=b.actor.actor_headers
    )
    # Granted, then verified: none of the intruder's revokes, pauses or new terms landed.
    assert versions.status_code == 200, versions.text
    assert [v["reason"].split(":")[0] for v in versions.json()["data"]] == ["granted", "verified"]


def test_listings_show_only_the_callers_own_objects(client: TestClient, runtime: Runtime) -> None:
    a = _seed_tenant(client, runtime, "Alpha")
    b = _seed_tenant(client, runtime, "Bravo")
    close(runtime, this_month())
    _add_invoice(runtime, a)
    _add_invoice(runtime, b)

    listed = 0
    for method, path, operation in _operations(client):
        if method != "GET" or _path_parameters(operation) or path == "/openapi.json":
            continue
        for tenant, other in ((a, b), (b, a)):
            response = client.get(path, headers=_caller_headers(path, tenant))
            if response.status_code == 403:
                continue  # an actor path for a studio key or the reverse
            assert response.status_code == 200, (path, response.text)
            _assert_no_leak(response.text, other.secrets_for(path), "", f"GET {path}")
            listed += 1
    assert listed >= 14, "the listings were read"
    # The listings do show the caller's own objects, so an empty answer cannot pass for isolation.
    for path, kind in (
        ("/v1/projects", "project"),
        ("/v1/events", "event"),
        ("/v1/webhook-endpoints", "webhook_endpoint"),
        ("/v1/invoices", "invoice"),
    ):
        assert a.ids[kind] in client.get(path, headers=a.studio.headers).text, path
    for path, kind in (
        ("/v1/actor/consents", "consent"),
        ("/v1/actor/approvals", "approval"),
        ("/v1/actor/voices", "own_voice"),
    ):
        assert a.ids[kind] in client.get(path, headers=a.actor.actor_headers).text, path
