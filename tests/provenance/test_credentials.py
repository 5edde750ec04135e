"""Content Credentials on delivered takes: signed with the C2PA SDK, read back and verified by it."""

from __future__ import annotations

import io
import json
import os
import stat
import statistics
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import c2pa
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from models.engines.base import SynthesisResult, SynthesisSettings
from models.engines.registry import EngineRegistry
from voicehub.audio import read_wav, wav_bytes
from voicehub.delivery.mastering import master
from voicehub.delivery.spec import DeliverySpec
from voicehub.errors import CredentialsUnavailable
from voicehub.provenance.credentials import (
    GENERATOR,
    TAKE_ASSERTION,
    TRAINED_ALGORITHMIC_MEDIA,
    SigningIdentity,
    TakeCredit,
    generator_version,
    make_development_ca,
    read_credentials,
    sign_wav,
)
from voicehub.settings import Settings

LINE = "Bring me the map before the tide comes in. We leave at dawn."
CREDIT = TakeCredit(
    take_id="take_01JD8X4M",
    line_id="line_01JD8X2K",
    cut_id="cut_01JD8X1F",
    project_id="proj_01JD8X0A",
    studio_id="studio_01JD8WZZ",
    voice_id="voice_01JD8WY3",
    actor_name="Joe Marlowe",
    consent_version_id="consent_01JD8WX7",
    language="en-US",
    created_at="2026-11-26T23:45:00+00:00",
)
UNTRUSTED = "signingCredential.untrusted"


@pytest.fixture(scope="module")
def english(engines: EngineRegistry) -> SynthesisResult:
    return engines.get("piper").synthesize(LINE, speaker="joe", settings=SynthesisSettings(seed=11))


@pytest.fixture(scope="module")
def delivered(english: SynthesisResult) -> bytes:
    """The take as a studio receives it: 48 kHz, 24-bit, mastered."""
    return master(english, DeliverySpec()).wav


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("credentials")


@pytest.fixture(scope="module")
def identity(data_dir: Path) -> SigningIdentity:
    return SigningIdentity.load(_settings(data_dir))


@pytest.fixture(scope="module")
def development_ca(identity: SigningIdentity, data_dir: Path) -> bytes:
    return (data_dir / "keys" / "c2pa" / "ca.pem").read_bytes()


@pytest.fixture(scope="module")
def signed(delivered: bytes, identity: SigningIdentity) -> bytes:
    return sign_wav(delivered, CREDIT, identity)


def _settings(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(environment="test", data_dir=data_dir, **overrides)


def _data_chunk(wav: bytes) -> tuple[int, int]:
    """Where the RIFF `data` chunk's samples start, and how many bytes they take."""
    position = 12
    while position + 8 <= len(wav):
        chunk, size = (
            wav[position : position + 4],
            struct.unpack("<I", wav[position + 4 : position + 8])[0],
        )
        if chunk == b"data":
            return position + 8, size
        position += 8 + size + (size & 1)
    raise AssertionError("the WAV has no data chunk")


def _raw_manifest(data: bytes) -> dict[str, Any]:
    """The active manifest as the SDK's own reader gives it."""
    with c2pa.Reader("audio/wav", io.BytesIO(data)) as reader:
        store: dict[str, Any] = json.loads(reader.json())
    manifest: dict[str, Any] = store["manifests"][store["active_manifest"]]
    return manifest


def test_a_signed_take_reads_back_with_every_field(signed: bytes) -> None:
    report = read_credentials(signed)

    assert report.state == "untrusted"
    assert report.validation_codes == [UNTRUSTED]
    assert report.credit == CREDIT
    assert report.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert report.generator == f"{GENERATOR} {generator_version()}"
    assert report.signer == "VoiceHub development signer"
    assert report.as_json()["credit"] == CREDIT.as_json()
    assert report.as_json()["state"] == "untrusted"


def test_the_raw_manifest_says_a_trained_model_made_it_and_credits_the_voice(
    signed: bytes,
) -> None:
    manifest = _raw_manifest(signed)
    software = {"name": GENERATOR, "version": generator_version()}

    assert manifest["title"] == f"{CREDIT.take_id}.wav"
    assert {k: manifest["claim_generator_info"][0][k] for k in software} == software
    assertions = {item["label"]: item["data"] for item in manifest["assertions"]}
    actions = assertions["c2pa.actions.v2"]["actions"]
    assert [action["action"] for action in actions] == ["c2pa.created"]
    assert actions[0]["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert actions[0]["softwareAgent"] == software
    take = assertions[TAKE_ASSERTION]
    assert take == {
        "take_id": "take_01JD8X4M",
        "line_id": "line_01JD8X2K",
        "cut_id": "cut_01JD8X1F",
        "project_id": "proj_01JD8X0A",
        "studio_id": "studio_01JD8WZZ",
        "voice_id": "voice_01JD8WY3",
        "actor_name": "Joe Marlowe",
        "consent_version_id": "consent_01JD8WX7",
        "language": "en-US",
        "created_at": "2026-11-26T23:45:00+00:00",
    }


def test_the_development_ca_as_anchor_makes_the_same_file_trusted(
    signed: bytes, development_ca: bytes
) -> None:
    report = read_credentials(signed, trust_anchors_pem=development_ca)

    assert report.state == "trusted"
    assert UNTRUSTED not in report.validation_codes
    assert report.credit == CREDIT


def test_a_take_signed_under_another_ca_is_never_trusted(
    tmp_path: Path, delivered: bytes, development_ca: bytes
) -> None:
    other = make_development_ca(tmp_path / "other", organisation="Elsewhere Audio")
    stranger = SigningIdentity(
        chain_pem=other.signer_chain.read_bytes(),
        key_pem=other.signer_key.read_bytes(),
        trust_anchors_pem=None,
    )
    forged = sign_wav(delivered, CREDIT, stranger)

    report = read_credentials(forged, trust_anchors_pem=development_ca)

    assert report.state == "untrusted"
    assert UNTRUSTED in report.validation_codes
    assert report.signer == "Elsewhere Audio signer"
    # Its own CA trusts it: the distinction is the anchor, not a broken signature.
    assert read_credentials(forged, trust_anchors_pem=other.ca_cert.read_bytes()).state == "trusted"


def test_tampered_audio_reads_invalid(signed: bytes, development_ca: bytes) -> None:
    start, size = _data_chunk(signed)
    tampered = bytearray(signed)
    for offset in range(start + size // 2, start + size // 2 + 6):
        tampered[offset] ^= 0xFF

    report = read_credentials(bytes(tampered), trust_anchors_pem=development_ca)

    assert report.state == "invalid"
    assert "assertion.dataHash.mismatch" in report.validation_codes


def test_a_rewritten_credit_reads_invalid(signed: bytes, development_ca: bytes) -> None:
    # The same length, so only the assertion's hash can give it away.
    forged = signed.replace(b"Joe Marlowe", b"Ann Marlowe")
    assert forged != signed

    report = read_credentials(forged, trust_anchors_pem=development_ca)

    assert report.state == "invalid"
    assert "assertion.hashedURI.mismatch" in report.validation_codes


def test_an_unsigned_take_reads_absent(delivered: bytes) -> None:
    report = read_credentials(delivered)

    assert report.state == "absent"
    assert report.credit is None
    assert report.validation_codes == []


@pytest.mark.parametrize(
    "data",
    [b"", b"not a wav at all", b"RIFF\xff\xff\xff\xffWAVEjunk", os.urandom(4096)],
    ids=["empty", "text", "broken-riff", "random"],
)
def test_garbage_reads_absent_or_invalid_without_raising(data: bytes) -> None:
    report = read_credentials(data)

    assert report.state in ("absent", "invalid")
    assert report.credit is None


def test_a_truncated_signed_take_does_not_raise(signed: bytes) -> None:
    report = read_credentials(signed[: len(signed) - 100])

    assert report.state in ("absent", "invalid")


@pytest.mark.parametrize("bit_depth", [16, 24])
def test_signing_leaves_the_samples_unchanged(
    english: SynthesisResult, identity: SigningIdentity, bit_depth: int
) -> None:
    wav = master(english, DeliverySpec(bit_depth=bit_depth)).wav
    signed = sign_wav(wav, CREDIT, identity)

    before, before_rate = read_wav(wav)
    after, after_rate = read_wav(signed)
    assert before_rate == after_rate == 48000
    assert np.array_equal(before, after)
    start, size = _data_chunk(wav)
    signed_start, signed_size = _data_chunk(signed)
    assert wav[start : start + size] == signed[signed_start : signed_start + signed_size]
    assert len(signed) > len(wav)
    assert read_credentials(signed).state == "untrusted"


def test_the_engine_rate_take_signs_too(
    english: SynthesisResult, identity: SigningIdentity
) -> None:
    wav = wav_bytes(english.audio, english.sample_rate)
    signed = sign_wav(wav, CREDIT, identity)

    assert np.array_equal(read_wav(signed)[0], read_wav(wav)[0])
    assert read_credentials(signed).credit == CREDIT


def test_four_threads_sign_at_once(
    delivered: bytes, identity: SigningIdentity, development_ca: bytes
) -> None:
    credits = [
        TakeCredit(**{**CREDIT.as_json(), "take_id": f"take_{n}", "line_id": f"line_{n}"})
        for n in range(4)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        files = list(pool.map(lambda credit: sign_wav(delivered, credit, identity), credits))

    reports = [read_credentials(data, trust_anchors_pem=development_ca) for data in files]
    assert [report.state for report in reports] == ["trusted"] * 4
    assert [report.credit for report in reports] == credits


def test_four_threads_read_with_different_anchors_at_once(
    signed: bytes, development_ca: bytes
) -> None:
    # One reader's anchors must not leak into another's.
    anchors = [development_ca, None, development_ca, None] * 3
    with ThreadPoolExecutor(max_workers=4) as pool:
        states = list(
            pool.map(lambda pem: read_credentials(signed, trust_anchors_pem=pem).state, anchors)
        )

    assert states == ["trusted" if pem else "untrusted" for pem in anchors]


def test_take_credit_from_json_names_what_is_missing() -> None:
    assert TakeCredit.from_json(CREDIT.as_json()) == CREDIT
    data = CREDIT.as_json()
    del data["actor_name"]
    data["voice_id"] = 7  # type: ignore[assignment]

    with pytest.raises(ValueError, match="voice_id, actor_name"):
        TakeCredit.from_json(data)


def test_the_development_identity_is_made_once_with_private_keys(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    directory = tmp_path / "keys" / "c2pa"

    with pytest.raises(CredentialsUnavailable):
        SigningIdentity.load(settings, create=False)
    assert not directory.exists()

    first = SigningIdentity.load(settings)
    second = SigningIdentity.load(settings, create=False)

    assert second == first
    assert sorted(path.name for path in directory.iterdir()) == [
        "ca-key.pem",
        "ca.pem",
        "signer-chain.pem",
        "signer-key.pem",
    ]
    for key in ("ca-key.pem", "signer-key.pem"):
        assert stat.S_IMODE((directory / key).stat().st_mode) == 0o600
    chain = x509.load_pem_x509_certificates(first.chain_pem)
    ca = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    assert [cert.subject for cert in chain] == [chain[0].subject, ca.subject]
    assert chain[0].issuer == ca.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not chain[0].extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert first.trust_anchors_pem is None


def test_concurrent_first_loads_agree_on_one_development_identity(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with ThreadPoolExecutor(max_workers=4) as pool:
        identities = list(pool.map(lambda _: SigningIdentity.load(settings), range(4)))

    assert all(identity == identities[0] for identity in identities)
    assert [path.name for path in (tmp_path / "keys").iterdir()] == ["c2pa"]


def test_anchors_that_are_not_certificates_are_a_caller_error(signed: bytes) -> None:
    with pytest.raises(ValueError, match="trust anchors"):
        read_credentials(signed, trust_anchors_pem=b"-----BEGIN CERTIFICATE-----\nnope\n")


def test_production_without_paths_names_the_variables(tmp_path: Path) -> None:
    production = Settings(
        environment="production",
        data_dir=tmp_path,
        database_url="postgresql+psycopg://voicehub@db/voicehub",
        queue_url="redis://queue:6379/0",
        master_key="a" * 44,
        receipt_key_path=tmp_path / "receipt.pem",
        c2pa_cert_path=tmp_path / "chain.pem",
        c2pa_key_path=tmp_path / "key.pem",
        stripe_api_key="sk_live_x",
        stripe_webhook_secret="whsec_x",
    ).model_copy(update={"c2pa_cert_path": None, "c2pa_key_path": None})

    with pytest.raises(CredentialsUnavailable) as raised:
        SigningIdentity.load(production)

    assert "VOICEHUB_C2PA_CERT_PATH" in raised.value.detail
    assert "VOICEHUB_C2PA_KEY_PATH" in raised.value.detail
    assert not (tmp_path / "keys").exists()


def test_configured_paths_are_used(tmp_path: Path, delivered: bytes) -> None:
    operator = make_development_ca(tmp_path / "operator", organisation="Operator")
    settings = _settings(
        tmp_path / "data",
        c2pa_cert_path=operator.signer_chain,
        c2pa_key_path=operator.signer_key,
        c2pa_trust_anchors_path=operator.ca_cert,
    )

    identity = SigningIdentity.load(settings)

    assert identity.chain_pem == operator.signer_chain.read_bytes()
    assert identity.trust_anchors_pem == operator.ca_cert.read_bytes()
    assert not (tmp_path / "data" / "keys").exists()
    report = read_credentials(
        sign_wav(delivered, CREDIT, identity), trust_anchors_pem=identity.trust_anchors_pem
    )
    assert (report.state, report.signer) == ("trusted", "Operator signer")


def test_a_configured_sec1_key_is_read_as_pkcs8(tmp_path: Path) -> None:
    operator = make_development_ca(tmp_path / "operator")
    key = serialization.load_pem_private_key(operator.signer_key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    sec1 = tmp_path / "sec1.pem"
    sec1.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )

    identity = SigningIdentity.load(
        _settings(tmp_path, c2pa_cert_path=operator.signer_chain, c2pa_key_path=sec1)
    )

    assert identity.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")


def test_unusable_configured_credentials_are_refused(tmp_path: Path) -> None:
    operator = make_development_ca(tmp_path / "operator")
    other = make_development_ca(tmp_path / "other")
    missing = tmp_path / "missing.pem"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"c2pa_cert_path": missing, "c2pa_key_path": operator.signer_key}, "missing.pem"),
        ({"c2pa_cert_path": operator.signer_chain, "c2pa_key_path": missing}, "missing.pem"),
        ({"c2pa_cert_path": operator.signer_key, "c2pa_key_path": operator.signer_key}, "PEM"),
        ({"c2pa_cert_path": operator.signer_chain, "c2pa_key_path": other.signer_key}, "belong"),
        ({"c2pa_cert_path": operator.signer_chain}, "VOICEHUB_C2PA_KEY_PATH"),
        ({"c2pa_key_path": operator.signer_key}, "VOICEHUB_C2PA_CERT_PATH"),
        ({"c2pa_trust_anchors_path": missing}, "trust anchors"),
    ]
    for overrides, named in cases:
        with pytest.raises(CredentialsUnavailable, match=named):
            SigningIdentity.load(_settings(tmp_path / "data", **overrides))


def test_an_unreadable_key_file_is_refused(tmp_path: Path) -> None:
    operator = make_development_ca(tmp_path / "operator")
    # A directory in the key's place: unreadable as a file even to root, unlike chmod 0.
    unreadable = tmp_path / "key-directory.pem"
    unreadable.mkdir()
    settings = _settings(tmp_path, c2pa_cert_path=operator.signer_chain, c2pa_key_path=unreadable)

    with pytest.raises(CredentialsUnavailable, match="cannot read the C2PA signing key"):
        SigningIdentity.load(settings)


def test_make_development_ca_never_replaces_a_ca(tmp_path: Path) -> None:
    first = make_development_ca(tmp_path)

    with pytest.raises(FileExistsError):
        make_development_ca(tmp_path)
    assert x509.load_pem_x509_certificate(first.ca_cert.read_bytes())


def test_signing_and_reading_time_on_a_three_second_take(
    delivered: bytes, identity: SigningIdentity, development_ca: bytes
) -> None:
    """Measured for docs/BENCHMARKS.md; printed, not asserted."""
    audio, rate = read_wav(delivered)
    length = 3 * rate
    three_seconds = np.resize(audio, length)
    wav = wav_bytes(three_seconds, rate, bit_depth=24)
    signing, reading = [], []
    for _ in range(20):
        started = time.perf_counter()
        signed = sign_wav(wav, CREDIT, identity)
        signing.append(time.perf_counter() - started)
        started = time.perf_counter()
        report = read_credentials(signed, trust_anchors_pem=development_ca)
        reading.append(time.perf_counter() - started)
        assert report.state == "trusted"

    print(
        f"\n3 s 48 kHz 24-bit take ({len(wav)} bytes): sign_wav median"
        f" {statistics.median(signing) * 1000:.1f} ms, read_credentials median"
        f" {statistics.median(reading) * 1000:.1f} ms (20 runs)"
    )
