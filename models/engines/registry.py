"""The engines this process has loaded, looked up by name or by language."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from models.engines.base import Engine, EngineInfo
from models.engines.kokoro import KokoroEngine, KokoroEngineConfig
from models.engines.piper import PiperEngine
from voicehub.errors import EngineUnavailable

_FACTORIES: dict[str, Callable[[Path | None], Engine]] = {
    "piper": lambda cache_dir: PiperEngine(),
    "kokoro": lambda cache_dir: KokoroEngine(KokoroEngineConfig(cache_dir=cache_dir)),
}


class EngineRegistry:
    """Loaded engines by name. Build it once at startup with `EngineRegistry.load`."""

    def __init__(self, engines: Mapping[str, Engine]) -> None:
        self._engines = dict(engines)

    @classmethod
    def load(cls, names: list[str], *, cache_dir: Path | None) -> EngineRegistry:
        """Construct and load each named engine once; an unknown name loads nothing."""
        unknown = [name for name in names if name not in _FACTORIES]
        if unknown:
            raise ValueError(
                f"Unknown engine(s) {', '.join(unknown)}; known: {', '.join(_FACTORIES)}."
            )
        engines: dict[str, Engine] = {}
        for name in dict.fromkeys(names):
            engine = _FACTORIES[name](cache_dir)
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

    def for_language(self, lang: str) -> list[EngineInfo]:
        """Engines that speak `lang`, matched on its primary subtag ("en-US" finds "en")."""
        primary = lang.split("-")[0].lower()
        return [info for info in self.infos() if primary in info.languages]
