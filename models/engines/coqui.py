"""coqui-tts VITS models (VITS, YourTTS): per-token durations from the model's own predictor.

A studio's model is a directory (config.json + model.pth or checkpoint_*.pth, as
coqui's trainer leaves it), a single .pth whose dict carries its "config", or the
same bytes in memory (a voice build decrypted from the vault). Timing is the
duration predictor's frames per input token times the decoder's upsampling, and it
must cover the audio to the sample; autoregressive models such as XTTS have no such
output and are refused rather than guessed.

VITS draws noise for its durations and its latent, so a take is reproducible only
under a seed. The torch RNG is process-wide: inference runs one call at a time under
a lock, inside a forked RNG seeded for that call, so other torch users (the speaker
verifier) neither disturb nor are disturbed by it.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import math
import re
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.engines.base import (
    PAUSE_LABEL,
    EngineInfo,
    PhonemeTiming,
    SynthesisResult,
    SynthesisSettings,
    WordTiming,
    check_speaker,
    is_punctuation,
    join_sentences,
    label_words,
    timings_from_counts,
    word_groups,
)
from models.errors import (
    EngineFailed,
    EngineNoTiming,
    ModelCorrupt,
    ModelMissing,
    ModelUnsupported,
)
from voicehub.errors import EngineUnavailable, LanguageUnsupported, TextEmpty

if TYPE_CHECKING:
    import torch

NAME = "coqui"

# Where a model loaded from bytes says it came from, in messages.
IN_MEMORY = Path("<in memory>")
# coqui-tts model types whose output carries per-token durations.
_TIMED_MODELS = frozenset({"vits"})
# Autoregressive models: they decode audio step by step and have no durations at all.
_UNTIMED_MODELS = {"xtts": "XTTS", "bark": "Bark", "tortoise": "Tortoise"}
# The names coqui's model manager and trainer give a model's weights, most final first.
_CHECKPOINT_NAMES = ("model.pth", "model_file.pth", "best_model.pth", "checkpoint.pth")
_TRAINER_CHECKPOINT = re.compile(r"checkpoint_(\d+)\.pth")
# Files next to the weights that a config names by the trainer machine's absolute path.
_SIDE_FILES = {
    "speakers_file": ("speaker_ids.json", "speaker_ids.pth"),
    "d_vector_file": ("speakers.json", "speakers.pth"),
    "language_ids_file": ("language_ids.json",),
}
# Stress marks are not sounds: their samples go to the phoneme they stress.
_STRESS_MARKS = frozenset("ˈˌ")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])")

_inference = threading.Lock()


@dataclass(frozen=True)
class CoquiEngineConfig:
    """Which model to load and where it runs.

    - `checkpoint_path`: a model directory or a single .pth file.
    - `config_path`: a config.json to use instead of the directory's or the embedded one.
    - `expected_sha256`: refuse weights whose content hash differs (a voice pins its model).
    - `device`: "cpu", "cuda" or "cuda:N". On the CPU, torch keeps its own thread count
      (one per physical core, or OMP_NUM_THREADS): coqui calls run one at a time, so
      each may use every core.
    """

    checkpoint_path: Path
    config_path: Path | None = None
    name: str = NAME
    device: str = "cpu"
    expected_sha256: str | None = None


@dataclass(frozen=True)
class _Tokens:
    """A sentence as model input, and which timing label each token's samples belong to."""

    text: str
    ids: list[int]
    owners: list[int]
    labels: list[tuple[str, bool]]

    @property
    def spoken(self) -> bool:
        return any(not is_pause for _, is_pause in self.labels)


@dataclass(frozen=True)
class _Loaded:
    model: Any
    info: EngineInfo
    # Per speaker, the conditioning that goes into `aux_input` (speaker id or d-vector).
    conditioning: Mapping[str, Mapping[str, torch.Tensor]]
    # The model's own language names, in its order ("en", "fr-fr", "pt-br").
    language_names: tuple[str, ...]
    # Language embedding inputs, for models that have a language embedding.
    language_ids: Mapping[str, torch.Tensor]
    samples_per_frame: int
    length_scale: float


class CoquiEngine:
    """Synthesis with a coqui-tts VITS-family model; timing is the model's duration output."""

    def __init__(self, config: CoquiEngineConfig) -> None:
        self.config = config
        self._loaded: _Loaded | None = None

    @classmethod
    def from_checkpoint_bytes(
        cls, data: bytes, *, name: str, expected_sha256: str, device: str = "cpu"
    ) -> CoquiEngine:
        """A loaded engine from checkpoint bytes that carry their config; nothing touches disk.

        The bytes must hash to `expected_sha256`; a d-vector model (YourTTS) also needs its
        speakers file and so must be loaded from a directory instead.
        """
        engine = cls(
            CoquiEngineConfig(
                checkpoint_path=IN_MEMORY, name=name, device=device, expected_sha256=expected_sha256
            )
        )
        engine._loaded = _build(data, engine.config, config_dict=None, model_dir=None)
        return engine

    @property
    def info(self) -> EngineInfo:
        return self._require_loaded().info

    @property
    def device(self) -> str:
        return self.config.device

    def load(self) -> None:
        """Read, verify and build the model once; later calls do nothing."""
        if self._loaded is not None:
            return
        path = self.config.checkpoint_path
        if not path.exists():
            raise ModelMissing(f"There is no coqui model at {path}.", path=str(path))
        config_path = self.config.config_path
        if config_path is not None and not config_path.is_file():
            raise ModelMissing(f"There is no model config at {config_path}.", path=str(config_path))
        if path.is_dir():
            model_dir = path
            if config_path is None and (path / "config.json").is_file():
                config_path = path / "config.json"
            checkpoint = _find_checkpoint(path)
        else:
            model_dir = path.parent
            checkpoint = path
        config_dict = _read_config(config_path) if config_path is not None else None
        if config_dict is not None:
            # Refuse an XTTS directory before reading gigabytes of weights.
            _check_model_type(config_dict, source=config_path or checkpoint)
        try:
            data = checkpoint.read_bytes()
        except OSError as error:
            raise ModelCorrupt(
                f"The model {checkpoint} cannot be read: {error}", path=str(checkpoint)
            ) from None
        self._loaded = _build(data, self.config, config_dict=config_dict, model_dir=model_dir)

    def synthesize(
        self,
        text: str,
        *,
        speaker: str,
        settings: SynthesisSettings,
    ) -> SynthesisResult:
        """Render `text`; with a sentence pause, sentence by sentence with exact silence between.

        `settings.language` picks among a multi-lingual model's languages ("pt" finds
        "pt-br"); None speaks the model's first language.
        """
        loaded = self._require_loaded()
        check_speaker(loaded.info, speaker)
        model_language = _model_language(loaded, settings.language)
        text = text.strip()
        sentences = (
            [text]
            if settings.sentence_pause is None
            else [sentence for sentence in _SENTENCE_END.split(text) if sentence.strip()]
        )
        tokenized = [_tokenize(loaded.model, sentence, model_language) for sentence in sentences]
        tokenized = [tokens for tokens in tokenized if tokens.spoken]
        if not tokenized:
            raise TextEmpty(f"The text has nothing {loaded.info.name} can speak.")

        import torch

        seed = settings.seed if settings.seed is not None else secrets.randbelow(2**31)
        aux = dict(loaded.conditioning[speaker])
        if model_language is not None and model_language in loaded.language_ids:
            aux["language_ids"] = loaded.language_ids[model_language]
        with _inference, _seeded(seed, self.config.device), torch.inference_mode():
            loaded.model.length_scale = loaded.length_scale / settings.speed
            parts = [_render(loaded, tokens, aux, seed) for tokens in tokenized]
        return join_sentences(parts, settings.pause_samples(loaded.info.sample_rate, 0.0))

    def _require_loaded(self) -> _Loaded:
        if self._loaded is None:
            raise RuntimeError("The coqui engine is not loaded; call load() first.")
        return self._loaded


def _find_checkpoint(model_dir: Path) -> Path:
    """The weights in a model directory: the released name, else the trainer's latest step."""
    for name in _CHECKPOINT_NAMES:
        if (model_dir / name).is_file():
            return model_dir / name
    steps = {
        int(match.group(1)): path
        for path in model_dir.glob("checkpoint_*.pth")
        if (match := _TRAINER_CHECKPOINT.fullmatch(path.name))
    }
    if not steps:
        raise ModelMissing(
            f"{model_dir} has no model weights ({', '.join(_CHECKPOINT_NAMES)} or checkpoint_N.pth).",
            path=str(model_dir),
        )
    return steps[max(steps)]


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelCorrupt(
            f"The model config {path} cannot be read as JSON: {error}", path=str(path)
        ) from None
    if not isinstance(config, dict):
        raise ModelCorrupt(f"The model config {path} is not a JSON object.", path=str(path))
    return config


def _check_model_type(config: Mapping[str, Any], *, source: Path) -> None:
    """The config's model type, if VoiceHub can time it; a typed refusal otherwise."""
    model = str(config.get("model", "")).lower()
    if model in _UNTIMED_MODELS:
        raise EngineNoTiming(
            f"{source} is a {_UNTIMED_MODELS[model]} model: it generates audio step by step and"
            " reports no phoneme durations, and VoiceHub never guesses timing. Use a VITS or"
            " YourTTS model.",
            model=model,
        )
    if model not in _TIMED_MODELS:
        raise ModelUnsupported(
            f"{source} is a {model or 'untyped'!r} model; VoiceHub serves coqui-tts VITS-family"
            " models (VITS, YourTTS).",
            model=model,
        )


def _build(
    data: bytes,
    engine_config: CoquiEngineConfig,
    *,
    config_dict: dict[str, Any] | None,
    model_dir: Path | None,
) -> _Loaded:
    """Verify the bytes' hash, read the checkpoint and make the model ready for inference."""
    import torch

    # coqui's tokenizer logs a line's whole text when it drops a character; a
    # studio's script must not end up in the server's logs.
    logging.getLogger("TTS.tts.utils.text.tokenizer").setLevel(logging.ERROR)
    from TTS.tts.models.vits import Vits

    source = engine_config.checkpoint_path
    digest = hashlib.sha256(data).hexdigest()
    expected = engine_config.expected_sha256
    if expected is not None and digest != expected.lower():
        raise ModelCorrupt(
            f"The model {source} hashes to {digest}, not the expected {expected}.",
            expected_sha256=expected,
            actual_sha256=digest,
        )
    state = _read_checkpoint(data, source)
    if config_dict is None:
        embedded = state.get("config")
        if isinstance(embedded, dict):
            config_dict = embedded
        elif model_dir is not None and (model_dir / "config.json").is_file():
            config_dict = _read_config(model_dir / "config.json")
        else:
            raise ModelCorrupt(
                f"The model {source} carries no config and has no config.json beside it.",
                path=str(source),
            )
    _check_model_type(config_dict, source=source)
    config = _coqpit_config(config_dict, source, model_dir)
    device = _device(engine_config.device)

    try:
        model = Vits(config)
    except (ValueError, KeyError, RuntimeError, OSError, ImportError) as error:
        raise ModelUnsupported(f"coqui-tts cannot build the model {source}: {error}") from None
    weights = {
        key: value
        for key, value in state["model"].items()
        # The discriminator only trains; the speaker encoder only computes new d-vectors.
        if not key.startswith(("disc.", "speaker_encoder."))
    }
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        raise ModelCorrupt(
            f"The weights in {source} do not fit the model its config describes: {error}",
            path=str(source),
        ) from None
    model.eval()
    model.to(device)

    names = tuple(str(name) for name in model.language_manager.name_to_id)
    language_ids: dict[str, torch.Tensor] = {}
    if model.args.use_language_embedding and names:
        language_ids = {
            name: torch.tensor([index], device=device)
            for name, index in model.language_manager.name_to_id.items()
        }
    conditioning = _speaker_conditioning(model, config, device, source)
    return _Loaded(
        model=model,
        info=EngineInfo(
            name=engine_config.name,
            languages=tuple(dict.fromkeys(_primary(name) for name in names)),
            sample_rate=int(config.audio.sample_rate),
            model_version=digest,
            speakers=tuple(conditioning),
            gpu_capable=True,
        ),
        conditioning=conditioning,
        language_names=names,
        language_ids=language_ids,
        samples_per_frame=_samples_per_frame(model, source),
        length_scale=float(model.length_scale),
    )


def _read_checkpoint(data: bytes, source: Path) -> dict[str, Any]:
    """The checkpoint dict, read with torch's weights-only loader (no code in the pickle runs)."""
    import torch

    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises anything from EOFError to UnpicklingError here.
        raise ModelCorrupt(
            f"The model {source} cannot be read as a torch checkpoint: {error}", path=str(source)
        ) from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise ModelCorrupt(
            f"The model {source} is not a coqui-tts checkpoint (no 'model' weights).",
            path=str(source),
        )
    return state


def _coqpit_config(config_dict: dict[str, Any], source: Path, model_dir: Path | None) -> Any:
    """coqui's config object, set up for inference and with side files found beside the weights."""
    from TTS.config import register_config

    try:
        config = register_config(str(config_dict["model"]).lower())()
        config.from_dict(copy.deepcopy(config_dict))
    except (KeyError, TypeError, ValueError, ModuleNotFoundError) as error:
        raise ModelCorrupt(f"The config of {source} cannot be read: {error}") from None
    args = config.model_args
    args.init_discriminator = False
    args.use_speaker_encoder_as_loss = False
    args.speaker_encoder_model_path = ""
    args.speaker_encoder_config_path = ""
    for key, defaults in _SIDE_FILES.items():
        named = args.get(key) or config.get(key)
        resolved = _side_file(named, defaults, model_dir)
        if key in args:
            args[key] = resolved
        if key in config:
            config[key] = resolved
    return config


def _side_file(named: Any, defaults: tuple[str, ...], model_dir: Path | None) -> str | None:
    """A side file the config names, looked for beside the weights by its file name."""
    if isinstance(named, list):
        named = named[0] if named else None
    if model_dir is None:
        return None
    for name in (Path(str(named)).name if named else None, *defaults):
        if name and (model_dir / name).is_file():
            return str(model_dir / name)
    return None


def _device(device: str) -> torch.device:
    import torch

    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise EngineUnavailable(f"{device!r} is not a torch device.", device=device) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise EngineUnavailable(
            f"The model is configured for {device}, but torch sees no CUDA GPU here.",
            device=device,
        )
    return resolved


def _speaker_conditioning(
    model: Any, config: Any, device: torch.device, source: Path
) -> dict[str, dict[str, torch.Tensor]]:
    """Each speaker's name and what conditions the model on them, in the model's order."""
    import torch
    from TTS.config import get_from_config_or_model_args

    manager = model.speaker_manager
    if get_from_config_or_model_args(config, "use_d_vector_file", False):
        names = sorted(manager.embedding_names) if manager is not None else []
        if not names:
            raise ModelUnsupported(
                f"The model {source} conditions on d-vectors, but its speakers file"
                " (speakers.json / speakers.pth) is not beside it."
            )
        return {
            name: {
                "d_vectors": torch.tensor(
                    np.asarray(manager.get_mean_embedding(name), dtype=np.float32), device=device
                ).unsqueeze(0)
            }
            for name in names
        }
    if get_from_config_or_model_args(config, "use_speaker_embedding", False):
        ids = dict(manager.name_to_id) if manager is not None else {}
        if not ids:
            raise ModelUnsupported(
                f"The model {source} has a speaker table but no speaker names (config 'speakers'"
                " or speaker_ids.json beside it)."
            )
        return {
            str(name): {"speaker_ids": torch.tensor([index], device=device)}
            for name, index in sorted(ids.items(), key=lambda item: item[1])
        }
    # One speaker: named after the dataset it was trained on, as Piper names its voices.
    datasets = config.get("datasets") or []
    dataset = str(datasets[0].get("dataset_name") or "") if datasets else ""
    return {dataset or "default": {}}


def _samples_per_frame(model: Any, source: Path) -> int:
    """Samples the decoder renders per duration frame: its upsampling, times z's interpolation."""
    samples = math.prod(int(rate) for rate in model.args.upsample_rates_decoder)
    if model.args.encoder_sample_rate and model.args.interpolate_z:
        factor = model.config.audio.sample_rate / model.args.encoder_sample_rate
        if not float(factor).is_integer():
            raise ModelUnsupported(
                f"The model {source} interpolates its latent by {factor:g}: a duration frame"
                " would not be a whole number of samples."
            )
        samples *= int(factor)
    return samples


def _primary(language: str) -> str:
    return language.replace("_", "-").split("-")[0].lower()


def _model_language(loaded: _Loaded, language: str | None) -> str | None:
    """The model's own name for `language`: exact first, else the first with its primary subtag."""
    if language is None:
        return loaded.language_names[0] if loaded.language_names else None
    wanted = language.replace("_", "-").lower()
    for name in loaded.language_names:
        if name.replace("_", "-").lower() == wanted:
            return name
    for name in loaded.language_names:
        if _primary(name) == _primary(language):
            return name
    raise LanguageUnsupported(
        f"{loaded.info.name} speaks {', '.join(loaded.info.languages)}, not {language!r}.",
        language=language,
    )


def _tokenize(model: Any, text: str, language: str | None) -> _Tokens:
    """Token ids through the model's own cleaner, phonemizer and blanks, with timing labels.

    With `add_blank` a blank sits between every two tokens; its samples go to the
    token before it (the first blank's to the token after), so none are lost. Pad,
    BOS and EOS are pauses; so are punctuation and the word space.
    """
    tokenizer = model.tokenizer
    characters = tokenizer.characters
    ids = [int(token) for token in tokenizer.text_to_ids(text, language=language)]
    blank = characters.blank_id if tokenizer.add_blank else None
    specials = {characters.pad, characters.bos, characters.eos} - {None}
    punctuation = set(characters.punctuations or "")

    owners: list[int] = []
    labels: list[tuple[str, bool]] = []
    waiting: list[int] = []
    for index, token in enumerate(ids):
        owners.append(-1)
        if token == blank:
            if labels:
                owners[index] = len(labels) - 1
            else:
                waiting.append(index)
            continue
        char = characters.id_to_char(token)
        if char in _STRESS_MARKS:
            waiting.append(index)
            continue
        if char in specials:
            labels.append((PAUSE_LABEL, True))
        else:
            labels.append((char, char in punctuation or is_punctuation(char)))
        owners[index] = len(labels) - 1
        for earlier in waiting:
            owners[earlier] = len(labels) - 1
        waiting = []
    for earlier in waiting:
        owners[earlier] = len(labels) - 1
    return _Tokens(text=text, ids=ids, owners=owners, labels=labels)


@contextmanager
def _seeded(seed: int, device: str) -> Iterator[None]:
    """Torch's RNG (CPU, and every GPU when on CUDA) seeded for one call, then put back."""
    import torch

    gpus = list(range(torch.cuda.device_count())) if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=gpus, device_type="cuda"):
        torch.manual_seed(seed)
        yield


def _render(
    loaded: _Loaded, tokens: _Tokens, aux: Mapping[str, torch.Tensor], seed: int
) -> SynthesisResult:
    """One inference pass; its per-token frames must cover its audio exactly."""
    import torch

    model = loaded.model
    x = torch.tensor([tokens.ids], dtype=torch.long, device=model.device)
    outputs = model.inference(
        x, aux_input={"x_lengths": torch.tensor([len(tokens.ids)], device=model.device), **aux}
    )
    audio = np.clip(
        outputs["model_outputs"][0, 0].float().cpu().numpy().astype(np.float32), -1.0, 1.0
    )
    frames = [int(frame) for frame in torch.round(outputs["durations"]).flatten().tolist()]
    if len(frames) != len(tokens.ids):
        raise EngineFailed(
            f"The model gave {len(frames)} durations for {len(tokens.ids)} tokens.",
            engine=loaded.info.name,
        )
    counts = [0] * len(tokens.labels)
    for owner, frame in zip(tokens.owners, frames, strict=True):
        counts[owner] += frame * loaded.samples_per_frame
    # Checked per pass, so a wrong count cannot shift the timing of later sentences.
    if sum(counts) != audio.shape[0]:
        raise EngineFailed(
            f"The model's durations ({sum(frames)} frames of {loaded.samples_per_frame} samples)"
            f" do not cover its {audio.shape[0]} samples of audio.",
            engine=loaded.info.name,
        )
    phonemes = timings_from_counts(tokens.labels, counts)
    return SynthesisResult(
        audio=audio,
        sample_rate=loaded.info.sample_rate,
        phonemes=phonemes,
        words=_words(tokens, phonemes),
        seed=seed,
    )


def _words(tokens: _Tokens, phonemes: list[PhonemeTiming]) -> list[WordTiming]:
    """Runs of spoken tokens between word spaces, named by the text's words when they pair up.

    Cleaners expand numbers and abbreviations ("3" → "three"); when the counts then
    differ, a word is named by its own tokens rather than paired by guess.
    """
    return label_words(tokens.text, word_groups(tokens.labels), phonemes)
