"""The voice vault: a voice's artifacts encrypted at rest, so destroying one key shreds them.

Envelope encryption. Each voice has a 256-bit data key, stored in `voice_keys`
wrapped (AES-256-GCM) by the platform's master key. Every artifact is encrypted
with its voice's data key and stored as `nonce ‖ ciphertext ‖ tag` under
`vault/{voice_id}/{artifact_id}.bin`. Revoking consent for good destroys the
wrapped key; from then on no copy of a ciphertext, wherever it lies, can be
read. Deleting the files afterwards is tidiness, not the guarantee.

Consent-statement recordings are evidence of what the actor agreed to and must
outlive the voice, so they are sealed under a key derived from the master key
(`seal_evidence`), never under a voice's data key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import hashlib
import logging
import os
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.tables import Voice, VoiceArtifact, VoiceKey
from voicehub.db import after_commit, utcnow
from voicehub.errors import Conflict, InvalidInput, NotFound, VoiceHubError
from voicehub.ids import new_id
from voicehub.settings import Settings
from voicehub.storage import Storage

log = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
_TAG_BYTES = 16
_MAX_KIND_CHARS = 32  # voice_artifacts.kind is String(32)
_EVIDENCE_INFO = b"voicehub evidence"
MASTER_KEY_FILE = "master.key"


class MasterKeyInvalid(ValueError):
    """The master key is missing or malformed: the process must not start."""


class VaultIntegrityError(Exception):
    """Encrypted data failed to open: altered, swapped, missing, or under another master key.

    Not a business error: it means the storage or the configuration is wrong,
    so the edge answers `internal_error` and logs it.
    """


class VoiceShredded(VoiceHubError):
    status = 410
    code = "voice_shredded"
    title = "The voice was shredded"


class ArtifactShredded(VoiceShredded):
    code = "artifact_shredded"
    title = "The artifact was shredded"


@dataclass(frozen=True)
class ShredReport:
    """What shredding a voice destroyed, and when (the first time, on a repeated call)."""

    voice_id: str
    artifacts: tuple[str, ...]
    destroyed_at: dt.datetime


def load_master_key(settings: Settings) -> bytes:
    """The 32-byte master key: `VOICEHUB_MASTER_KEY`, or outside production a key file of its own."""
    if settings.master_key:
        return _decode_master_key(settings.master_key, source="VOICEHUB_MASTER_KEY")
    if settings.environment == "production":
        raise MasterKeyInvalid("production requires VOICEHUB_MASTER_KEY (base64 of 32 bytes)")
    path = settings.keys_dir / MASTER_KEY_FILE
    if not path.exists():
        _create_key_file(path, base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")
    return _decode_master_key(path.read_text(), source=str(path))


def _decode_master_key(value: str, *, source: str) -> bytes:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MasterKeyInvalid(f"{source} is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise MasterKeyInvalid(f"{source} must decode to {KEY_BYTES} bytes, not {len(key)}")
    return key


def _create_key_file(path: Path, content: bytes) -> None:
    """Write `content` to a new 0600 file, unless another process made one first.

    Written aside and linked into place, so a process starting alongside never
    reads a half-written key, and the first one to finish wins.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".master.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), 0o600)
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


class Vault:
    """Voice artifacts encrypted under per-voice data keys, and evidence sealed for good."""

    def __init__(self, storage: Storage, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise MasterKeyInvalid(f"the master key must be {KEY_BYTES} bytes")
        self._storage = storage
        self._master = AESGCM(master_key)
        evidence_key = HKDF(
            algorithm=SHA256(), length=KEY_BYTES, salt=None, info=_EVIDENCE_INFO
        ).derive(master_key)
        self._evidence = AESGCM(evidence_key)

    def create_voice_key(self, session: Session, voice_id: str) -> None:
        """Give the voice a fresh data key, wrapped by the master key; a voice has only one."""
        existing = _voice_key(session, voice_id)
        if existing is not None and existing.wrapped_key is None:
            raise VoiceShredded(f"Voice {voice_id} was shredded; it gets no new key.")
        if existing is not None:
            raise Conflict(f"Voice {voice_id} already has a key.")
        self._add_voice_key(session, voice_id)

    def put_artifact(
        self, session: Session, voice_id: str, kind: str, data: bytes
    ) -> VoiceArtifact:
        """Encrypt `data` under the voice's data key and store it; a rollback removes the file."""
        if not kind or len(kind) > _MAX_KIND_CHARS:
            raise InvalidInput(
                f"An artifact kind is 1 to {_MAX_KIND_CHARS} characters.", fields=["kind"]
            )
        voice = session.get(Voice, voice_id)
        if voice is None:
            raise NotFound(f"No voice {voice_id}.")
        key = _voice_key(session, voice_id, lock=True) or self._add_voice_key(session, voice_id)
        if key.wrapped_key is None:
            raise VoiceShredded(f"Voice {voice_id} was shredded; it takes no new artifacts.")
        data_key = self._unwrap(key.wrapped_key, voice_id)
        artifact_id = new_id("art")
        storage_key = f"vault/{voice_id}/{artifact_id}.bin"
        self._storage.put_in_transaction(
            session, storage_key, _seal(AESGCM(data_key), data, _artifact_aad(artifact_id, kind))
        )
        artifact = VoiceArtifact(
            id=artifact_id,
            voice_id=voice_id,
            kind=kind,
            storage_key=storage_key,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
        )
        session.add(artifact)
        session.flush()
        return artifact

    def read_artifact(self, session: Session, artifact_id: str) -> bytes:
        """The artifact's plaintext, checked against its recorded hash."""
        artifact = session.get(VoiceArtifact, artifact_id)
        if artifact is None:
            raise NotFound(f"No artifact {artifact_id}.")
        # The key's state is read afresh: never trust a copy loaded before a shred.
        key = _voice_key(session, artifact.voice_id)
        if key is None:
            raise VaultIntegrityError(
                f"Artifact {artifact_id} belongs to voice {artifact.voice_id}, which has no key."
            )
        if key.wrapped_key is None:
            raise ArtifactShredded(
                f"Artifact {artifact_id} was shredded with voice {artifact.voice_id}.",
                voice_id=artifact.voice_id,
            )
        data_key = self._unwrap(key.wrapped_key, artifact.voice_id)
        try:
            blob = self._storage.get(artifact.storage_key)
        except FileNotFoundError as exc:
            raise VaultIntegrityError(
                f"Artifact {artifact_id} is missing from storage ({artifact.storage_key})."
            ) from exc
        try:
            data = _open(AESGCM(data_key), blob, _artifact_aad(artifact.id, artifact.kind))
        except InvalidTag as exc:
            raise VaultIntegrityError(
                f"Artifact {artifact_id} does not decrypt: its ciphertext was altered or swapped."
            ) from exc
        if hashlib.sha256(data).hexdigest() != artifact.sha256:
            raise VaultIntegrityError(f"Artifact {artifact_id} does not match its recorded hash.")
        return data

    def shred_voice(self, session: Session, voice_id: str, reason: str) -> ShredReport:
        """Destroy the voice's data key, so none of its artifacts can be read again.

        The ciphertext files are deleted once the transaction commits. Calling
        it again reports the first destruction and changes nothing in the
        database; it only sweeps away files a crash may have left behind.
        """
        if not reason.strip():
            raise InvalidInput("Say why the voice is shredded.", fields=["reason"])
        voice = session.get(Voice, voice_id)
        if voice is None:
            raise NotFound(f"No voice {voice_id}.")
        # Locked before the artifacts are listed, so an artifact being added
        # concurrently is either listed here or refused afterwards.
        key = _voice_key(session, voice_id, lock=True)
        artifacts = session.scalars(
            select(VoiceArtifact)
            .where(VoiceArtifact.voice_id == voice_id)
            .order_by(VoiceArtifact.created_at, VoiceArtifact.id)
        ).all()
        _delete_after_commit(session, self._storage, [a.storage_key for a in artifacts])
        artifact_ids = tuple(artifact.id for artifact in artifacts)
        if key is not None and key.destroyed_at is not None:
            return ShredReport(voice_id, artifact_ids, key.destroyed_at)
        now = utcnow()
        if key is None:
            # No key yet: record the destruction anyway, so the voice never gets one.
            key = VoiceKey(voice_id=voice_id)
            session.add(key)
        key.wrapped_key = None
        key.destroyed_at = now
        key.destroyed_reason = reason
        voice.shredded_at = now
        session.flush()
        return ShredReport(voice_id, artifact_ids, now)

    def seal_evidence(self, data: bytes, *, context: str) -> bytes:
        """Encrypt evidence (a consent statement) bound to `context`; it outlives any voice."""
        if not context:
            raise ValueError("evidence must be sealed to a context")
        return _seal(self._evidence, data, context.encode())

    def open_evidence(self, blob: bytes, *, context: str) -> bytes:
        """Decrypt evidence sealed with `seal_evidence` under the same `context`."""
        try:
            return _open(self._evidence, blob, context.encode())
        except InvalidTag as exc:
            raise VaultIntegrityError(
                f"Evidence does not open under context {context!r}: altered, or sealed for another."
            ) from exc

    def _add_voice_key(self, session: Session, voice_id: str) -> VoiceKey:
        data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        key = VoiceKey(
            voice_id=voice_id, wrapped_key=_seal(self._master, data_key, voice_id.encode())
        )
        session.add(key)
        session.flush()
        return key

    def _unwrap(self, wrapped_key: bytes, voice_id: str) -> bytes:
        # Unwrapped on every use and never cached: a cache would outlive a shred.
        try:
            return _open(self._master, wrapped_key, voice_id.encode())
        except InvalidTag as exc:
            raise VaultIntegrityError(
                f"The key of voice {voice_id} does not unwrap: a different master key, or an altered row."
            ) from exc


def _voice_key(session: Session, voice_id: str, *, lock: bool = False) -> VoiceKey | None:
    query = (
        select(VoiceKey)
        .where(VoiceKey.voice_id == voice_id)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def _artifact_aad(artifact_id: str, kind: str) -> bytes:
    # NUL cannot occur in an id, so the pair has one encoding.
    return f"{artifact_id}\x00{kind}".encode()


def _seal(cipher: AESGCM, data: bytes, aad: bytes) -> bytes:
    """`nonce ‖ ciphertext ‖ tag`, with a fresh random 96-bit nonce."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + cipher.encrypt(nonce, data, aad)


def _open(cipher: AESGCM, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < NONCE_BYTES + _TAG_BYTES:
        raise InvalidTag
    return cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)


def _delete_after_commit(session: Session, storage: Storage, keys: Sequence[str]) -> None:
    def delete() -> None:
        for key in keys:
            # A file left behind is unreadable without its key; log it and go on.
            try:
                storage.delete(key)
            except OSError:
                log.warning("could not delete shredded ciphertext %s", key, exc_info=True)

    if keys:
        after_commit(session, delete)
