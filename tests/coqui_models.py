"""Tiny random-weight coqui-tts VITS models, built offline and saved the way coqui saves them.

Real VITS code, real checkpoints, no network and no espeak: the models read letters
(`use_phonemes=False`), so they speak noise, but their duration predictor, decoder
and checkpoint format are coqui's own. Each builds in about a second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

SAMPLE_RATE = 22050
HOP_LENGTH = 256
# Speakers of the multi-speaker variant, and of the d-vector (YourTTS-style) variant.
SPEAKERS = ("aoi", "ren")
D_VECTOR_DIM = 8
LANGUAGES = ("en", "pt-br")
TRAINING_SPEAKERS_FILE = "/training/run-7/speakers.json"


@dataclass(frozen=True)
class TinyModel:
    """A model directory as coqui's trainer leaves it, and the single-file checkpoint in it."""

    directory: Path
    checkpoint: Path
    config_json: Path


def tiny_vits_config(
    *, speakers: tuple[str, ...] = (), d_vectors: bool = False, languages: tuple[str, ...] = ()
) -> Any:
    """A VitsConfig with every layer shrunk; the decoder still upsamples 8·8·4 = 256 (the hop)."""
    from TTS.config.shared_configs import BaseAudioConfig, BaseDatasetConfig
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import VitsArgs

    args = VitsArgs(
        hidden_channels=32,
        hidden_channels_ffn_text_encoder=64,
        num_heads_text_encoder=2,
        num_layers_text_encoder=2,
        num_layers_posterior_encoder=2,
        num_layers_flow=2,
        resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3, 5]],
        upsample_rates_decoder=[8, 8, 4],
        upsample_kernel_sizes_decoder=[16, 16, 8],
        upsample_initial_channel_decoder=32,
        init_discriminator=False,
        use_speaker_embedding=bool(speakers) and not d_vectors,
        speaker_embedding_channels=16,
        use_d_vector_file=d_vectors,
        d_vector_dim=D_VECTOR_DIM if d_vectors else 0,
        use_language_embedding=bool(languages),
        embedded_language_dim=4,
    )
    return VitsConfig(
        model_args=args,
        audio=BaseAudioConfig(
            sample_rate=SAMPLE_RATE, hop_length=HOP_LENGTH, win_length=1024, fft_size=1024
        ),
        use_phonemes=False,
        text_cleaner="english_cleaners",
        characters=CharactersConfig(
            characters_class="TTS.tts.models.vits.VitsCharacters",
            pad="<PAD>",
            eos=None,
            bos=None,
            blank="<BLNK>",
            characters="abcdefghijklmnopqrstuvwxyz",
            punctuations="!'(),-.:;? ",
            phonemes=None,
            is_unique=False,
            is_sorted=True,
        ),
        add_blank=True,
        datasets=[BaseDatasetConfig(formatter="ljspeech", dataset_name="tiny", language="en")],
        speakers=list(speakers) if not d_vectors else [],
        languages=list(languages),
    )


def build_tiny_model(
    directory: Path,
    *,
    speakers: tuple[str, ...] = (),
    d_vectors: bool = False,
    languages: tuple[str, ...] = (),
    seed: int = 0,
) -> TinyModel:
    """Random weights saved as model.pth (trainer dict with "model" and "config") + config.json."""
    from TTS.tts.models.vits import Vits

    directory.mkdir(parents=True, exist_ok=True)
    config = tiny_vits_config(speakers=speakers, d_vectors=d_vectors, languages=languages)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Vits(config)
        if d_vectors:
            embeddings = {
                f"{name}_{clip}.wav": {
                    "name": name,
                    "embedding": torch.randn(D_VECTOR_DIM).tolist(),
                }
                for name in speakers
                for clip in range(2)
            }
            (directory / "speakers.json").write_text(json.dumps(embeddings), encoding="utf-8")
            # A trainer's config names its speakers file by the training machine's path.
            config.d_vector_file = config.model_args.d_vector_file = TRAINING_SPEAKERS_FILE
    checkpoint = directory / "model.pth"
    torch.save(
        {"config": config.to_dict(), "model": model.state_dict(), "step": 0, "epoch": 0},
        checkpoint,
    )
    config_json = directory / "config.json"
    config_json.write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")
    return TinyModel(directory=directory, checkpoint=checkpoint, config_json=config_json)


def write_xtts_model(directory: Path) -> Path:
    """An XTTS model directory: coqui's own XTTS config and a (small) weights file."""
    from TTS.tts.configs.xtts_config import XttsConfig

    directory.mkdir(parents=True, exist_ok=True)
    config = XttsConfig().to_dict()
    (directory / "config.json").write_text(json.dumps(config), encoding="utf-8")
    torch.save({"config": config, "model": {}}, directory / "model.pth")
    return directory
