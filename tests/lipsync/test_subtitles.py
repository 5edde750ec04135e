"""SRT, WebVTT and ASS writers, read back with pysubs2, webvtt-py and VoiceHub's SRT import."""

from __future__ import annotations

import html
import io
from fractions import Fraction as F

import pysubs2
import pytest
import webvtt

from voicehub.errors import InvalidInput
from voicehub.lipsync.subtitles import SubtitleCue, ass, srt
from voicehub.lipsync.subtitles import webvtt as write_webvtt
from voicehub.production.scripts import parse_srt

CUES = [
    # Out of order on purpose: writers sort by start.
    SubtitleCue(
        F(3601, 1000) + F(1, 3000), F(3603, 1000), "AMI", "Out.\nLooking for you.", "line_b"
    ),
    SubtitleCue(
        F(1, 2), F(1, 2) + F(22_050, 44_100) + F(1, 88_200), "KEN", "Where were you?", "line_a"
    ),
]


def test_srt_rounds_up_to_the_millisecond_and_names_the_speaker() -> None:
    text = srt(CUES)
    events = pysubs2.SSAFile.from_string(text, format_="srt").events
    # 0.5 s → 500 ms; 1.0000113 s → 1001 ms; 3.601333 s → 3602 ms.
    assert [(e.start, e.end) for e in events] == [(500, 1001), (3602, 3603)]
    assert [e.plaintext for e in events] == ["KEN: Where were you?", "AMI: Out.\nLooking for you."]
    assert text.startswith("1\n00:00:00,500 --> 00:00:01,001\nKEN: Where were you?\n\n2\n")


def test_srt_reads_back_through_our_import() -> None:
    cues = [
        *CUES,
        SubtitleCue(F(5), F(6), "Dr: Who", "Colon in the name."),
        SubtitleCue(F(7), F(8), "ケン", "こんにちは。"),
    ]
    parsed = [line for cut in parse_srt(srt(cues).encode()) for line in cut.lines]
    assert [(line.character, line.text, line.start_ms, line.end_ms) for line in parsed] == [
        ("KEN", "Where were you?", 500, 1001),
        ("AMI", "Out. Looking for you.", 3602, 3603),
        ("Dr Who", "Colon in the name.", 5000, 6000),
        ("ケン", "こんにちは。", 7000, 8000),
    ]


def test_webvtt_has_voice_spans_identifiers_escapes_and_notes() -> None:
    cues = [*CUES, SubtitleCue(F(9), F(10), "R&D <bot>", "1 < 2 & 3 --> 4")]
    text = write_webvtt(cues, notes=["DRAFT: not for delivery.", "two\n\nrows --> here"])
    assert text.startswith("WEBVTT\n\nNOTE DRAFT: not for delivery.\n\nNOTE two rows -> here\n\n")
    captions = webvtt.from_buffer(io.StringIO(text)).captions
    assert [(c.identifier, c.start, c.end) for c in captions] == [
        ("line_a", "00:00:00.500", "00:00:01.001"),
        ("line_b", "00:00:03.602", "00:00:03.603"),
        (None, "00:00:09.000", "00:00:10.000"),
    ]
    assert [c.voice for c in captions][:2] == ["KEN", "AMI"]
    assert html.unescape(captions[2].voice) == "R&D <bot>"
    assert html.unescape(captions[2].text) == "1 < 2 & 3 --> 4"
    assert html.unescape(captions[1].text) == "Out.\nLooking for you."


def test_ass_never_starts_before_the_take_and_styles_each_speaker() -> None:
    cues = [*CUES, SubtitleCue(F(9), F(10), "KEN, Jr.", "{\\b1}Bold? No, just braces.")]
    text = ass(cues, title="Episode 1", notes=["DRAFT: not for delivery."])
    head = text.split("[V4+ Styles]")[0]
    assert "; DRAFT: not for delivery." in head and "Title: Episode 1" in head
    subs = pysubs2.SSAFile.from_string(text)
    assert set(subs.styles) == {"KEN", "AMI", "KEN Jr."}
    assert len({str(style.primarycolor) for style in subs.styles.values()}) == 3
    events = subs.events
    # 0.5 → 0.50; 1.0000113 → 1.01; 3.601333 → 3.61; 3.603 → 3.61 + at least one centisecond.
    assert [(e.start, e.end) for e in events] == [(500, 1010), (3610, 3620), (9000, 10000)]
    for event, cue in zip(events, sorted(cues, key=lambda c: c.start), strict=True):
        assert event.start >= cue.start * 1000 and event.start - cue.start * 1000 < 10
    assert [(e.name, e.style) for e in events] == [
        ("KEN", "KEN"),
        ("AMI", "AMI"),
        ("KEN Jr.", "KEN Jr."),
    ]
    assert events[1].plaintext == "Out.\nLooking for you."
    assert events[2].plaintext == "(/b1)Bold? No, just braces."


def test_an_empty_list_writes_valid_empty_files() -> None:
    assert srt([]) == ""
    assert webvtt.from_buffer(io.StringIO(write_webvtt([]))).captions == []
    assert pysubs2.SSAFile.from_string(ass([], title="Empty")).events == []


def test_a_cue_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(InvalidInput):
        srt([SubtitleCue(F(2), F(1), "KEN", "Backwards.")])
    with pytest.raises(InvalidInput):
        ass([SubtitleCue(F(-1), F(1), "KEN", "Before zero.")], title="x")
