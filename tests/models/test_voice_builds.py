"""Voice builds below the API: recording checks, dataset preparation, training, consent to build.

Recordings are Piper's "joe" reading sentences; models are coqui-tts VITS trained
for a step or two on the CPU with the reduced configuration.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile
import torch
import torchaudio.functional as F
from pydantic import ValidationError
from sqlalchemy import select

from consent.errors import (
    ConsentMissing,
    ConsentPaused,
    ConsentRevoked,
    ConsentUnverified,
    VoiceBuildNotAllowed,
)
from consent.service import change_status, create_actor, grant_consent, verify_in_person
from consent.tables import ConsentLogEntry, ConsentStatus
from consent.terms import ConsentTerms
from models.builds.errors import BuildTooShort, RecordingUnusable
from models.builds.prepare import METADATA, Clip, prepare_dataset
from models.builds.recordings import RecordingLimits, check_recording, check_transcript
from models.builds.service import (
    MODEL_ARTIFACT,
    add_recording,
    blank_transcripts,
    consent_to_build,
    create_build,
    create_voice,
    start_build,
)
from models.builds.tables import BuildRecording, BuildStage, VoiceBuild
from models.builds.tasks import run_voice_build
from models.builds.train import (
    TrainingFailed,
    TrainingPlan,
    fine_tune,
    load_base,
    sample_rate_of,
)
from models.engines import SynthesisSettings
from models.engines.coqui import CoquiEngine
from models.engines.registry import EngineRegistry
from models.tables import Voice, VoiceArtifact
from tests.coqui_models import build_tiny_model
from voicehub.db import transaction, utcnow
from voicehub.runtime import Runtime
from voicehub.settings import Settings

LIMITS = RecordingLimits(min_seconds=1.0, max_seconds=20.0, max_clipped_fraction=0.001)
LINES = (
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore.",
    "A voice is a gift, so treat it with care.",
)
Audio = tuple[npt.NDArray[np.float32], int]


@pytest.fixture(scope="module")
def spoken(engines: EngineRegistry) -> list[Audio]:
    """Each line read by Piper's joe, as float samples and their rate."""
    piper = engines.get("piper")
    results = [
        piper.synthesize(text, speaker="joe", settings=SynthesisSettings(seed=1)) for text in LINES
    ]
    return [(result.audio, result.sample_rate) for result in results]


def _wav(audio: npt.NDArray[np.float32], rate: int, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, audio, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


# ---- recording checks -------------------------------------------------------------


def test_a_clean_recording_is_decoded_whatever_its_encoding(spoken: list[Audio]) -> None:
    audio, rate = spoken[0]
    for subtype in ("PCM_16", "PCM_24", "FLOAT"):
        checked = check_recording(_wav(audio, rate, subtype), LIMITS)
        assert checked.sample_rate == rate
        assert checked.samples.shape[0] == audio.shape[0]
    stereo = np.stack([audio, audio], axis=1)
    assert check_recording(_wav(stereo, rate), LIMITS).samples.ndim == 1


def _refusal(data: bytes) -> RecordingUnusable:
    with pytest.raises(RecordingUnusable) as caught:
        check_recording(data, LIMITS)
    return caught.value


def test_silent_clipped_short_long_and_unreadable_recordings_are_refused_by_name(
    spoken: list[Audio],
) -> None:
    audio, rate = spoken[0]

    silent = _refusal(_wav(np.zeros(2 * rate, dtype=np.float32), rate))
    assert silent.reason == "silent" and "silent" in silent.detail

    hiss = np.random.default_rng(0).normal(0, 0.003, 3 * rate).astype(np.float32)
    assert _refusal(_wav(hiss, rate)).reason == "silent"

    clipped = _refusal(_wav(np.clip(audio * 20, -1.0, 1.0), rate))
    assert clipped.reason == "clipped"
    assert clipped.extra["clipped_fraction"] > LIMITS.max_clipped_fraction
    assert f"{clipped.extra['clipped_fraction']:.2%}" in clipped.detail

    short = _refusal(_wav(audio[: rate // 2], rate))
    assert short.reason == "too_short" and "0.50 seconds" in short.detail

    long = _refusal(_wav(np.tile(audio, 9), rate))
    assert long.reason == "too_long" and "at most 20 seconds" in long.detail

    assert _refusal(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10).reason == "format"
    flac = io.BytesIO()
    soundfile.write(flac, audio, rate, format="FLAC")
    not_wav = _refusal(flac.getvalue())
    assert not_wav.reason == "format" and "FLAC" in not_wav.detail


def test_a_transcript_must_say_something_the_dataset_can_hold() -> None:
    assert check_transcript("  Hello\n  there ") == "Hello there"
    for empty in ("", "   \n\t"):
        with pytest.raises(RecordingUnusable) as caught:
            check_transcript(empty)
        assert caught.value.reason == "transcript_empty"
    with pytest.raises(RecordingUnusable) as caught:
        check_transcript("left | right")
    assert caught.value.reason == "transcript_invalid"


# ---- dataset preparation ------------------------------------------------------------


def test_clips_are_resampled_trimmed_and_normalised(spoken: list[Audio], tmp_path: Path) -> None:
    audio, rate = spoken[0]
    pad = np.random.default_rng(1).normal(0, 1e-4, int(0.8 * rate)).astype(np.float32)
    quiet = np.concatenate([pad, audio * 0.1, pad])
    dataset = prepare_dataset(
        [Clip("clip00000", _wav(quiet, rate), LINES[0])],
        tmp_path,
        sample_rate=16000,
        loudness_lufs=-23.0,
    )

    written, written_rate = soundfile.read(tmp_path / "wavs" / "clip00000.wav", dtype="float32")
    assert written_rate == dataset.sample_rate == 16000
    padded_seconds = quiet.shape[0] / rate
    speech_seconds = audio.shape[0] / rate
    seconds = written.shape[0] / written_rate
    # Most of the 1.6 s of padding is gone, and none of the speech.
    assert speech_seconds - 0.1 < seconds < padded_seconds - 1.0
    loudness = float(F.loudness(torch.from_numpy(written).unsqueeze(0), written_rate))
    assert abs(loudness - (-23.0)) < 0.5
    assert dataset.clips[0].loudness_lufs < -30  # it was measured before the gain
    assert (tmp_path / METADATA).read_text(encoding="utf-8") == f"clip00000|{LINES[0]}|{LINES[0]}\n"


# ---- training -----------------------------------------------------------------------


def test_a_build_fine_tunes_a_base_checkpoint_and_keeps_its_config(
    spoken: list[Audio], tmp_path: Path
) -> None:
    base_model = build_tiny_model(tmp_path / "base")
    plan = TrainingPlan(
        language="en",
        steps=1,
        batch_size=2,
        model_size="full",
        sample_rate=16000,
        base_checkpoint=base_model.checkpoint,
    )
    base = load_base(plan)
    assert base is not None
    assert sample_rate_of(plan, base) == 22050, "the base's rate, not the plan's"
    dataset = prepare_dataset(
        [
            Clip(f"clip{i}", _wav(a, r), text)
            for i, ((a, r), text) in enumerate(zip(spoken, LINES, strict=True))
        ],
        tmp_path / "dataset",
        sample_rate=sample_rate_of(plan, base),
        loudness_lufs=-23.0,
    )
    steps: list[int] = []

    trained = fine_tune(plan, base, dataset.root, LINES, on_step=steps.append)

    assert steps == [1]
    # The trainer's log file in the run directory is closed and detached again.
    assert not [
        handler
        for handler in logging.getLogger("trainer").handlers
        if str(getattr(handler, "baseFilename", "")).startswith(str(tmp_path))
    ]
    state = torch.load(io.BytesIO(trained.checkpoint), map_location="cpu", weights_only=True)
    assert not any(key.startswith("disc.") for key in state["model"])
    assert state["config"]["characters"] == base.config["characters"]
    assert state["config"]["model_args"]["hidden_channels"] == 32
    moved = [
        key
        for key, value in state["model"].items()
        if value.is_floating_point() and not torch.equal(value, base.weights[key])
    ]
    assert moved, "one step of training changes the weights"
    engine = CoquiEngine.from_checkpoint_bytes(
        trained.checkpoint, name="coqui", expected_sha256=trained.sha256
    )
    assert engine.info.languages == ("en",) and engine.info.speakers == ("default",)
    result = engine.synthesize("hello", speaker="default", settings=SynthesisSettings(seed=2))
    assert sum(p.samples for p in result.phonemes) == result.num_samples > 0


def test_a_base_must_speak_the_voices_language(tmp_path: Path) -> None:
    base_model = build_tiny_model(tmp_path / "base")
    plan = TrainingPlan("ja", 1, 2, "reduced", 22050, base_model.checkpoint)
    with pytest.raises(TrainingFailed, match="speaks en, not ja"):
        load_base(plan)
    with pytest.raises(TrainingFailed, match="cannot be read"):
        load_base(TrainingPlan("en", 1, 2, "reduced", 22050, tmp_path / "missing.pth"))


def test_base_checkpoints_are_parsed_and_a_malformed_entry_fails_at_startup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(build_base_checkpoints=" ja-JP=/m/ja.pth, en_US=/m/en.pth,")
    assert settings.build_base_checkpoint_paths == {
        "ja": Path("/m/ja.pth"),
        "en": Path("/m/en.pth"),
    }
    assert TrainingPlan.for_language(settings, "ja").base_checkpoint == Path("/m/ja.pth")
    assert TrainingPlan.for_language(settings, "fr").base_checkpoint is None
    for bad, named in [
        ("/m/en.pth", "entry '/m/en.pth' must be language=/path"),
        ("en=", "entry 'en=' must be language=/path"),
        ("=/m/en.pth", "entry '=/m/en.pth' must be language=/path"),
        ("english=/m/en.pth", "'english' is not a language tag"),
        ("ja=/m/a.pth,ja-JP=/m/b.pth", "names language 'ja' twice (entry 'ja-JP=/m/b.pth')"),
    ]:
        with pytest.raises(ValidationError, match=re.escape(named)):
            Settings(build_base_checkpoints=bad)
    # As the service starts: the environment is read when the settings are.
    monkeypatch.setenv("VOICEHUB_BUILD_BASE_CHECKPOINTS", "ja=/m/ja.pth,/m/en.pth")
    with pytest.raises(
        ValidationError, match=r"VOICEHUB_BUILD_BASE_CHECKPOINTS entry '/m/en\.pth'"
    ):
        Settings()


# ---- consent to build ---------------------------------------------------------------


@pytest.fixture
def build_settings(runtime: Runtime) -> Iterator[Runtime]:
    """Builds of a few seconds of audio, two CPU steps on the reduced model."""
    runtime.settings = runtime.settings.model_copy(
        update={
            "build_steps": 2,
            "build_batch_size": 2,
            "build_model_size": "reduced",
            "build_min_total_seconds": 5.0,
        }
    )
    yield runtime


def _voice(
    runtime: Runtime, *, allows: bool = True, verified: bool = True, notice_days: int = 0
) -> tuple[str, str, str]:
    """An actor's voice to build, with consent; (actor id, voice id, consent id)."""
    with transaction(runtime.sessions) as session:
        actor = create_actor(session, "Joe")
        voice = create_voice(session, actor_id=actor.id, name="Joe (own voice)", language="en")
        version = grant_consent(
            session,
            voice=voice,
            terms=ConsentTerms(
                signer_name="Joe",
                use_description="Narration of the studio's English audiobooks and their trailers.",
                allowed_uses=("audiobooks",),
                languages=("en",),
                currency="JPY",
                prices_per_1k_chars_micros={"audiobooks": 1_000_000_000},
                actor_share_bps=7000,
                starts_at=utcnow() - dt.timedelta(days=1),
                notice_period_days=notice_days,
                allows_voice_build=allows,
            ),
            changed_by="test",
        )
        if verified:
            verify_in_person(session, consent_id=version.consent_id, operator="t", note="ID")
    return actor.id, voice.id, version.consent_id


def test_building_needs_a_verified_consent_in_force_that_allows_it(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        actor = create_actor(session, "Nobody")
        bare = create_voice(session, actor_id=actor.id, name="v", language="en")
    cases = [
        (bare.id, ConsentMissing),
        (_voice(runtime, verified=False)[1], ConsentUnverified),
        (_voice(runtime, allows=False)[1], VoiceBuildNotAllowed),
    ]
    for voice_id, refusal in cases:
        with transaction(runtime.sessions) as session, pytest.raises(refusal):
            consent_to_build(session, voice_id)

    actor_id, voice_id, consent_id = _voice(runtime, notice_days=30)
    with transaction(runtime.sessions) as session:
        assert consent_to_build(session, voice_id).allows_voice_build
    for status, refusal in (
        (ConsentStatus.PAUSED, ConsentPaused),
        (ConsentStatus.REVOKED, ConsentRevoked),
    ):
        with transaction(runtime.sessions) as session:
            change_status(
                session,
                runtime.consent_effects,
                actor_id=actor_id,
                consent_id=consent_id,
                status=status,
                changed_by="test",
            )
        # A revocation with a notice period lets approved projects finish; it trains nothing.
        with transaction(runtime.sessions) as session, pytest.raises(refusal):
            consent_to_build(session, voice_id)


def _collect(runtime: Runtime, spoken: list[Audio], voice_id: str, actor_id: str) -> str:
    with transaction(runtime.sessions) as session:
        build = create_build(session, actor_id=actor_id, voice_id=voice_id)
        for (audio, rate), text in zip(spoken, LINES, strict=True):
            add_recording(
                session,
                runtime.vault,
                runtime.settings,
                actor_id=actor_id,
                voice_id=voice_id,
                build_id=build.id,
                data=_wav(audio, rate),
                transcript=text,
            )
    return build.id


def test_a_revocation_blanks_the_transcripts_of_the_voices_recordings(
    runtime: Runtime, spoken: list[Audio]
) -> None:
    actor_id, voice_id, consent_id = _voice(runtime)
    first = _collect(runtime, spoken, voice_id, actor_id)
    # A second build of the same voice, with the same takes (duplicates only within one build).
    second = _collect(runtime, spoken, voice_id, actor_id)
    other_actor, other_voice, _ = _voice(runtime)
    kept = _collect(runtime, spoken, other_voice, other_actor)
    assert _transcripts(runtime, first) == list(LINES)

    with transaction(runtime.sessions) as session:
        change_status(
            session,
            runtime.consent_effects,
            actor_id=actor_id,
            consent_id=consent_id,
            status=ConsentStatus.REVOKED,
            changed_by="test",
        )

    assert _transcripts(runtime, first) == ["", "", ""]
    assert _transcripts(runtime, second) == ["", "", ""]
    assert _transcripts(runtime, kept) == list(LINES), "another voice's build is untouched"
    with runtime.sessions() as session:
        # Blanked in the shred's own transaction, and said so in the consent log.
        event = session.scalars(
            select(ConsentLogEntry).where(ConsentLogEntry.event == "voice.shredded")
        ).one()
        assert event.payload["voice_id"] == voice_id
        assert event.payload["transcripts_blanked"] == 6
        # Shredding again finds nothing left to blank.
        assert blank_transcripts(session, voice_id) == 0


def _transcripts(runtime: Runtime, build_id: str) -> list[str]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(BuildRecording.transcript)
                .where(BuildRecording.build_id == build_id)
                .order_by(BuildRecording.created_at, BuildRecording.id)
            )
        )


def test_a_pause_while_it_trains_wins_and_nothing_is_registered(
    build_settings: Runtime, spoken: list[Audio]
) -> None:
    runtime = build_settings
    actor_id, voice_id, consent_id = _voice(runtime)
    build_id = _collect(runtime, spoken, voice_id, actor_id)
    with transaction(runtime.sessions) as session:
        start_build(
            session,
            runtime.queue,
            runtime.settings,
            actor_id=actor_id,
            voice_id=voice_id,
            build_id=build_id,
        )
    job = threading.Thread(target=run_voice_build, args=(runtime, build_id))
    job.start()
    deadline = time.monotonic() + 60
    while (
        _stage(runtime, build_id) in (BuildStage.QUEUED, BuildStage.PREPARING)
        and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    with transaction(runtime.sessions) as session:
        change_status(
            session,
            runtime.consent_effects,
            actor_id=actor_id,
            consent_id=consent_id,
            status=ConsentStatus.PAUSED,
            changed_by="test",
        )
    job.join(timeout=120)

    assert not job.is_alive()
    with runtime.sessions() as session:
        build = session.get(VoiceBuild, build_id)
        voice = session.get(Voice, voice_id)
        assert build is not None and voice is not None
        assert build.stage is BuildStage.FAILED
        assert build.error_code == "consent_paused"
        assert build.model_sha256 == "" and voice.model_sha256 == ""
        models = session.scalars(
            select(VoiceArtifact.id).where(
                VoiceArtifact.voice_id == voice_id, VoiceArtifact.kind == MODEL_ARTIFACT
            )
        ).all()
        assert models == []
        finished_at = build.finished_at

    # Running the task again changes nothing: the build is not queued.
    run_voice_build(runtime, build_id)
    with runtime.sessions() as session:
        again = session.get(VoiceBuild, build_id)
        assert again is not None
        assert again.stage is BuildStage.FAILED and again.finished_at == finished_at


def test_a_build_needs_enough_speech_in_all(build_settings: Runtime, spoken: list[Audio]) -> None:
    runtime = build_settings
    runtime.settings = runtime.settings.model_copy(update={"build_min_total_seconds": 60.0})
    actor_id, voice_id, _ = _voice(runtime)
    build_id = _collect(runtime, spoken, voice_id, actor_id)
    with transaction(runtime.sessions) as session, pytest.raises(BuildTooShort) as caught:
        start_build(
            session,
            runtime.queue,
            runtime.settings,
            actor_id=actor_id,
            voice_id=voice_id,
            build_id=build_id,
        )
    assert "at least 60" in caught.value.detail
    assert _stage(runtime, build_id) is BuildStage.COLLECTING


def _stage(runtime: Runtime, build_id: str) -> BuildStage | None:
    with runtime.sessions() as session:
        build = session.get(VoiceBuild, build_id)
        return None if build is None else build.stage
