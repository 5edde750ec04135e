"""Signed consent receipts verify only as signed, and the `consent` commands check the evidence."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from consent.cli import add_consent_commands
from consent.log import append_event
from consent.receipts import (
    ReceiptInvalid,
    ReceiptKey,
    ReceiptKeyError,
    sign_receipt,
    verify_receipt,
)
from voicehub.db import transaction
from voicehub.errors import InvalidInput
from voicehub.runtime import Runtime
from voicehub.settings import Settings, get_settings

BODY: dict[str, Any] = {
    "consent_id": "con_haru",
    "version": 2,
    "actor_id": "act_haru",
    "signer": {"kind": "actor", "name": "春野 はる"},
    "allowed_uses": ["animation", "games"],
    "languages": ["ja", "en"],
    "actor_share_bps": 7000,
    "starts_at": "2025-01-01T00:00:00.000000Z",
}


def _over_the_wire(document: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(document))
    return loaded


def test_a_signed_receipt_verifies_after_a_json_round_trip() -> None:
    key = ReceiptKey.generate()
    document = _over_the_wire(sign_receipt(key, BODY))
    assert document["signature"]["alg"] == "Ed25519"
    assert document["signature"]["key_id"] == key.key_id
    assert verify_receipt(document, key.public_key_pem()) == BODY


def test_a_body_with_integer_keys_still_verifies_once_read_back() -> None:
    key = ReceiptKey.generate()
    document = _over_the_wire(sign_receipt(key, {"prices": {9: 1, 10: 2}}))
    assert verify_receipt(document, key.public_key_pem()) == {"prices": {"9": 1, "10": 2}}


def _modified_field(document: dict[str, Any], _: ReceiptKey) -> None:
    document["receipt"]["allowed_uses"].append("dubbing")


def _modified_signature(document: dict[str, Any], _: ReceiptKey) -> None:
    value = bytearray(base64.b64decode(document["signature"]["value"]))
    value[0] ^= 0x01
    document["signature"]["value"] = base64.b64encode(bytes(value)).decode("ascii")


def _signed_by_another_key(document: dict[str, Any], _: ReceiptKey) -> None:
    document.update(sign_receipt(ReceiptKey.generate(), document["receipt"]))


def _another_key_claiming_this_key_id(document: dict[str, Any], key: ReceiptKey) -> None:
    document.update(sign_receipt(ReceiptKey.generate(), document["receipt"]))
    document["signature"]["key_id"] = key.key_id


def _wrong_alg(document: dict[str, Any], _: ReceiptKey) -> None:
    document["signature"]["alg"] = "HS256"


def _not_base64(document: dict[str, Any], _: ReceiptKey) -> None:
    document["signature"]["value"] = "not base64!"


def _no_signature(document: dict[str, Any], _: ReceiptKey) -> None:
    del document["signature"]


def _extra_field(document: dict[str, Any], _: ReceiptKey) -> None:
    document["note"] = "trust me"


REJECTIONS = {
    "a modified field": (_modified_field, "does not match"),
    "a modified signature": (_modified_signature, "does not match"),
    "another key": (_signed_by_another_key, "signed by key"),
    "another key claiming this key id": (_another_key_claiming_this_key_id, "does not match"),
    "a wrong alg": (_wrong_alg, "Unsupported signature algorithm 'HS256'"),
    "a signature that is not base64": (_not_base64, "not valid base64"),
    "no signature": (_no_signature, "exactly 'receipt' and 'signature'"),
    "an extra field": (_extra_field, "exactly 'receipt' and 'signature'"),
}


@pytest.mark.parametrize("rejection", REJECTIONS.values(), ids=REJECTIONS.keys())
def test_a_changed_receipt_is_rejected_with_its_reason(rejection: tuple[Any, str]) -> None:
    change, reason = rejection
    key = ReceiptKey.generate()
    document = _over_the_wire(sign_receipt(key, BODY))
    change(document, key)
    with pytest.raises(ReceiptInvalid, match=reason) as raised:
        verify_receipt(document, key.public_key_pem())
    assert isinstance(raised.value, InvalidInput)
    assert raised.value.code == "receipt_invalid"


def test_a_public_key_that_is_not_ed25519_is_the_verifiers_error() -> None:
    document = sign_receipt(ReceiptKey.generate(), BODY)
    with pytest.raises(ValueError, match="not a PEM public key"):
        verify_receipt(document, b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def test_the_development_key_is_made_once_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(environment="development", data_dir=tmp_path)
    path = settings.keys_dir / "receipt-ed25519.pem"
    with pytest.raises(ReceiptKeyError):
        ReceiptKey.load(settings, create=False)
    assert not path.exists()

    key = ReceiptKey.load(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ReceiptKey.load(settings).key_id == key.key_id
    assert list(path.parent.iterdir()) == [path], "no temporary file is left behind"


def test_a_configured_key_path_wins_and_production_requires_one(tmp_path: Path) -> None:
    first = ReceiptKey.load(Settings(environment="development", data_dir=tmp_path / "a"))
    configured = Settings(
        environment="development",
        data_dir=tmp_path / "b",
        receipt_key_path=tmp_path / "a" / "keys" / "receipt-ed25519.pem",
    )
    assert ReceiptKey.load(configured).key_id == first.key_id
    assert not (tmp_path / "b" / "keys").exists()

    production = Settings.model_construct(environment="production", data_dir=tmp_path / "c")
    with pytest.raises(ReceiptKeyError, match="VOICEHUB_RECEIPT_KEY_PATH"):
        ReceiptKey.load(production)


def test_the_key_id_is_the_start_of_the_public_keys_sha256() -> None:
    key = ReceiptKey.generate()
    pem = key.public_key_pem().decode("ascii")
    der = base64.b64decode("".join(pem.strip().splitlines()[1:-1]))
    # An Ed25519 SubjectPublicKeyInfo ends with the 32 raw bytes of the key.
    assert key.key_id == hashlib.sha256(der[-32:]).hexdigest()[:16]


# The `consent` commands, through an argparse parser like the main CLI's.


@pytest.fixture
def configured(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Process settings pointed at the test database, with a data directory of the test's own."""
    monkeypatch.setenv("VOICEHUB_DATABASE_URL", database_url)
    monkeypatch.setenv("VOICEHUB_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("VOICEHUB_ENVIRONMENT", "test")
    monkeypatch.delenv("VOICEHUB_RECEIPT_KEY_PATH", raising=False)
    get_settings.cache_clear()
    try:
        yield get_settings()
    finally:
        get_settings.cache_clear()


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="voicehub")
    add_consent_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["consent", *argv])
    status: int = args.handler(args)
    return status


def test_verify_log_reports_an_intact_log_then_the_broken_entry(
    runtime: Runtime, configured: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with transaction(runtime.sessions) as session:
        for number in range(3):
            append_event(
                session,
                event="consent.granted",
                actor_id=None,
                consent_id=None,
                payload={"n": number},
            )
    assert _run("verify-log") == 0
    assert capsys.readouterr().out == "consent log intact: 3 entries\n"

    with runtime.database.begin() as connection:
        connection.execute(text("DELETE FROM consent_log WHERE seq = 2"))
    assert _run("verify-log") == 1
    assert capsys.readouterr().out.startswith("consent log BROKEN at entry 2: ")


def test_verify_receipt_with_a_public_key_file(
    configured: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = ReceiptKey.generate()
    receipt = tmp_path / "receipt.json"
    public_key = tmp_path / "public.pem"
    public_key.write_bytes(key.public_key_pem())
    document = sign_receipt(key, BODY)
    receipt.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    assert _run("verify-receipt", str(receipt), "--public-key", str(public_key)) == 0
    assert capsys.readouterr().out == (
        "receipt valid: consent con_haru version 2, actor act_haru\n"
    )

    document["receipt"]["version"] = 3
    receipt.write_text(json.dumps(document), encoding="utf-8")
    assert _run("verify-receipt", str(receipt), "--public-key", str(public_key)) == 1
    assert capsys.readouterr().out.startswith("receipt INVALID: The signature does not match")

    receipt.write_text("{not json", encoding="utf-8")
    assert _run("verify-receipt", str(receipt), "--public-key", str(public_key)) == 1
    assert "is not JSON" in capsys.readouterr().out


def test_verify_receipt_defaults_to_the_deployments_key(
    configured: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    receipt = tmp_path / "receipt.json"
    receipt.write_text(json.dumps(sign_receipt(ReceiptKey.generate(), BODY)), encoding="utf-8")
    assert _run("verify-receipt", str(receipt)) == 2, "no key yet: it cannot verify, nor mint one"
    assert "cannot verify" in capsys.readouterr().err
    assert not (configured.keys_dir / "receipt-ed25519.pem").exists()

    receipt.write_text(json.dumps(sign_receipt(ReceiptKey.load(configured), BODY)))
    assert _run("verify-receipt", str(receipt)) == 0
    assert capsys.readouterr().out.startswith("receipt valid: consent con_haru")

    receipt.write_text(json.dumps(sign_receipt(ReceiptKey.generate(), BODY)))
    assert _run("verify-receipt", str(receipt)) == 1
    assert "signed by key" in capsys.readouterr().out
