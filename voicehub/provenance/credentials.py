"""Content Credentials: a signed C2PA manifest in every delivered take, and reading it back.

A delivered take's manifest says that VoiceHub made the audio with a trained
model (`c2pa.created`, IPTC `trainedAlgorithmicMedia`) and, in the assertion
`com.voicehub.take`, whose consented voice speaks it: the voice, the actor's
credited name, the consent version, and the studio, project, cut, line and take.

Signing and reading go through the C2PA SDK (`c2pa-python`). Every call builds
its own SDK `Context` from explicit settings and never touches the SDK's
process-wide settings, so takes rendered on several threads at once are signed
independently and one call's trust anchors never leak into another's.

The signing identity is a P-256 key and its certificate chain (the signing
certificate, then the CA that issued it). Production configures both; in
development VoiceHub makes its own CA and signing certificate under
`keys_dir/c2pa` on first use. A manifest signed by the development CA reads as
"untrusted" anywhere that CA is not a trust anchor, which is the point: only an
operator's configured anchors make a take's credentials "trusted".
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from voicehub.errors import CredentialsUnavailable
from voicehub.settings import Settings

GENERATOR = "VoiceHub"
TAKE_ASSERTION = "com.voicehub.take"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
DEVELOPMENT_DIRECTORY = "c2pa"
CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
SIGNER_CHAIN_FILE = "signer-chain.pem"
SIGNER_KEY_FILE = "signer-key.pem"

# The development certificates outlive any checkout; a few minutes of back-dating
# keeps a signature valid on a machine whose clock runs slightly behind.
_DEVELOPMENT_VALIDITY = dt.timedelta(days=3650)
_CLOCK_SKEW = dt.timedelta(minutes=5)

# The reader's code for "signature and hashes hold, but the signer is not one we trust".
_UNTRUSTED = "signingCredential.untrusted"

CredentialsState = Literal["trusted", "untrusted", "invalid", "absent"]


@cache
def generator_version() -> str:
    """VoiceHub's installed version, as manifests name their generator."""
    return version("voicehub")


@dataclass(frozen=True)
class TakeCredit:
    """What a delivered take's manifest says about it."""

    take_id: str
    line_id: str
    cut_id: str
    project_id: str
    studio_id: str
    voice_id: str
    actor_name: str  # the actor's credited name
    consent_version_id: str
    language: str
    created_at: str  # ISO 8601 UTC

    def as_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TakeCredit:
        """The credit in `data`; a ValueError names the fields missing or not text."""
        names = [field.name for field in fields(cls)]
        wrong = [name for name in names if not isinstance(data.get(name), str)]
        if wrong:
            raise ValueError(f"take credit lacks {', '.join(wrong)} (each must be text)")
        return cls(**{name: data[name] for name in names})


@dataclass(frozen=True)
class DevelopmentCa:
    """The files `make_development_ca` writes."""

    ca_cert: Path
    ca_key: Path
    signer_chain: Path
    signer_key: Path


@dataclass(frozen=True)
class SigningIdentity:
    """The certificate chain and key that sign delivered takes, and the anchors that trust them."""

    chain_pem: bytes  # signing certificate first, then the issuing CA
    key_pem: bytes  # P-256 private key (PKCS#8 PEM)
    trust_anchors_pem: bytes | None  # the operator's anchors, None when not configured

    @classmethod
    def load(cls, settings: Settings, *, create: bool = True) -> SigningIdentity:
        """The configured chain and key, else (outside production) the development ones.

        The development CA and signing certificate live in `keys_dir/c2pa` and are
        made on first use unless `create` is false. Anything missing or unreadable
        raises `CredentialsUnavailable`.
        """
        anchors = (
            None
            if settings.c2pa_trust_anchors_path is None
            else _read_anchors(settings.c2pa_trust_anchors_path)
        )
        cert_path, key_path = settings.c2pa_cert_path, settings.c2pa_key_path
        if cert_path is not None and key_path is not None:
            return cls._read(cert_path, key_path, anchors)
        if cert_path is not None:
            raise CredentialsUnavailable(
                "VOICEHUB_C2PA_CERT_PATH is set without VOICEHUB_C2PA_KEY_PATH"
            )
        if key_path is not None:
            raise CredentialsUnavailable(
                "VOICEHUB_C2PA_KEY_PATH is set without VOICEHUB_C2PA_CERT_PATH"
            )
        if settings.environment == "production":
            raise CredentialsUnavailable(
                "production requires VOICEHUB_C2PA_CERT_PATH and VOICEHUB_C2PA_KEY_PATH"
            )
        directory = settings.keys_dir / DEVELOPMENT_DIRECTORY
        if create and not (directory / SIGNER_CHAIN_FILE).exists():
            _create_development_directory(directory)
        return cls._read(directory / SIGNER_CHAIN_FILE, directory / SIGNER_KEY_FILE, anchors)

    @classmethod
    def _read(cls, chain_path: Path, key_path: Path, anchors: bytes | None) -> SigningIdentity:
        chain_pem = _read_file(chain_path, "certificate chain")
        try:
            chain = x509.load_pem_x509_certificates(chain_pem)
        except ValueError as error:
            raise CredentialsUnavailable(
                f"{chain_path} is not PEM certificates: {error}"
            ) from error
        key = _read_signing_key(key_path)
        if chain[0].public_key() != key.public_key():
            raise CredentialsUnavailable(
                f"the key {key_path} does not belong to the first certificate of {chain_path}"
            )
        # The SDK reads PKCS#8 only; an operator's SEC1 ("EC PRIVATE KEY") file is re-encoded.
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cls(chain_pem=chain_pem, key_pem=key_pem, trust_anchors_pem=anchors)


def _read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CredentialsUnavailable(f"cannot read the C2PA {what} {path}: {error}") from error


def _read_signing_key(path: Path) -> ec.EllipticCurvePrivateKey:
    pem = _read_file(path, "signing key")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise CredentialsUnavailable(f"{path} is not an unencrypted PEM private key") from error
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise CredentialsUnavailable(f"{path}: the C2PA signing key must be a P-256 (ES256) key")
    return key


def _read_anchors(path: Path) -> bytes:
    pem = _read_file(path, "trust anchors")
    try:
        x509.load_pem_x509_certificates(pem)
    except ValueError as error:
        raise CredentialsUnavailable(f"{path} is not PEM certificates: {error}") from error
    return pem


def _create_development_directory(directory: Path) -> None:
    """Make the development CA in a private temporary directory, then rename it into place.

    The rename is atomic: a concurrent creator either wins it or finds the
    winner's complete directory and reads that.
    """
    directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}."))
    try:
        make_development_ca(temporary)
        os.rename(temporary, directory)
    except OSError:
        if not (directory / SIGNER_CHAIN_FILE).exists():
            raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def make_development_ca(
    directory: Path, *, organisation: str = "VoiceHub development"
) -> DevelopmentCa:
    """A new P-256 CA and a signing certificate it issued, written to `directory`.

    Writes `ca.pem`, `ca-key.pem`, `signer-chain.pem` (the signing certificate,
    then the CA) and `signer-key.pem`; keys are mode 0600, and an existing file
    is never replaced. The signing certificate is what C2PA validators accept
    from a signer: an end-entity certificate issued by a CA, with the
    digitalSignature key usage and the emailProtection extended key usage.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(organisation, f"{organisation} CA")
    ca_cert = (
        _certificate(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer_cert = (
        _certificate(
            _name(organisation, f"{organisation} signer"), ca_name, signer_key.public_key(), now
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = DevelopmentCa(
        ca_cert=directory / CA_CERT_FILE,
        ca_key=directory / CA_KEY_FILE,
        signer_chain=directory / SIGNER_CHAIN_FILE,
        signer_key=directory / SIGNER_KEY_FILE,
    )
    _write_new(files.ca_key, _private_pem(ca_key), mode=0o600)
    _write_new(files.ca_cert, _cert_pem(ca_cert), mode=0o644)
    _write_new(files.signer_key, _private_pem(signer_key), mode=0o600)
    _write_new(files.signer_chain, _cert_pem(signer_cert) + _cert_pem(ca_cert), mode=0o644)
    return files


def _name(organisation: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: dt.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + _DEVELOPMENT_VALIDITY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, digital_signature: bool = False, key_cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=key_cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_new(path: Path, data: bytes, *, mode: int) -> None:
    # O_EXCL: a CA once made is never silently replaced, which would orphan
    # every manifest its old signer signed from the anchors that trust them.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def sign_wav(wav: bytes, credit: TakeCredit, identity: SigningIdentity) -> bytes:
    """`wav` with an embedded, signed C2PA manifest crediting the take; the samples are unchanged.

    Safe to call from several threads at once: each call has its own SDK
    context, builder and signer.
    """
    software = {"name": GENERATOR, "version": generator_version()}
    manifest = {
        "claim_generator_info": [software],
        "title": f"{credit.take_id}.wav",
        "format": "audio/wav",
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": software,
                        }
                    ]
                },
            },
            {"label": TAKE_ASSERTION, "data": credit.as_json()},
        ],
    }
    info = c2pa.C2paSignerInfo(
        c2pa.C2paSigningAlg.ES256, identity.chain_pem, identity.key_pem, None
    )
    signed = io.BytesIO()
    with (
        c2pa.Settings.from_dict(_SIGNING_SETTINGS) as settings,
        c2pa.Context(settings=settings) as context,
        c2pa.Signer.from_info(info) as signer,
        c2pa.Builder(manifest, context=context) as builder,
    ):
        builder.sign(signer, "audio/wav", io.BytesIO(wav), signed)
    return signed.getvalue()


# Explicit rather than the SDK's defaults, which another caller could change
# process-wide: a signature is not read back here, and nothing is fetched.
_SIGNING_SETTINGS: dict[str, Any] = {
    "verify": {"verify_after_sign": False, "ocsp_fetch": False, "remote_manifest_fetch": False}
}


@dataclass(frozen=True)
class CredentialsReport:
    """What a file's Content Credentials say, and whether they hold."""

    # trusted: valid, and the chain ends at a configured trust anchor; untrusted:
    # signature and hashes valid, but the signer is not trusted; invalid: any other
    # failure (tampered audio, hash mismatch, bad signature, unreadable file);
    # absent: the file has no manifest. A file the SDK cannot parse at all reads
    # invalid with the one code "voicehub.unreadable.<SDK error>".
    state: CredentialsState
    validation_codes: list[str]  # the reader's status codes, e.g. ["signingCredential.untrusted"]
    # From "com.voicehub.take"; None when absent or unreadable. What an "invalid"
    # manifest claims is reported too, for whoever investigates it, but vouches for nothing.
    credit: TakeCredit | None
    digital_source_type: str | None
    generator: str | None
    signer: str | None  # the signing certificate's common name, else its issuer

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "validation_codes": list(self.validation_codes),
            "credit": None if self.credit is None else self.credit.as_json(),
            "digital_source_type": self.digital_source_type,
            "generator": self.generator,
            "signer": self.signer,
        }


_ABSENT = CredentialsReport(
    state="absent",
    validation_codes=[],
    credit=None,
    digital_source_type=None,
    generator=None,
    signer=None,
)


def read_credentials(
    data: bytes, *, mime_type: str = "audio/wav", trust_anchors_pem: bytes | None = None
) -> CredentialsReport:
    """The Content Credentials in `data`, verified by the C2PA SDK's reader.

    With `trust_anchors_pem`, a manifest whose chain ends at one of them reads
    "trusted"; without, a valid signature reads "untrusted". Bad, corrupt or
    unsupported input reads "absent" or "invalid" and never raises; anchors that
    are not PEM certificates raise ValueError.
    """
    try:
        settings = c2pa.Settings.from_dict(_reading_settings(trust_anchors_pem))
    except c2pa.C2paError as error:
        raise ValueError(f"the trust anchors are not PEM certificates: {error}") from error
    try:
        with settings, c2pa.Context(settings=settings) as context:
            reader = c2pa.Reader.try_create(mime_type, io.BytesIO(data), None, context)
            if reader is None:
                return _ABSENT
            with reader:
                store: dict[str, Any] = json.loads(reader.json())
    except (c2pa.C2paError, ValueError) as error:
        return _unreadable(error)
    return _report(store)


def _reading_settings(trust_anchors_pem: bytes | None) -> dict[str, Any]:
    # Trust is always checked, so a valid signature by a signer outside the
    # anchors reads "signingCredential.untrusted" rather than merely valid.
    settings: dict[str, Any] = {
        "verify": {
            "verify_after_reading": True,
            "verify_trust": True,
            "ocsp_fetch": False,
            # A file could point at a manifest elsewhere; reading a take never goes online.
            "remote_manifest_fetch": False,
        }
    }
    if trust_anchors_pem is not None:
        settings["trust"] = {"trust_anchors": trust_anchors_pem.decode("ascii", "replace")}
    return settings


def _unreadable(error: Exception) -> CredentialsReport:
    """A file the SDK could not read: its manifest (if any) cannot hold."""
    code = type(error).__name__.lstrip("_").removeprefix("C2pa") or "error"
    return CredentialsReport(
        state="invalid",
        validation_codes=[f"voicehub.unreadable.{code}"],
        credit=None,
        digital_source_type=None,
        generator=None,
        signer=None,
    )


def _report(store: Mapping[str, Any]) -> CredentialsReport:
    active = store.get("active_manifest")
    manifests = _dict(store.get("manifests"))
    manifest = _dict(manifests.get(active)) if isinstance(active, str) else {}
    codes = [
        str(status.get("code"))
        for status in _list(store.get("validation_status"))
        if isinstance(status, dict)
    ]
    failures = {
        str(status.get("code"))
        for status in _list(
            _dict(_dict(store.get("validation_results")).get("activeManifest")).get("failure")
        )
        if isinstance(status, dict)
    }
    failures.update(codes)
    validation_state = store.get("validation_state")
    state: CredentialsState
    if not manifest:
        state = "invalid"
    elif validation_state == "Trusted" and not failures:
        state = "trusted"
    elif validation_state in ("Valid", "Trusted") and failures <= {_UNTRUSTED}:
        state = "untrusted"
    else:
        state = "invalid"
    return CredentialsReport(
        state=state,
        validation_codes=codes,
        credit=_credit(manifest),
        digital_source_type=_digital_source_type(manifest),
        generator=_generator(manifest),
        signer=_signer(manifest),
    )


def _assertions(manifest: Mapping[str, Any], label: str) -> list[dict[str, Any]]:
    return [
        _dict(assertion.get("data"))
        for assertion in _list(manifest.get("assertions"))
        if isinstance(assertion, dict) and assertion.get("label") == label
    ]


def _credit(manifest: Mapping[str, Any]) -> TakeCredit | None:
    for data in _assertions(manifest, TAKE_ASSERTION):
        try:
            return TakeCredit.from_json(data)
        except ValueError:
            return None
    return None


def _digital_source_type(manifest: Mapping[str, Any]) -> str | None:
    for label in ("c2pa.actions.v2", "c2pa.actions"):
        for data in _assertions(manifest, label):
            for action in _list(data.get("actions")):
                if isinstance(action, dict) and action.get("action") == "c2pa.created":
                    source = action.get("digitalSourceType")
                    return source if isinstance(source, str) else None
    return None


def _generator(manifest: Mapping[str, Any]) -> str | None:
    for info in _list(manifest.get("claim_generator_info")):
        if isinstance(info, dict) and isinstance(info.get("name"), str):
            name: str = info["name"]
            release = info.get("version")
            return f"{name} {release}" if isinstance(release, str) else name
    return None


def _signer(manifest: Mapping[str, Any]) -> str | None:
    signature = _dict(manifest.get("signature_info"))
    for key in ("common_name", "issuer"):
        value = signature.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
