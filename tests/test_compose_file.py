"""docker-compose.yml is valid Compose and keeps the production shape's promises.

`tests/data/compose-spec.json` is the Compose Specification schema as Debian
bookworm's `docker-compose` 1.29.2-3 package ships it
(`/usr/lib/python3/dist-packages/compose/config/compose_spec.json`, SHA-256
0dc04bd346dcfee1b1419628fff79937bbf076925f298f272a2b490e2b112bac), copied
unchanged so the check runs offline and without Docker. docs/OPERATIONS.md
("How the compose file was validated") lists the `docker-compose config` runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path(__file__).resolve().parent / "data" / "compose-spec.json"
# What every VoiceHub process refuses to start without in production, and the files
# mounted as secrets.
REQUIRED_VARIABLES = (
    "VOICEHUB_MASTER_KEY",
    "VOICEHUB_STRIPE_API_KEY",
    "VOICEHUB_STRIPE_WEBHOOK_SECRET",
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
)
SECRETS = {"receipt_key", "c2pa_cert", "c2pa_key"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _voicehub_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if str(service.get("image", "")).startswith("voicehub:")
    }


def _required(value: str, variable: str) -> bool:
    """Whether `value` interpolates `variable` with `:?` (compose refuses to run without it)."""
    return re.search(r"\$\{" + variable + r":\?[^}]*\}", value) is not None


def test_the_file_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    # The file names draft 2019-09 by its old http:// address, which jsonschema does not map.
    jsonschema.Draft201909Validator(schema).validate(compose)


def test_the_schema_catches_what_compose_would_refuse(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = {**compose, "services": {**compose["services"], "api": {"replicas": 3}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft201909Validator(schema).validate(broken)


def test_every_voicehub_service_requires_the_secrets(compose: dict[str, Any]) -> None:
    services = _voicehub_services(compose)
    assert set(services) == {"migrate", "api", "worker", "worker-gpu"}
    for name, service in services.items():
        environment = service["environment"]
        assert environment["VOICEHUB_ENVIRONMENT"] == "production", name
        text = json.dumps(environment)
        missing = [variable for variable in REQUIRED_VARIABLES if not _required(text, variable)]
        assert missing == [], f"{name} starts without {missing}"
        assert {secret["source"] for secret in service["secrets"]} == SECRETS, name
    for secret in SECRETS:
        assert re.fullmatch(r"\$\{VOICEHUB_\w+_FILE:\?[^}]+\}", compose["secrets"][secret]["file"])


def test_workers_are_split_by_queue_and_the_gpu_worker_reserves_a_gpu(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert "--queue" not in services["worker"]["command"]
    gpu = services["worker-gpu"]
    assert gpu["command"][gpu["command"].index("--queue") + 1] == "gpu"
    assert gpu["profiles"] == ["gpu"]
    [device] = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["capabilities"] == ["gpu"]


def test_health_checks_and_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("postgres", "redis", "api", "worker", "worker-gpu"):
        assert services[name]["healthcheck"]["test"], name
    assert services["worker"]["healthcheck"]["test"][:4] == [
        "CMD",
        "python",
        "-m",
        "voicehub.heartbeat",
    ]
    for name in ("api", "worker", "worker-gpu"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }, name
    assert services["migrate"]["restart"] == "no"


def test_api_replicas_share_no_host_port(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    assert "ports" not in api, "a fixed host port allows one replica only"
    assert api["expose"] == ["8000"]
    assert compose["services"]["proxy"]["ports"] == ["8000:8000"]
