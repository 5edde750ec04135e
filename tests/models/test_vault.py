"""The voice vault on a real database and real files: encryption at rest and crypto-shredding."""

from __future__ import annotations

import base64
import hashlib
import shutil
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select

from consent.service import create_actor
from models.tables import Voice, VoiceArtifact, VoiceKey
from models.vault import (
    NONCE_BYTES,
    ArtifactShredded,
    MasterKeyInvalid,
    ShredReport,
    Vault,
    VaultIntegrityError,
    VoiceShredded,
    load_master_key,
)
from models.voices import register_voice
from voicehub.db import transaction
from voicehub.errors import Conflict, NotFound
from voicehub.runtime import Runtime
from voicehub.settings import Settings

REFERENCE = b"RIFF reference audio of the actor " * 64
WEIGHTS = b"\x00\x01model weights\xff" * 500


def new_voice(runtime: Runtime, name: str = "Actor") -> str:
    """A registered voice; storing its artifacts needs no consent yet, so none is granted."""
    with transaction(runtime.sessions) as session:
        actor = create_actor(session, name)
        voice = register_voice(
            session,
            runtime.engines,
            actor_id=actor.id,
            name=f"{name} voice",
            engine="piper",
            speaker="joe",
            language="en",
        )
        return voice.id


@pytest.fixture
def vault(runtime: Runtime) -> Vault:
    return Vault(runtime.storage, load_master_key(runtime.settings))


def put(runtime: Runtime, vault: Vault, voice_id: str, kind: str, data: bytes) -> VoiceArtifact:
    with transaction(runtime.sessions) as session:
        return vault.put_artifact(session, voice_id, kind, data)


def read(runtime: Runtime, vault: Vault, artifact_id: str) -> bytes:
    with transaction(runtime.sessions) as session:
        return vault.read_artifact(session, artifact_id)


def shred(runtime: Runtime, vault: Vault, voice_id: str, reason: str = "revoked") -> ShredReport:
    with transaction(runtime.sessions) as session:
        return vault.shred_voice(session, voice_id, reason)


def stored_file(runtime: Runtime, artifact: VoiceArtifact) -> Path:
    return runtime.storage.root / artifact.storage_key


def test_an_artifact_round_trips_and_is_encrypted_at_rest(runtime: Runtime, vault: Vault) -> None:
    voice_id = new_voice(runtime)

    artifact = put(runtime, vault, voice_id, "reference_audio", REFERENCE)

    assert artifact.storage_key == f"vault/{voice_id}/{artifact.id}.bin"
    assert artifact.sha256 == hashlib.sha256(REFERENCE).hexdigest()
    assert artifact.size == len(REFERENCE)
    on_disk = stored_file(runtime, artifact).read_bytes()
    assert len(on_disk) == NONCE_BYTES + len(REFERENCE) + 16
    assert b"reference audio" not in on_disk
    assert read(runtime, vault, artifact.id) == REFERENCE


def test_the_voice_key_is_made_on_first_use_and_only_once(runtime: Runtime, vault: Vault) -> None:
    voice_id = new_voice(runtime)
    put(runtime, vault, voice_id, "reference_audio", REFERENCE)
    second = put(runtime, vault, voice_id, "model_weights", WEIGHTS)

    with transaction(runtime.sessions) as session:
        key = session.get(VoiceKey, voice_id)
        assert key is not None and key.wrapped_key is not None
        # nonce + 32-byte data key + tag
        assert len(key.wrapped_key) == NONCE_BYTES + 32 + 16
        with pytest.raises(Conflict):
            vault.create_voice_key(session, voice_id)
    assert read(runtime, vault, second.id) == WEIGHTS


def test_artifacts_written_in_a_rolled_back_transaction_leave_nothing(
    runtime: Runtime, vault: Vault
) -> None:
    voice_id = new_voice(runtime)

    with pytest.raises(RuntimeError), transaction(runtime.sessions) as session:
        artifact = vault.put_artifact(session, voice_id, "reference_audio", REFERENCE)
        path = stored_file(runtime, artifact)
        assert path.exists()
        raise RuntimeError("the request failed")

    assert not path.exists()
    with transaction(runtime.sessions) as session:
        assert session.get(VoiceArtifact, artifact.id) is None


def test_a_tampered_ciphertext_is_detected(runtime: Runtime, vault: Vault) -> None:
    voice_id = new_voice(runtime)
    artifact = put(runtime, vault, voice_id, "reference_audio", REFERENCE)
    path = stored_file(runtime, artifact)
    blob = bytearray(path.read_bytes())
    blob[NONCE_BYTES + 10] ^= 0x01
    path.write_bytes(bytes(blob))

    with pytest.raises(VaultIntegrityError, match="altered"):
        read(runtime, vault, artifact.id)


def test_a_plaintext_that_does_not_match_its_recorded_hash_is_refused(
    runtime: Runtime, vault: Vault
) -> None:
    voice_id = new_voice(runtime)
    artifact = put(runtime, vault, voice_id, "reference_audio", REFERENCE)
    with transaction(runtime.sessions) as session:
        row = session.get(VoiceArtifact, artifact.id)
        assert row is not None
        row.sha256 = hashlib.sha256(b"something else").hexdigest()

    with pytest.raises(VaultIntegrityError, match="hash"):
        read(runtime, vault, artifact.id)


def test_another_voices_ciphertext_does_not_open_under_this_voices_key(
    runtime: Runtime, vault: Vault
) -> None:
    mine = put(runtime, vault, new_voice(runtime, name="A"), "reference_audio", REFERENCE)
    theirs = put(runtime, vault, new_voice(runtime, name="B"), "reference_audio", WEIGHTS)
    shutil.copyfile(stored_file(runtime, theirs), stored_file(runtime, mine))

    with pytest.raises(VaultIntegrityError, match="swapped"):
        read(runtime, vault, mine.id)


def test_swapping_two_artifacts_of_the_same_voice_is_detected(
    runtime: Runtime, vault: Vault
) -> None:
    voice_id = new_voice(runtime)
    first = put(runtime, vault, voice_id, "reference_audio", REFERENCE)
    second = put(runtime, vault, voice_id, "reference_audio", WEIGHTS)
    shutil.copyfile(stored_file(runtime, second), stored_file(runtime, first))

    # Refused by the cipher itself (the artifact id is bound in), not only by the hash.
    with pytest.raises(VaultIntegrityError, match="swapped"):
        read(runtime, vault, first.id)


def test_a_vault_with_another_master_key_cannot_unwrap_a_voice_key(
    runtime: Runtime, vault: Vault
) -> None:
    artifact = put(runtime, vault, new_voice(runtime), "reference_audio", REFERENCE)
    stranger = Vault(runtime.storage, AESGCM.generate_key(bit_length=256))

    with pytest.raises(VaultIntegrityError, match="different master key"):
        read(runtime, stranger, artifact.id)


def test_a_missing_ciphertext_or_artifact_is_reported(runtime: Runtime, vault: Vault) -> None:
    artifact = put(runtime, vault, new_voice(runtime), "reference_audio", REFERENCE)
    stored_file(runtime, artifact).unlink()

    with pytest.raises(VaultIntegrityError, match="missing"):
        read(runtime, vault, artifact.id)
    with pytest.raises(NotFound):
        read(runtime, vault, "art_doesnotexist")


def test_shredding_destroys_the_key_and_the_files_but_keeps_the_history(
    runtime: Runtime, vault: Vault
) -> None:
    voice_id = new_voice(runtime)
    first = put(runtime, vault, voice_id, "reference_audio", REFERENCE)
    second = put(runtime, vault, voice_id, "model_weights", WEIGHTS)
    paths = [stored_file(runtime, first), stored_file(runtime, second)]

    with transaction(runtime.sessions) as session:
        report = vault.shred_voice(session, voice_id, "consent revoked by the actor")
        # The files go only once the destruction is committed.
        assert all(path.exists() for path in paths)

    assert report.voice_id == voice_id
    assert set(report.artifacts) == {first.id, second.id}
    assert not any(path.exists() for path in paths)
    with transaction(runtime.sessions) as session:
        key = session.get(VoiceKey, voice_id)
        assert key is not None
        assert key.wrapped_key is None
        assert key.destroyed_at == report.destroyed_at
        assert key.destroyed_reason == "consent revoked by the actor"
        voice = session.get(Voice, voice_id)
        assert voice is not None and voice.shredded_at == report.destroyed_at
        kept = session.scalars(select(VoiceArtifact).where(VoiceArtifact.voice_id == voice_id))
        assert {row.id for row in kept} == {first.id, second.id}
    with pytest.raises(ArtifactShredded) as refused:
        read(runtime, vault, first.id)
    assert refused.value.status == 410
    assert refused.value.code == "artifact_shredded"


def test_a_session_that_read_before_the_shred_cannot_read_after_it(
    runtime: Runtime, vault: Vault
) -> None:
    voice_id = new_voice(runtime)
    artifact = put(runtime, vault, voice_id, "reference_audio", REFERENCE)

    with transaction(runtime.sessions) as long_running:
        assert vault.read_artifact(long_running, artifact.id) == REFERENCE
        # Held, so the session's identity map keeps the key row as it was loaded.
        held = long_running.get(VoiceKey, voice_id)
        assert held is not None and held.wrapped_key is not None
        # Another transaction (the actor revoking) shreds while this one is still open.
        shred(runtime, vault, voice_id)
        with pytest.raises(ArtifactShredded):
            vault.read_artifact(long_running, artifact.id)


def test_a_copy_of_a_ciphertext_taken_before_shredding_stays_unreadable(
    runtime: Runtime, vault: Vault, tmp_path: Path
) -> None:
    voice_id = new_voice(runtime)
    artifact = put(runtime, vault, voice_id, "reference_audio", REFERENCE)
    copy = tmp_path / "exfiltrated.bin"
    shutil.copyfile(stored_file(runtime, artifact), copy)

    shred(runtime, vault, voice_id)

    # Put the copy back where it was: the vault still refuses it.
    stored_file(runtime, artifact).write_bytes(copy.read_bytes())
    with pytest.raises(ArtifactShredded):
        read(runtime, vault, artifact.id)
    # And nothing left in the database opens it: the key row holds no key material
    # and the master key itself is not the data key.
    with transaction(runtime.sessions) as session:
        key = session.get(VoiceKey, voice_id)
        assert key is not None and key.wrapped_key is None
    blob = copy.read_bytes()
    aad = f"{artifact.id}\x00reference_audio".encode()
    for candidate in (load_master_key(runtime.settings), bytes(32)):
        with pytest.raises(InvalidTag):
            AESGCM(candidate).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)


def test_shredding_twice_reports_the_first_destruction_and_changes_nothing(
    runtime: Runtime, vault: Vault
) -> None:
    voice_id = new_voice(runtime)
    artifact = put(runtime, vault, voice_id, "reference_audio", REFERENCE)
    first = shred(runtime, vault, voice_id, "revoked")

    again = shred(runtime, vault, voice_id, "a second, different reason")

    assert again == first
    assert again.artifacts == (artifact.id,)
    with transaction(runtime.sessions) as session:
        key = session.get(VoiceKey, voice_id)
        assert key is not None
        assert key.destroyed_reason == "revoked"
        assert key.destroyed_at == first.destroyed_at
        voice = session.get(Voice, voice_id)
        assert voice is not None and voice.shredded_at == first.destroyed_at


def test_a_shred_that_rolls_back_leaves_everything_readable(runtime: Runtime, vault: Vault) -> None:
    voice_id = new_voice(runtime)
    artifact = put(runtime, vault, voice_id, "reference_audio", REFERENCE)

    with pytest.raises(RuntimeError), transaction(runtime.sessions) as session:
        vault.shred_voice(session, voice_id, "revoked")
        raise RuntimeError("the notification step failed")

    assert stored_file(runtime, artifact).exists()
    assert read(runtime, vault, artifact.id) == REFERENCE
    with transaction(runtime.sessions) as session:
        key = session.get(VoiceKey, voice_id)
        assert key is not None and key.wrapped_key is not None and key.destroyed_at is None
        voice = session.get(Voice, voice_id)
        assert voice is not None and voice.shredded_at is None


def test_a_shredded_voice_takes_no_new_artifacts(runtime: Runtime, vault: Vault) -> None:
    keyed = new_voice(runtime, name="A")
    put(runtime, vault, keyed, "reference_audio", REFERENCE)
    never_keyed = new_voice(runtime, name="B")
    shred(runtime, vault, keyed)
    report = shred(runtime, vault, never_keyed)

    assert report.artifacts == ()
    for voice_id in (keyed, never_keyed):
        with pytest.raises(VoiceShredded), transaction(runtime.sessions) as session:
            vault.put_artifact(session, voice_id, "reference_audio", REFERENCE)
        with pytest.raises(VoiceShredded), transaction(runtime.sessions) as session:
            vault.create_voice_key(session, voice_id)


def test_evidence_round_trips_and_is_bound_to_its_context(runtime: Runtime, vault: Vault) -> None:
    statement = b"I, the actor, consent to VoiceHub using my voice for animation."
    sealed = vault.seal_evidence(statement, context="consent:cns_1:statement")

    assert statement not in sealed
    assert vault.open_evidence(sealed, context="consent:cns_1:statement") == statement
    with pytest.raises(VaultIntegrityError):
        vault.open_evidence(sealed, context="consent:cns_2:statement")
    tampered = bytearray(sealed)
    tampered[-1] ^= 0x01
    with pytest.raises(VaultIntegrityError):
        vault.open_evidence(bytes(tampered), context="consent:cns_1:statement")
    stranger = Vault(runtime.storage, AESGCM.generate_key(bit_length=256))
    with pytest.raises(VaultIntegrityError):
        stranger.open_evidence(sealed, context="consent:cns_1:statement")


def test_evidence_survives_shredding_the_voice(runtime: Runtime, vault: Vault) -> None:
    voice_id = new_voice(runtime)
    put(runtime, vault, voice_id, "reference_audio", REFERENCE)
    sealed = vault.seal_evidence(b"spoken consent", context=f"voice:{voice_id}")

    shred(runtime, vault, voice_id)

    assert vault.open_evidence(sealed, context=f"voice:{voice_id}") == b"spoken consent"


def test_development_creates_a_private_master_key_file_once(tmp_path: Path) -> None:
    settings = Settings(environment="development", data_dir=tmp_path, master_key="")

    key = load_master_key(settings)

    path = tmp_path / "keys" / "master.key"
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert base64.b64decode(path.read_text()) == key
    assert load_master_key(settings) == key
    assert [p.name for p in path.parent.iterdir()] == ["master.key"]


def test_a_configured_master_key_is_used_and_checked(tmp_path: Path) -> None:
    key = bytes(range(32))
    configured = base64.b64encode(key).decode()

    assert load_master_key(Settings(data_dir=tmp_path, master_key=configured)) == key
    assert not (tmp_path / "keys").exists()
    with pytest.raises(MasterKeyInvalid, match="base64"):
        load_master_key(Settings(data_dir=tmp_path, master_key="not base64!"))
    with pytest.raises(MasterKeyInvalid, match="32 bytes"):
        load_master_key(Settings(data_dir=tmp_path, master_key=base64.b64encode(b"short").decode()))


def test_a_corrupt_master_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "master.key").write_text("garbage!\n")

    with pytest.raises(MasterKeyInvalid, match=r"master\.key"):
        load_master_key(Settings(data_dir=tmp_path, master_key=""))


def test_production_without_a_master_key_is_refused(tmp_path: Path) -> None:
    # Settings refuses this already; the vault does not rely on it.
    settings = Settings.model_construct(environment="production", data_dir=tmp_path, master_key="")

    with pytest.raises(MasterKeyInvalid, match="production"):
        load_master_key(settings)
    assert not (tmp_path / "keys").exists()
