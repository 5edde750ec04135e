"""The coqui-tts engine on tiny random-weight VITS models: timing exact, seeds honoured.

The models are built offline by tests/coqui_models.py in coqui's own checkpoint
format; they speak noise, but every code path (tokenizer, blanks, duration
predictor, decoder, speaker and language conditioning) is coqui's real one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from models.engines.base import SynthesisResult, SynthesisSettings
from models.engines.coqui import CoquiEngine, CoquiEngineConfig
from models.engines.registry import EngineRegistry, gpu_available
from models.errors import (
    EngineFailed,
    EngineNoTiming,
    ModelCorrupt,
    ModelMissing,
    ModelUnsupported,
    UnknownSpeaker,
)
from tests.coqui_models import (
    HOP_LENGTH,
    LANGUAGES,
    SAMPLE_RATE,
    SPEAKERS,
    TRAINING_SPEAKERS_FILE,
    TinyModel,
    build_tiny_model,
    write_xtts_model,
)
from voicehub.errors import LanguageUnsupported, TextEmpty
from voicehub.settings import Settings, parse_coqui_models

LINE = "Hello world, this is a test."
SEEDED = SynthesisSettings(seed=7)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("coqui")


@pytest.fixture(scope="module")
def tiny(models_dir: Path) -> TinyModel:
    return build_tiny_model(models_dir / "tiny")


@pytest.fixture(scope="module")
def engine(tiny: TinyModel) -> CoquiEngine:
    loaded = CoquiEngine(CoquiEngineConfig(checkpoint_path=tiny.directory))
    loaded.load()
    return loaded


@pytest.fixture(scope="module")
def multi(models_dir: Path) -> CoquiEngine:
    """Two speakers from a speaker table, two languages from a language table."""
    model = build_tiny_model(models_dir / "multi", speakers=SPEAKERS, languages=LANGUAGES)
    loaded = CoquiEngine(CoquiEngineConfig(checkpoint_path=model.checkpoint, name="coqui:multi"))
    loaded.load()
    return loaded


@pytest.fixture(scope="module")
def yourtts(models_dir: Path) -> TinyModel:
    """YourTTS-shaped: d-vectors from speakers.json, a language embedding."""
    return build_tiny_model(
        models_dir / "yourtts", speakers=SPEAKERS, d_vectors=True, languages=LANGUAGES
    )


def assert_timing_covers_audio(result: SynthesisResult) -> None:
    assert result.audio.dtype == np.float32
    assert result.audio.ndim == 1
    assert float(np.abs(result.audio).max()) <= 1.0
    start = 0
    for phoneme in result.phonemes:
        assert phoneme.start == start
        assert phoneme.samples >= 0
        start = phoneme.end
    assert start == result.num_samples > 0


def test_loads_from_directory_single_file_and_bytes(tiny: TinyModel, engine: CoquiEngine) -> None:
    data = tiny.checkpoint.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    from_file = CoquiEngine(CoquiEngineConfig(checkpoint_path=tiny.checkpoint))
    from_file.load()
    from_bytes = CoquiEngine.from_checkpoint_bytes(data, name="coqui:built", expected_sha256=digest)

    assert engine.info.model_version == from_file.info.model_version == digest
    assert from_bytes.info.model_version == digest
    assert from_bytes.info.name == "coqui:built"
    assert engine.info.speakers == ("tiny",)  # single speaker: named by its dataset
    assert engine.info.languages == ("en",)
    assert engine.info.sample_rate == SAMPLE_RATE
    assert engine.info.gpu_capable
    renders = [
        loaded.synthesize(LINE, speaker="tiny", settings=SEEDED).audio
        for loaded in (engine, from_file, from_bytes)
    ]
    assert np.array_equal(renders[0], renders[1])
    assert np.array_equal(renders[0], renders[2])


@pytest.mark.parametrize(
    "text",
    [
        LINE,
        "a",
        "Wait... what?! No, no -- (really) don't.",
        "It costs 3 dollars, Mr. Smith.",
        "  one\n two   three  ",
    ],
)
def test_timing_covers_the_audio_exactly(engine: CoquiEngine, text: str) -> None:
    result = engine.synthesize(text, speaker="tiny", settings=SEEDED)
    assert_timing_covers_audio(result)
    # Every count is whole duration frames of the decoder's hop.
    assert all(p.samples % HOP_LENGTH == 0 for p in result.phonemes)


def test_labels_are_the_tokens_with_blanks_folded_in(engine: CoquiEngine) -> None:
    result = engine.synthesize(LINE, speaker="tiny", settings=SEEDED)
    labels = [p.phoneme for p in result.phonemes]
    assert "<BLNK>" not in labels
    # english_cleaners lowercases; every letter is one spoken label, in order.
    assert "".join(p.phoneme for p in result.phonemes if not p.is_pause) == "helloworldthisisatest"
    pauses = {p.phoneme for p in result.phonemes if p.is_pause}
    assert pauses == {" ", ",", "."}
    assert [w.text for w in result.words] == ["Hello", "world", "this", "is", "a", "test"]
    hello = result.words[0]
    assert hello.start == 0
    assert hello.samples == sum(p.samples for p in result.phonemes[:5])


def test_same_seed_same_audio_and_the_seed_is_reported(engine: CoquiEngine) -> None:
    first = engine.synthesize(LINE, speaker="tiny", settings=SEEDED)
    again = engine.synthesize(LINE, speaker="tiny", settings=SEEDED)
    other = engine.synthesize(LINE, speaker="tiny", settings=SynthesisSettings(seed=8))
    assert first.seed == again.seed == 7
    assert other.seed == 8
    assert np.array_equal(first.audio, again.audio)
    assert first.phonemes == again.phonemes
    assert first.num_samples != other.num_samples or not np.array_equal(first.audio, other.audio)


def test_a_drawn_seed_remakes_the_take(engine: CoquiEngine) -> None:
    drawn = engine.synthesize(LINE, speaker="tiny", settings=SynthesisSettings())
    assert drawn.seed is not None and 0 <= drawn.seed < 2**31
    remade = engine.synthesize(LINE, speaker="tiny", settings=SynthesisSettings(seed=drawn.seed))
    assert np.array_equal(drawn.audio, remade.audio)


def test_seeding_leaves_the_callers_rng_alone(engine: CoquiEngine) -> None:
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    engine.synthesize(LINE, speaker="tiny", settings=SEEDED)
    assert torch.equal(torch.rand(3), expected)


def test_speed_two_is_shorter(engine: CoquiEngine) -> None:
    normal = engine.synthesize(LINE, speaker="tiny", settings=SEEDED)
    fast = engine.synthesize(LINE, speaker="tiny", settings=SynthesisSettings(speed=2.0, seed=7))
    assert_timing_covers_audio(fast)
    assert fast.num_samples < normal.num_samples
    # The same tokens, each no longer than before.
    assert [p.phoneme for p in fast.phonemes] == [p.phoneme for p in normal.phonemes]
    assert all(f.samples <= n.samples for f, n in zip(fast.phonemes, normal.phonemes, strict=True))


def test_sentence_pause_is_exact(engine: CoquiEngine) -> None:
    text = "Hello there. How are you?"
    long = engine.synthesize(
        text, speaker="tiny", settings=SynthesisSettings(sentence_pause=0.5, seed=3)
    )
    short = engine.synthesize(
        text, speaker="tiny", settings=SynthesisSettings(sentence_pause=0.2, seed=3)
    )
    first = engine.synthesize("Hello there.", speaker="tiny", settings=SynthesisSettings(seed=3))
    assert_timing_covers_audio(long)
    pause = round(0.5 * SAMPLE_RATE)
    assert long.num_samples - short.num_samples == pause - round(0.2 * SAMPLE_RATE)
    # Sentence one exactly as it sounds alone, then exactly the pause, in silence.
    assert np.array_equal(long.audio[: first.num_samples], first.audio)
    gap = [p for p in long.phonemes if p.start == first.num_samples]
    assert len(gap) == 1 and gap[0].is_pause and gap[0].samples == pause
    assert not long.audio[gap[0].start : gap[0].end].any()
    assert [w.text for w in long.words] == ["Hello", "there", "How", "are", "you"]
    assert long.seed == 3


@pytest.mark.parametrize("text", ["", "   ", "... !? --", "日本語です"])
def test_text_with_nothing_to_say_is_empty(engine: CoquiEngine, text: str) -> None:
    with pytest.raises(TextEmpty):
        engine.synthesize(text, speaker="tiny", settings=SEEDED)


def test_multi_speaker_model_lists_and_checks_its_speakers(multi: CoquiEngine) -> None:
    assert multi.info.speakers == SPEAKERS
    assert multi.info.languages == ("en", "pt")
    aoi = multi.synthesize(LINE, speaker="aoi", settings=SEEDED)
    ren = multi.synthesize(LINE, speaker="ren", settings=SEEDED)
    assert_timing_covers_audio(aoi)
    assert aoi.num_samples != ren.num_samples or not np.array_equal(aoi.audio, ren.audio)
    with pytest.raises(UnknownSpeaker) as caught:
        multi.synthesize(LINE, speaker="tiny", settings=SEEDED)
    assert caught.value.code == "unknown_speaker"
    assert "aoi, ren" in caught.value.detail


def test_languages_are_matched_on_the_model_s_own_names(multi: CoquiEngine) -> None:
    english = multi.synthesize(LINE, speaker="aoi", settings=replace(SEEDED, language="en-US"))
    default = multi.synthesize(LINE, speaker="aoi", settings=SEEDED)
    portuguese = multi.synthesize(LINE, speaker="aoi", settings=replace(SEEDED, language="pt-BR"))
    assert np.array_equal(english.audio, default.audio)
    # The language embedding conditions the model: another language, other audio.
    assert english.num_samples != portuguese.num_samples or not np.array_equal(
        english.audio, portuguese.audio
    )
    with pytest.raises(LanguageUnsupported) as caught:
        multi.synthesize(LINE, speaker="aoi", settings=replace(SEEDED, language="fr"))
    assert caught.value.code == "language_unsupported"


def test_yourtts_style_d_vectors_are_found_beside_the_weights(yourtts: TinyModel) -> None:
    config = yourtts.config_json.read_text(encoding="utf-8")
    assert TRAINING_SPEAKERS_FILE in config  # the trainer's path, not this machine's
    loaded = CoquiEngine(CoquiEngineConfig(checkpoint_path=yourtts.directory))
    loaded.load()
    assert loaded.info.speakers == SPEAKERS
    result = loaded.synthesize(LINE, speaker="ren", settings=replace(SEEDED, language="pt"))
    assert_timing_covers_audio(result)
    # From bytes there is no speakers file to read the d-vectors from.
    data = yourtts.checkpoint.read_bytes()
    with pytest.raises(ModelUnsupported, match="speakers file"):
        CoquiEngine.from_checkpoint_bytes(
            data, name="coqui:x", expected_sha256=hashlib.sha256(data).hexdigest()
        )


def test_xtts_is_refused_because_it_has_no_timing(models_dir: Path) -> None:
    directory = write_xtts_model(models_dir / "xtts")
    with pytest.raises(EngineNoTiming) as caught:
        CoquiEngine(CoquiEngineConfig(checkpoint_path=directory)).load()
    assert caught.value.code == "engine_no_timing"
    assert caught.value.status == 422
    assert "XTTS" in caught.value.detail and "timing" in caught.value.detail
    # The same from a single file that carries the XTTS config.
    with pytest.raises(EngineNoTiming):
        CoquiEngine(CoquiEngineConfig(checkpoint_path=directory / "model.pth")).load()


def test_a_missing_model_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.pth"
    with pytest.raises(ModelMissing) as caught:
        CoquiEngine(CoquiEngineConfig(checkpoint_path=missing)).load()
    assert caught.value.code == "model_missing"
    assert str(missing) in caught.value.detail
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelMissing, match="no model weights"):
        CoquiEngine(CoquiEngineConfig(checkpoint_path=empty)).load()


def test_a_truncated_or_garbage_checkpoint_is_corrupt(tiny: TinyModel, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(tiny.checkpoint.read_bytes()[:50_000])
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    for path in (truncated, garbage):
        with pytest.raises(ModelCorrupt) as caught:
            CoquiEngine(CoquiEngineConfig(checkpoint_path=path)).load()
        assert caught.value.code == "model_corrupt"
        assert str(path) in caught.value.detail


def test_weights_that_do_not_fit_their_config_are_corrupt(
    tiny: TinyModel, models_dir: Path
) -> None:
    other = build_tiny_model(models_dir / "other", speakers=SPEAKERS)
    with pytest.raises(ModelCorrupt, match="do not fit"):
        CoquiEngine(
            CoquiEngineConfig(checkpoint_path=tiny.checkpoint, config_path=other.config_json)
        ).load()


def test_audio_the_durations_do_not_cover_fails_the_line(tiny: TinyModel, tmp_path: Path) -> None:
    # A config that caps the decoder's input cuts the audio short of the predicted durations.
    config = json.loads(tiny.config_json.read_text(encoding="utf-8"))
    config["model_args"]["max_inference_len"] = 8
    capped = tmp_path / "capped.json"
    capped.write_text(json.dumps(config), encoding="utf-8")
    loaded = CoquiEngine(CoquiEngineConfig(checkpoint_path=tiny.checkpoint, config_path=capped))
    loaded.load()
    with pytest.raises(EngineFailed) as caught:
        loaded.synthesize(LINE, speaker="tiny", settings=SEEDED)
    assert caught.value.code == "engine_failed"
    assert f"{8 * HOP_LENGTH} samples" in caught.value.detail


def test_a_hash_other_than_the_expected_one_is_refused(tiny: TinyModel) -> None:
    data = tiny.checkpoint.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    pinned = "0" * 64
    with pytest.raises(ModelCorrupt) as caught:
        CoquiEngine.from_checkpoint_bytes(data, name="coqui:x", expected_sha256=pinned)
    assert actual in caught.value.detail and pinned in caught.value.detail
    assert caught.value.extra == {"expected_sha256": pinned, "actual_sha256": actual}
    with pytest.raises(ModelCorrupt, match=actual):
        CoquiEngine(
            CoquiEngineConfig(checkpoint_path=tiny.directory, expected_sha256=pinned)
        ).load()


def test_registry_loads_operator_models_as_coqui_engines(tiny: TinyModel) -> None:
    registry = EngineRegistry.load([], cache_dir=None, coqui_models={"aoi": tiny.directory})
    engine = registry.get("coqui:aoi")
    assert engine.info.name == "coqui:aoi"
    assert [info.name for info in registry.for_language("en-GB")] == ["coqui:aoi"]
    (status,) = registry.statuses()
    assert status.gpu_capable
    assert status.gpu_in_use == gpu_available()
    with pytest.raises(ValueError, match="coqui:ren"):
        EngineRegistry.load(["coqui:ren"], cache_dir=None, coqui_models={"aoi": tiny.directory})
    with pytest.raises(ModelMissing):
        EngineRegistry.load([], cache_dir=None, coqui_models={"gone": tiny.directory / "gone"})


def test_coqui_models_setting_is_parsed_and_bad_entries_are_named() -> None:
    assert parse_coqui_models(" aoi=/models/aoi , ren-2=/models/ren.pth,") == {
        "aoi": Path("/models/aoi"),
        "ren-2": Path("/models/ren.pth"),
    }
    assert Settings(coqui_models="").coqui_model_paths == {}
    for bad, named in [
        ("aoi", "'aoi'"),
        ("aoi=", "'aoi='"),
        ("=/models/aoi", "''"),
        ("Aoi Tanaka=/m", "'Aoi Tanaka'"),
        ("a" * 27 + "=/m", "'" + "a" * 27 + "'"),
        ("aoi=/a,aoi=/b", "'aoi' twice"),
    ]:
        with pytest.raises(ValidationError, match=named):
            Settings(coqui_models=bad)
