"""Signed consent receipts: what the actor agreed to, signed so anyone can check it later.

A receipt is a JSON document:

    {"receipt": BODY,
     "signature": {"alg": "Ed25519", "key_id": KEY_ID, "value": BASE64}}

where the signature is Ed25519 over the canonical JSON of BODY (UTF-8) and
KEY_ID is the first 16 hex characters of the SHA-256 of the raw public key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from consent.log import canonical_json
from voicehub.errors import InvalidInput
from voicehub.settings import Settings

ALGORITHM = "Ed25519"
DEVELOPMENT_KEY_FILE = "receipt-ed25519.pem"


class ReceiptInvalid(InvalidInput):
    code = "receipt_invalid"
    title = "The consent receipt is not valid"


class ReceiptKeyError(RuntimeError):
    """The receipt signing key is missing or unreadable: a deployment problem, not a user's."""


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """The first 16 hex characters of the SHA-256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class ReceiptKey:
    """The platform's Ed25519 key that signs consent receipts."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.key_id = key_id_of(private_key.public_key())

    @classmethod
    def generate(cls) -> ReceiptKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> ReceiptKey:
        try:
            private_key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as error:
            raise ReceiptKeyError(f"not an unencrypted PEM private key: {error}") from error
        if not isinstance(private_key, Ed25519PrivateKey):
            raise ReceiptKeyError("the receipt key must be an Ed25519 private key")
        return cls(private_key)

    @classmethod
    def load(cls, settings: Settings, *, create: bool = True) -> ReceiptKey:
        """The configured key: `receipt_key_path`, else (outside production) the development key.

        The development key lives in `keys_dir` and is made on first use (mode
        0600) unless `create` is false.
        """
        if settings.receipt_key_path is not None:
            return cls._read(settings.receipt_key_path)
        if settings.environment == "production":
            raise ReceiptKeyError("production requires VOICEHUB_RECEIPT_KEY_PATH")
        path = settings.keys_dir / DEVELOPMENT_KEY_FILE
        if path.exists() or not create:
            return cls._read(path)
        return cls._create(path)

    @classmethod
    def _read(cls, path: Path) -> ReceiptKey:
        try:
            pem = path.read_bytes()
        except OSError as error:
            raise ReceiptKeyError(f"cannot read the receipt key {path}: {error}") from error
        try:
            return cls.from_pem(pem)
        except ReceiptKeyError as error:
            raise ReceiptKeyError(f"{path}: {error}") from error

    @classmethod
    def _create(cls, path: Path) -> ReceiptKey:
        key = cls.generate()
        pem = key._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Written whole to a private (0600) temporary file, then linked into place:
        # a concurrent creator either wins the link or reads the complete winner.
        descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        temporary = Path(name)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(pem)
            os.link(temporary, path)
        except FileExistsError:
            return cls._read(path)
        finally:
            temporary.unlink(missing_ok=True)
        return key

    def public_key_pem(self) -> bytes:
        return self._private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, message: bytes) -> bytes:
        return self._private_key.sign(message)


def sign_receipt(key: ReceiptKey, body: dict[str, Any]) -> dict[str, Any]:
    """`body` as a signed receipt document (the body normalised to what JSON gives back)."""
    # Sign what a reader gets back from the JSON file (lists for tuples, string
    # keys), so the signature still holds once the receipt is written and read.
    normalised: dict[str, Any] = json.loads(canonical_json(body))
    signature = key.sign(canonical_json(normalised).encode("utf-8"))
    return {
        "receipt": normalised,
        "signature": {
            "alg": ALGORITHM,
            "key_id": key.key_id,
            "value": base64.b64encode(signature).decode("ascii"),
        },
    }


def verify_receipt(document: dict[str, Any], public_key_pem: bytes) -> dict[str, Any]:
    """The receipt's body if `document` is signed by the key in `public_key_pem`; else `ReceiptInvalid`.

    A `public_key_pem` that is not an Ed25519 public key raises `ValueError`.
    """
    public_key = _public_key(public_key_pem)
    if not isinstance(document, dict) or set(document) != {"receipt", "signature"}:
        raise ReceiptInvalid("A receipt is an object with exactly 'receipt' and 'signature'.")
    body, signature = document["receipt"], document["signature"]
    if not isinstance(body, dict):
        raise ReceiptInvalid("The receipt's 'receipt' must be an object.")
    if (
        not isinstance(signature, dict)
        or set(signature) != {"alg", "key_id", "value"}
        or not all(isinstance(value, str) for value in signature.values())
    ):
        raise ReceiptInvalid("The receipt's 'signature' must hold the strings alg, key_id, value.")
    if signature["alg"] != ALGORITHM:
        raise ReceiptInvalid(
            f"Unsupported signature algorithm '{signature['alg']}'; receipts use {ALGORITHM}."
        )
    expected_key_id = key_id_of(public_key)
    if signature["key_id"] != expected_key_id:
        raise ReceiptInvalid(
            f"The receipt was signed by key {signature['key_id']}, "
            f"not by the key given ({expected_key_id})."
        )
    try:
        value = base64.b64decode(signature["value"], validate=True)
    except ValueError as error:
        raise ReceiptInvalid("The signature value is not valid base64.") from error
    try:
        canonical = canonical_json(body)
    except ValueError as error:
        raise ReceiptInvalid(f"The receipt body is not plain JSON: {error}") from error
    try:
        public_key.verify(value, canonical.encode("utf-8"))
    except InvalidSignature as error:
        raise ReceiptInvalid(
            "The signature does not match the receipt: it was altered after signing."
        ) from error
    return body


def _public_key(pem: bytes) -> Ed25519PublicKey:
    # A bad key is the verifier's mistake, not the receipt's: a ValueError, not ReceiptInvalid.
    try:
        public_key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as error:
        raise ValueError(f"the public key is not a PEM public key: {error}") from error
    if not isinstance(public_key, Ed25519PublicKey):
        raise ValueError("the public key is not an Ed25519 key")
    return public_key
