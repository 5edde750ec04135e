"""The espeak-ng C library (`libespeak-ng.so.1`) through ctypes, in a helper process of its own.

`models.engines.espeak` runs this file as a script (standard library only, so it
starts in milliseconds) and talks to it over its stdin and stdout. The helper
loads and initialises the library once, then forks a child for every request:
the child selects the voice, renders the sentences and exits.

Why not call the library in the server's own process: espeak-ng keeps state in
C statics that nothing resets (the pitch-flutter position in the wave generator
among them), so the same text comes out a few samples different depending on
what was spoken before it; each child starts from the state the library had
right after `espeak_Initialize`, so the same request always gives the same
bytes. Reloading the library instead would reset that state but leaks about
4 KB per reload (voice selection memory `espeak_Terminate` does not free). The
process also keeps the library's global state and any crash away from the
server, which serves one request at a time per helper.

Messages are pickled tuples of built-in types, each framed by its length as
8 bytes big-endian. The helper's first message is `("ready", info)` or
`("missing", why)`; a request `(voice name, rate, sentences)` is answered by
`("ok", [(int16 audio bytes, marks), ...])` or `("failed", why)`, where a mark
is `(kind, sample, phoneme, text_position, length)`.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import pickle
import struct
import sys
from typing import IO, Any

LIBRARY = "libespeak-ng.so.1"

# speak_lib.h, API revision 12 (espeak-ng 1.49 to 1.52).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
# Without it, a missing espeak-ng-data directory makes espeak_Initialize call exit().
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EE_OK = 0
_RATE = 1
EVENT_LIST_TERMINATED = 0
EVENT_WORD = 1
EVENT_PHONEME = 7

_FRAME_LENGTH = struct.Struct(">Q")


class _EventId(ctypes.Union):
    _fields_ = [
        ("number", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("string", ctypes.c_char * 8),
    ]


class _Event(ctypes.Structure):
    """espeak_EVENT. `sample` is the event's sample index in the output of its espeak_Synth call."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


class _Voice(ctypes.Structure):
    """espeak_VOICE."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class LibraryMissing(Exception):
    """The shared library or its data cannot be loaded."""


def write_frame(stream: IO[bytes], message: Any) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME_LENGTH.pack(len(body)) + body)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next message, or None when the other side has closed the stream."""
    header = _read_exactly(stream, _FRAME_LENGTH.size)
    if header is None:
        return None
    body = _read_exactly(stream, _FRAME_LENGTH.unpack(header)[0])
    return None if body is None else pickle.loads(body)


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class _Library:
    """The initialised library and the callback that collects one render's audio and events."""

    def __init__(self, name: str) -> None:
        self.handle = _open(name)
        self._audio: list[bytes] = []
        self._marks: list[tuple[int, int, str, int, int]] = []
        # Kept on the object: the library holds only a raw pointer to it.
        self._callback = _SynthCallback(self._on_synth)
        handle = self.handle
        handle.espeak_Initialize.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        handle.espeak_Initialize.restype = ctypes.c_int
        handle.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        handle.espeak_SetSynthCallback.restype = None
        handle.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        handle.espeak_SetVoiceByName.restype = ctypes.c_int
        handle.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        handle.espeak_SetParameter.restype = ctypes.c_int
        handle.espeak_GetParameter.argtypes = [ctypes.c_int, ctypes.c_int]
        handle.espeak_GetParameter.restype = ctypes.c_int
        handle.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint),
            ctypes.c_void_p,
        ]
        handle.espeak_Synth.restype = ctypes.c_int
        handle.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        handle.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        handle.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
        handle.espeak_Info.restype = ctypes.c_char_p

        self.sample_rate = handle.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS,
            0,
            None,
            _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA | _INITIALIZE_DONT_EXIT,
        )
        data_dir = ctypes.c_char_p()
        self.version = (handle.espeak_Info(ctypes.byref(data_dir)) or b"").decode()
        self.data_dir = (data_dir.value or b"").decode()
        if self.sample_rate <= 0 or not os.path.isfile(os.path.join(self.data_dir, "phontab")):
            raise LibraryMissing(f"espeak-ng {self.version} found no voice data in {self.data_dir}")
        handle.espeak_SetSynthCallback(self._callback)

    def info(self) -> dict[str, Any]:
        voices: list[tuple[str, str, list[str]]] = []
        table = self.handle.espeak_ListVoices(None)
        index = 0
        while table[index]:
            voice = table[index].contents
            file_name = (voice.identifier or b"").decode().rsplit("/", 1)[-1].lower()
            voices.append(((voice.name or b"").decode(), file_name, _languages(voice.languages)))
            index += 1
        return {
            "sample_rate": self.sample_rate,
            "version": self.version,
            "data_dir": self.data_dir,
            "default_rate": self.handle.espeak_GetParameter(_RATE, 0),
            "voices": voices,
        }

    def render(
        self, voice: str, rate: int, sentences: list[str]
    ) -> list[tuple[bytes, list[tuple[int, int, str, int, int]]]]:
        """Each sentence's int16 audio and its word and phoneme events, one espeak_Synth each."""
        if self.handle.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
            raise RuntimeError(f"espeak-ng could not select its voice {voice!r}")
        self.handle.espeak_SetParameter(_RATE, rate, 0)
        out = []
        for sentence in sentences:
            self._audio, self._marks = [], []
            text = sentence.encode()
            status = self.handle.espeak_Synth(
                text, len(text) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            if status != _EE_OK:
                raise RuntimeError(f"espeak_Synth failed with status {status}")
            out.append((b"".join(self._audio), self._marks))
        return out

    def _on_synth(
        self,
        wav: ctypes._Pointer[ctypes.c_short],
        count: int,
        events: ctypes._Pointer[_Event],
    ) -> int:
        if wav and count > 0:
            self._audio.append(ctypes.string_at(wav, count * ctypes.sizeof(ctypes.c_short)))
        index = 0
        while events[index].type != EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == EVENT_PHONEME:
                # Up to 8 bytes of UTF-8, NUL-terminated unless all 8 are used.
                name = event.id.string.split(b"\0", 1)[0].decode("utf-8", errors="replace")
                self._marks.append((EVENT_PHONEME, event.sample, name, 0, 0))
            elif event.type == EVENT_WORD:
                self._marks.append(
                    (EVENT_WORD, event.sample, "", event.text_position, event.length)
                )
            index += 1
        return 0


def _open(name: str) -> ctypes.CDLL:
    candidates = [name]
    if name == LIBRARY:
        found = ctypes.util.find_library("espeak-ng")
        if found:
            candidates.append(found)
    for candidate in candidates:
        try:
            return ctypes.CDLL(candidate)
        except OSError:
            continue
    raise LibraryMissing(f"the espeak-ng library {name} is not installed")


def _languages(pointer: int | None) -> list[str]:
    """espeak_VOICE.languages: (priority byte, name, NUL) repeated, ended by a zero byte."""
    out: list[str] = []
    offset = 0
    while pointer and ctypes.string_at(pointer + offset, 1) != b"\0":
        name = ctypes.string_at(pointer + offset + 1)
        out.append(name.decode().lower())
        offset += len(name) + 2
    return out


def serve(library: str, requests: IO[bytes], replies: IO[bytes]) -> None:
    """Answer requests until `requests` closes; each is rendered in a child forked for it."""
    try:
        lib = _Library(library)
    except LibraryMissing as missing:
        write_frame(replies, ("missing", str(missing)))
        return
    write_frame(replies, ("ready", lib.info()))
    while (request := read_frame(requests)) is not None:
        voice, rate, sentences = request
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            try:
                reply: tuple[str, Any] = ("ok", lib.render(voice, rate, sentences))
            except Exception as error:  # every failure goes back as a reply
                reply = ("failed", str(error))
            with os.fdopen(write_end, "wb") as child_out:
                write_frame(child_out, reply)
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as child_in:
            reply = read_frame(child_in)
        _, status = os.waitpid(pid, 0)
        if reply is None:
            reply = ("failed", f"espeak-ng stopped ({_describe(status)})")
        write_frame(replies, reply)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def main() -> None:
    # The protocol gets its own copy of stdout; anything the library prints goes to stderr.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # The engine's process went away mid-reply: nobody is left to answer.
    with contextlib.suppress(BrokenPipeError):
        serve(sys.argv[1] if len(sys.argv) > 1 else LIBRARY, sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
