"""Fine-tuning a coqui-tts VITS on a prepared dataset, with coqui's own Trainer.

The production path starts from an operator's base checkpoint for the voice's
language (`VOICEHUB_BUILD_BASE_CHECKPOINTS`) and runs on a GPU: the base's config
(audio, text processing, model size) is kept and only the data and the schedule
change. Without a base, a model is trained from scratch at `build_model_size`
("reduced" is small enough to run a few steps on a CPU: the tests' configuration).

The result is a checkpoint the way coqui's trainer saves one (a dict with "model"
and "config"), less the discriminator, which only trains.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from models.builds.prepare import METADATA
from voicehub.errors import VoiceHubError
from voicehub.settings import Settings

log = logging.getLogger(__name__)

# The single speaker of a built model: the engine names it after the dataset.
SPEAKER = "default"
# Punctuation the model reads as pauses, Japanese included.
_PUNCTUATIONS = "!'(),-.:;? 、。！？「」…"
_ENGLISH_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_HOP_LENGTH = 256


class TrainingFailed(VoiceHubError):
    """The model could not be trained: the base does not fit, or no clip could be used."""

    status = 500
    code = "training_failed"
    title = "The voice model could not be trained"


@dataclass(frozen=True)
class TrainingPlan:
    """What to train for one language: from which base (if any), how long, how big."""

    language: str
    steps: int
    batch_size: int
    model_size: Literal["full", "reduced"]
    sample_rate: int
    base_checkpoint: Path | None

    @classmethod
    def for_language(cls, settings: Settings, language: str) -> TrainingPlan:
        bases = settings.build_base_checkpoint_paths
        return cls(
            language=language,
            steps=settings.build_steps,
            batch_size=settings.build_batch_size,
            model_size=settings.build_model_size,
            sample_rate=settings.build_sample_rate,
            base_checkpoint=bases.get(_primary(language)),
        )


@dataclass(frozen=True)
class BaseModel:
    """The checkpoint a build fine-tunes: its config, its weights and the hash of its bytes."""

    config: dict[str, Any]
    weights: dict[str, Any]
    sha256: str


@dataclass(frozen=True)
class TrainedModel:
    checkpoint: bytes
    steps: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.checkpoint).hexdigest()


def load_base(plan: TrainingPlan) -> BaseModel | None:
    """The plan's base checkpoint, read once and checked against the voice's language."""
    if plan.base_checkpoint is None:
        return None
    import torch

    path = plan.base_checkpoint
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TrainingFailed(f"The base checkpoint {path} cannot be read: {error}.") from None
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises anything from EOFError to UnpicklingError here.
        raise TrainingFailed(
            f"The base checkpoint {path} is not a torch checkpoint: {error}"
        ) from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise TrainingFailed(f"The base checkpoint {path} has no 'model' weights.")
    config = state.get("config")
    if not isinstance(config, dict) and (path.parent / "config.json").is_file():
        import json

        config = json.loads((path.parent / "config.json").read_text(encoding="utf-8"))
    if not isinstance(config, dict) or str(config.get("model", "")).lower() != "vits":
        raise TrainingFailed(
            f"The base checkpoint {path} is not a VITS model with its config (embedded, or"
            " config.json beside it)."
        )
    model_args = config.get("model_args") or {}
    if model_args.get("use_speaker_embedding") or model_args.get("use_d_vector_file"):
        raise TrainingFailed(
            f"The base checkpoint {path} is a multi-speaker model; voice builds fine-tune a"
            " single-speaker VITS."
        )
    spoken = {_primary(str(d.get("language") or "")) for d in config.get("datasets") or []}
    spoken |= {_primary(str(config.get("phoneme_language") or ""))}
    spoken.discard("")
    if spoken and _primary(plan.language) not in spoken:
        raise TrainingFailed(
            f"The base checkpoint {path} speaks {', '.join(sorted(spoken))}, not {plan.language}."
        )
    return BaseModel(config=config, weights=state["model"], sha256=hashlib.sha256(data).hexdigest())


def sample_rate_of(plan: TrainingPlan, base: BaseModel | None) -> int:
    """The rate the dataset is prepared at: the base model's, or the plan's for a new model."""
    if base is not None:
        return int((base.config.get("audio") or {}).get("sample_rate") or plan.sample_rate)
    return plan.sample_rate


def fine_tune(
    plan: TrainingPlan,
    base: BaseModel | None,
    dataset: Path,
    transcripts: Sequence[str],
    *,
    on_step: Callable[[int], None],
) -> TrainedModel:
    """Train `plan.steps` steps on the LJSpeech-style `dataset`; the checkpoint as bytes.

    `on_step(steps_done)` runs after every step; an exception it raises ends
    training and propagates (a revoked consent, a build taken over).
    """
    import torch
    from trainer import Trainer, TrainerArgs
    from trainer.logging.dummy_logger import DummyLogger
    from TTS.tts.datasets import load_tts_samples
    from TTS.tts.models.vits import Vits

    config = _config(plan, base, dataset, transcripts)
    samples, _ = load_tts_samples(config, eval_split=False)
    model = Vits(config)
    if base is not None:
        _load_weights(model, base)
    # The trainer hands the model its first batch to plot for a dashboard, whatever the plot
    # interval: seconds of matplotlib per build, for figures a worker never shows anyone.
    model.train_log = _no_dashboard

    class _StepsReached(Exception):
        """The step budget is spent: the run ends here."""

    epoch_start = {"steps": 0}

    def step_end(trainer: Any) -> None:
        on_step(trainer.total_steps_done)
        if trainer.total_steps_done >= plan.steps:
            raise _StepsReached

    def epoch_start_hook(trainer: Any) -> None:
        epoch_start["steps"] = trainer.total_steps_done

    def epoch_end(trainer: Any) -> None:
        if trainer.total_steps_done == epoch_start["steps"]:
            raise TrainingFailed(
                "No recording reached the model: every clip was filtered out (text the model"
                " cannot read, or audio outside its length limits)."
            )

    cuda = torch.cuda.is_available()
    output = dataset / "run"
    try:
        trainer = Trainer(
            TrainerArgs(),
            config,
            str(output),
            model=model,
            train_samples=samples,
            eval_samples=[],
            parse_command_line_args=False,
            dashboard_logger=DummyLogger(),
            gpu=0 if cuda else None,
            callbacks={
                "on_train_step_end": step_end,
                "on_train_epoch_start": epoch_start_hook,
                "on_train_epoch_end": epoch_end,
            },
        )
        # `fit()` turns every exception into a printed traceback and sys.exit(1); a worker
        # needs the exception itself (and the early stop), so it runs the loop fit wraps.
        trainer._fit()
    except _StepsReached:
        pass
    finally:
        _release_trainer_logs(output)
    return TrainedModel(checkpoint=_checkpoint(model, config, plan.steps), steps=plan.steps)


def _config(
    plan: TrainingPlan, base: BaseModel | None, dataset: Path, transcripts: Sequence[str]
) -> Any:
    """The training config: the base's own, or a new one; the data and schedule are the build's."""
    import torch
    from TTS.config.shared_configs import BaseDatasetConfig
    from TTS.tts.configs.vits_config import VitsConfig

    if base is not None:
        config = VitsConfig()
        config.from_dict(dict(base.config))
    else:
        config = _new_config(plan, transcripts)
    # A released model may come without its discriminator; training needs one all the same.
    config.model_args.init_discriminator = True
    config.datasets = [
        BaseDatasetConfig(
            formatter="ljspeech",
            dataset_name=SPEAKER,
            path=str(dataset),
            meta_file_train=METADATA,
            language=_primary(plan.language),
        )
    ]
    config.output_path = str(dataset / "run")
    config.run_name = "voice-build"
    config.phoneme_cache_path = str(dataset / "phonemes")
    config.batch_size = plan.batch_size
    config.eval_batch_size = plan.batch_size
    # Steps, not epochs, end the run (see fine_tune); the epoch count only has to outlast them.
    config.epochs = 1_000_000
    config.run_eval = False
    config.test_delay_epochs = 1_000_000_000
    config.test_sentences = []
    config.save_step = 1_000_000_000
    config.save_checkpoints = False
    config.print_step = 50
    # Recordings were bounded at upload; the base's corpus filters do not apply to them.
    config.min_audio_len = 1
    config.max_audio_len = math.inf
    config.min_text_len = 1
    config.max_text_len = math.inf
    # Workers fork, and a queue worker has threads: the model's batches load in-process.
    config.num_loader_workers = 0
    config.num_eval_loader_workers = 0
    config.mixed_precision = torch.cuda.is_available()
    return config


def _new_config(plan: TrainingPlan, transcripts: Sequence[str]) -> Any:
    """A VITS config that reads the transcripts' own letters (no phonemizer needed)."""
    from TTS.config.shared_configs import BaseAudioConfig
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import VitsArgs
    from TTS.tts.utils.text import cleaners

    english = _primary(plan.language) == "en"
    cleaner = "english_cleaners" if english else "multilingual_cleaners"
    clean: Callable[[str], str] = getattr(cleaners, cleaner)
    letters = {
        char
        for text in transcripts
        for char in clean(text)
        if char not in _PUNCTUATIONS and not unicodedata.category(char).startswith(("Z", "C"))
    }
    if english:
        letters |= set(_ENGLISH_LETTERS)
    args = VitsArgs() if plan.model_size == "full" else _reduced_args()
    return VitsConfig(
        model_args=args,
        audio=BaseAudioConfig(
            sample_rate=plan.sample_rate,
            hop_length=_HOP_LENGTH,
            win_length=1024,
            fft_size=1024,
            num_mels=80,
            mel_fmin=0,
            mel_fmax=None,
        ),
        use_phonemes=False,
        text_cleaner=cleaner,
        characters=CharactersConfig(
            characters_class="TTS.tts.models.vits.VitsCharacters",
            pad="<PAD>",
            eos=None,
            bos=None,
            blank="<BLNK>",
            characters="".join(sorted(letters)),
            punctuations=_PUNCTUATIONS,
            phonemes=None,
            is_unique=True,
            is_sorted=True,
        ),
        add_blank=True,
    )


def _reduced_args() -> Any:
    """Every layer shrunk: a few CPU steps take seconds, not the ~45 s and 3.5 GB of full size."""
    from TTS.tts.models.vits import VitsArgs

    return VitsArgs(
        hidden_channels=32,
        hidden_channels_ffn_text_encoder=64,
        num_heads_text_encoder=2,
        num_layers_text_encoder=2,
        num_layers_posterior_encoder=2,
        num_layers_flow=2,
        resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3, 5]],
        # 8 * 8 * 4: the decoder still upsamples one frame to one hop.
        upsample_rates_decoder=[8, 8, 4],
        upsample_kernel_sizes_decoder=[16, 16, 8],
        upsample_initial_channel_decoder=32,
        periods_multi_period_discriminator=[2, 3],
        spec_segment_size=16,
        use_sdp=False,
    )


def _load_weights(model: Any, base: BaseModel) -> None:
    """The base's weights into the new model; a generator weight that does not fit is refused."""
    try:
        missing, _ = model.load_state_dict(base.weights, strict=False)
    except RuntimeError as error:
        raise TrainingFailed(
            f"The base checkpoint's weights do not fit its config: {error}"
        ) from None
    generator = [key for key in missing if not key.startswith("disc.")]
    if generator:
        raise TrainingFailed(
            f"The base checkpoint lacks {len(generator)} of the model's weights"
            f" (first: {generator[0]})."
        )
    if missing:
        log.warning("the base checkpoint has no discriminator; it trains from scratch")


def _checkpoint(model: Any, config: Any, steps: int) -> bytes:
    """The trained generator and its config, serialised as coqui's trainer saves a model."""
    import torch

    config.model_args.init_discriminator = False
    serving = config.to_dict()
    for dataset in serving.get("datasets") or []:
        # The temporary directory is gone once the build ends; only its language matters.
        dataset["path"] = ""
    serving["output_path"] = ""
    serving["phoneme_cache_path"] = None
    weights = {
        key: value.detach().cpu()
        for key, value in model.state_dict().items()
        if not key.startswith("disc.")
    }
    buffer = io.BytesIO()
    torch.save({"model": weights, "config": serving, "step": steps}, buffer)
    return buffer.getvalue()


def _no_dashboard(*args: Any, **kwargs: Any) -> None:
    return None


def _release_trainer_logs(output: Path) -> None:
    """Close the log file the Trainer attached to the "trainer" logger inside `output`.

    Each Trainer adds one and never removes it: in a long-lived worker they would
    pile up, holding files in deleted directories.
    """
    logger = logging.getLogger("trainer")
    for handler in list(logger.handlers):
        filename = getattr(handler, "baseFilename", None)
        if filename is not None and Path(filename).resolve().is_relative_to(output.resolve()):
            logger.removeHandler(handler)
            handler.close()


def _primary(language: str) -> str:
    return language.replace("_", "-").split("-")[0].lower()
