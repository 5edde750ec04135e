"""The engines this process has loaded, looked up by name or by language."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from models.engines.base import Engine, EngineInfo
from models.engines.coqui import CoquiEngine, CoquiEngineConfig
from models.engines.espeak import EspeakEngine
from models.engines.kokoro import KokoroEngine, KokoroEngineConfig
from models.engines.piper import PiperEngine
from voicehub.errors import EngineUnavailable

_FACTORIES: dict[str, Callable[[Path | None], Engine]] = {
    "piper": lambda cache_dir: PiperEngine(),
    "kokoro": lambda cache_dir: KokoroEngine(KokoroEngineConfig(cache_dir=cache_dir)),
    "espeak": lambda cache_dir: EspeakEngine(),
}


# An operator's coqui model "aoi" is served as the engine "coqui:aoi".
COQUI_PREFIX = "coqui:"
# Engines that run on onnxruntime; the registry builds them on its CPU provider.
_ONNX_ENGINES = frozenset({"piper", "kokoro"})
_ONNX_GPU_PROVIDERS = frozenset(
    {
        "CUDAExecutionProvider",
        "TensorrtExecutionProvider",
        "ROCMExecutionProvider",
        "MIGraphXExecutionProvider",
        "DmlExecutionProvider",
    }
)


@dataclass(frozen=True)
class EngineStatus:
    """An installed engine as an operator sees it: what it is, and whether it uses a GPU.

    `gpu_capable`: a GPU could run it with what is installed (coqui: always, through
    torch; onnx engines: only when onnxruntime has a GPU provider). `gpu_in_use`: it
    runs on one now.
    """

    info: EngineInfo
    gpu_capable: bool
    gpu_in_use: bool


def gpu_available() -> bool:
    """Whether torch sees a CUDA GPU in this process now."""
    import torch

    return bool(torch.cuda.is_available())


def onnx_gpu_provider_installed() -> bool:
    """Whether the installed onnxruntime has any GPU execution provider."""
    import onnxruntime

    return not _ONNX_GPU_PROVIDERS.isdisjoint(onnxruntime.get_available_providers())


def _coqui_factory(name: str, path: Path) -> Callable[[Path | None], Engine]:
    """An operator's coqui model, on the GPU when this process has one."""

    def build(cache_dir: Path | None) -> Engine:
        device = "cuda" if gpu_available() else "cpu"
        return CoquiEngine(CoquiEngineConfig(checkpoint_path=path, name=name, device=device))

    return build


class EngineRegistry:
    """Loaded engines by name. Build it once at startup with `EngineRegistry.load`."""

    def __init__(self, engines: Mapping[str, Engine]) -> None:
        self._engines = dict(engines)

    @classmethod
    def load(
        cls,
        names: list[str],
        *,
        cache_dir: Path | None,
        coqui_models: Mapping[str, Path] | None = None,
    ) -> EngineRegistry:
        """Construct and load each named engine once; an unknown name loads nothing.

        Every model in `coqui_models` is loaded too, as the engine "coqui:<name>".
        """
        factories = dict(_FACTORIES)
        for model, path in (coqui_models or {}).items():
            factories[f"{COQUI_PREFIX}{model}"] = _coqui_factory(f"{COQUI_PREFIX}{model}", path)
        unknown = [name for name in names if name not in factories]
        if unknown:
            raise ValueError(
                f"Unknown engine(s) {', '.join(unknown)}; known: {', '.join(factories)}."
            )
        engines: dict[str, Engine] = {}
        coqui_names = [name for name in factories if name.startswith(COQUI_PREFIX)]
        for name in dict.fromkeys([*names, *coqui_names]):
            engine = factories[name](cache_dir)
            engine.load()
            engines[name] = engine
        return cls(engines)

    def get(self, name: str) -> Engine:
        """The loaded engine called `name`."""
        try:
            return self._engines[name]
        except KeyError:
            raise EngineUnavailable(
                f"The {name!r} engine is not loaded on this server.", engine=name
            ) from None

    def infos(self) -> list[EngineInfo]:
        return [engine.info for engine in self._engines.values()]

    def statuses(self) -> list[EngineStatus]:
        """Each installed engine with the GPU facts an operator plans machines by."""
        onnx_gpu = not _ONNX_ENGINES.isdisjoint(self._engines) and onnx_gpu_provider_installed()
        return [
            EngineStatus(
                info=engine.info,
                gpu_capable=engine.info.gpu_capable or (name in _ONNX_ENGINES and onnx_gpu),
                # onnx engines are built on onnxruntime's CPU provider, whatever is installed.
                gpu_in_use=isinstance(engine, CoquiEngine) and engine.device.startswith("cuda"),
            )
            for name, engine in self._engines.items()
        ]

    def for_language(self, lang: str) -> list[EngineInfo]:
        """Engines that speak `lang`, matched on its primary subtag ("en-US" finds "en")."""
        primary = lang.split("-")[0].lower()
        return [info for info in self.infos() if primary in info.languages]
