"""Scripts in every format read to exact milliseconds, cuts numbered by the timeline, bad input named."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from voicehub.errors import ScriptEncodingUnsupported, ScriptInvalid, ScriptOverlap, VoiceHubError
from voicehub.production.scripts import (
    ParsedCut,
    ParsedScript,
    assign_source_keys,
    number_cuts,
    order_lines,
    parse_script,
    timecode_ms,
)

SCRIPTS = Path(__file__).parent.parent / "data" / "scripts"
FPS_23_976 = Fraction(24000, 1001)


def _read(
    name: str, fmt: str, fps: Fraction = Fraction(24)
) -> tuple[ParsedScript, list[ParsedCut]]:
    script = parse_script((SCRIPTS / name).read_bytes(), fmt, frame_rate=fps)
    cuts = number_cuts(script.cuts)
    for cut in cuts:
        order_lines(cut)
    assign_source_keys(cuts)
    return script, cuts


def _rows(cuts: list[ParsedCut]) -> list[tuple[str | None, str, str, int | None, int | None, str]]:
    return [
        (cut.number, line.character, line.text, line.start_ms, line.end_ms, line.source_key)
        for cut in cuts
        for line in cut.lines
    ]


def _refused(raw: bytes | str, fmt: str, fps: Fraction = Fraction(24)) -> VoiceHubError:
    data = raw.encode() if isinstance(raw, str) else raw
    with pytest.raises(VoiceHubError) as caught:
        parse_script(data, fmt, frame_rate=fps)
    return caught.value


def test_srt_tags_speakers_and_exact_times() -> None:
    script, cuts = _read("lighthouse.srt", "srt")
    assert _rows(cuts) == [
        ("C-012", "MAYA", "Did you hear that?", 1000, 3200, "1"),
        ("C-012", "KEN", "Just the wind. Nothing else.", 3500, 5040, "2"),
        # Untagged cues are numbered after C-012 in time order, not file order.
        ("C-013", "HARU", "灯台から？もう誰もいないはずだよ。", 7000, 9120, "4"),
        ("C-014", "NARRATOR", "The lighthouse was dark.", 12345, 14999, "3"),
    ]
    assert (cuts[0].start_ms, cuts[0].end_ms) == (1000, 5040)
    assert [(w.code, w.where and w.where.number) for w in script.warnings] == [("no_speaker", 3)]


def test_webvtt_voices_ids_notes_and_settings() -> None:
    script, cuts = _read("lighthouse.vtt", "vtt")
    assert _rows(cuts) == [
        ("C-012", "MAYA", "今の、聞こえた？", 1000, 3200, "maya-1"),
        ("C-013", "KEN", "風だよ。 それだけ。", 3500, 5040, "ken-1"),
        ("C-014", "NARRATOR", "灯台は暗かった。", 14000, 15500, "C-014/NARRATOR/1"),
        ("C-015", "HARU", "Tom & Jerry <3", 3_607_001, 3_609_120, "haru-1"),
    ]
    warnings = {(w.code, w.where.number if w.where else None) for w in script.warnings}
    assert warnings == {("cue_without_text", 3), ("no_speaker", 5)}


def test_ass_fields_override_tags_and_centiseconds() -> None:
    script, cuts = _read("lighthouse.ass", "ass")
    assert _rows(cuts) == [
        ("C-001", "MAYA", "今の、聞こえた？", 1000, 3200, "C-001/MAYA/1"),
        ("C-012", "KEN", "風だよ。 それだけ, ほんとに。", 3500, 5040, "C-012/KEN/1"),
        ("C-013", "NARRATOR", "灯台は暗かった。", 3_723_070, 3_724_930, "C-013/NARRATOR/1"),
    ]
    assert {(w.code, w.where.line if w.where else None) for w in script.warnings} == {
        ("cue_without_text", 16),
        ("no_speaker", 17),
    }


@pytest.mark.parametrize(
    ("fps", "times"),
    [
        (
            FPS_23_976,
            [(1001, 3504), (3545, 5005), (10969, 60060)],
        ),
        (Fraction(25), [(1000, 3480), (3520, 5000), (10920, 60000)]),
        (Fraction(30), [(1000, 3400), (3433, 5000), (10767, 60000)]),
        (Fraction(30000, 1001), [(1001, 3403), (3437, 5005), (10777, 60060)]),
    ],
)
def test_csv_smpte_timecodes_at_the_project_rate(
    fps: Fraction, times: list[tuple[int, int]]
) -> None:
    script, cuts = _read("lighthouse.csv", "csv", fps)
    timed = [(ln.start_ms, ln.end_ms) for cut in cuts for ln in cut.lines if ln.start_ms]
    assert timed == times
    lines = [ln for cut in cuts for ln in cut.lines]
    assert [(c.number, len(c.lines)) for c in cuts] == [("C-001", 2), ("C-002", 1), ("C-003", 1)]
    assert [ln.source_key for ln in lines] == ["m1", "k1", "h1", "n1"]
    assert [ln.target_ms for ln in lines] == [None, None, 2500, 3004]
    assert [ln.language for ln in lines] == ["ja", "ja", "en", None]
    assert lines[1].text == "風だよ。それだけ, ほんとに。"
    assert [w.code for w in script.warnings] == ["columns_ignored"]


def test_timecodes_are_exact() -> None:
    assert timecode_ms("00:00:01:00", FPS_23_976) == 1001
    # One hour of 23.976 non-drop timecode is 3,603.6 s of real time.
    assert timecode_ms("01:00:00:00", FPS_23_976) == 3_603_600
    assert timecode_ms("0.1", Fraction(24)) + timecode_ms("0.2", Fraction(24)) == 300
    assert timecode_ms("1.0005", Fraction(24)) == 1001  # half up, once
    assert timecode_ms("01:02,5", Fraction(24)) == 62_500
    assert timecode_ms("1:00:00.001", Fraction(24)) == 3_600_001
    for bad, hint in {
        "-1.5": "negative",
        "00:00:01;12": "drop-frame",
        "00:00:01:24": "00 to 23",
        "00:61:00.000": "00 to 59",
        "soon": "not a time",
    }.items():
        with pytest.raises(ValueError, match=hint):
            timecode_ms(bad, Fraction(24))


def test_json_ids_durations_and_cuts_in_time_order() -> None:
    _, cuts = _read("lighthouse.json", "json")
    assert _rows(cuts) == [
        ("C-001", "KEN", "Then who turned the light on?", 1001, 2999, "C-001/KEN/1"),
        ("C-003", "MAYA", "The signal came from the old lighthouse.", 10500, 13000, "maya-3"),
        ("C-003", "HARU", "灯台から？もう誰もいないはずだよ。", 13200, 16050, "haru-3"),
    ]
    assert cuts[1].lines[1].target_ms == 2750
    assert (cuts[1].start_ms, cuts[1].end_ms) == (10000, 16500)


def test_shift_jis_csv_with_its_encoding_named() -> None:
    raw = (SCRIPTS / "lighthouse_sjis.csv").read_bytes()
    script = parse_script(raw, "csv", frame_rate=Fraction(24), encoding="shift_jis")
    assert [(ln.character, ln.text, ln.start_ms) for ln in script.lines] == [
        ("ハル", "灯台から？もう誰もいないはずだよ。", 500),
        ("マヤ", "でも、光が見えた。", 3000),
    ]
    not_utf8 = _refused(raw, "csv")
    assert isinstance(not_utf8, ScriptInvalid) and "not UTF-8" in not_utf8.detail
    assert not_utf8.extra["line"] == 2
    with pytest.raises(ScriptEncodingUnsupported):
        parse_script(raw, "csv", frame_rate=Fraction(24), encoding="klingon-8")
    with pytest.raises(ScriptEncodingUnsupported):
        parse_script(raw, "csv", frame_rate=Fraction(24), encoding="base64")


def test_utf16_with_a_bom_is_read() -> None:
    text = "1\n00:00:01,000 --> 00:00:02,000\nKEN: こんにちは\n"
    script = parse_script(text.encode("utf-16"), "srt", frame_rate=Fraction(24))
    assert [(ln.character, ln.text) for ln in script.lines] == [("KEN", "こんにちは")]


def test_same_speaker_overlap_is_refused_other_speakers_may_overlap() -> None:
    talking_over = (
        "1\n00:00:01,000 --> 00:00:03,000\nKEN: Wait—\n\n"
        "2\n00:00:02,000 --> 00:00:04,000\nAMI: No, you wait.\n\n"
        "3\n00:00:03,000 --> 00:00:05,000\nKEN: Fine.\n"
    )
    script = parse_script(talking_over.encode(), "srt", frame_rate=Fraction(24))
    assert len(script.lines) == 3, "different speakers overlap; KEN's lines only touch"
    overlap = _refused(
        talking_over.replace("00:00:03,000 --> 00:00:05,000", "00:00:02,999 --> 00:00:05,000"),
        "srt",
    )
    assert isinstance(overlap, ScriptOverlap)
    assert overlap.code == "script_overlap"
    assert overlap.extra["cue"] == 3 and overlap.extra["character"] == "KEN"
    assert "cue 1" in overlap.detail and "cue 3" in overlap.detail


@pytest.mark.parametrize(
    ("fmt", "raw", "hint", "where"),
    [
        ("srt", "", "empty", {}),
        ("srt", "  \n\n", "empty", {}),
        (
            "srt",
            "1\n00:00:01,000 --> 00:00:02,000\nKEN: a\n\n1\n00:00:03,000 --> 00:00:04,000\nKEN: b\n",
            "index 1 is used again",
            {"cue": 2},
        ),
        ("srt", "1\n00:00:02,000 --> 00:00:02,000\nKEN: zero\n", "not after the start", {"cue": 1}),
        (
            "srt",
            "1\n00:00:01,000 --> -00:00:02,000\nKEN: back\n",
            "is not 'HH:MM:SS,mmm",
            {"cue": 1},
        ),
        ("srt", "1\n00:00:61,000 --> 00:01:02,000\nKEN: hi\n", "00 to 59", {"cue": 1}),
        ("vtt", "1\n00:00:01.000 --> 00:00:02.000\nhi\n", "WEBVTT", {"line": 1}),
        (
            "vtt",
            "WEBVTT\n\nintro\n00:01.5 --> 00:02.000\nhi\n",
            "is not 'HH:MM:SS.mmm",
            {"cue": 1, "line": 4},
        ),
        (
            "vtt",
            "WEBVTT\n\n00:00:03.000 --> 00:00:02.000\n<v KEN>hi\n",
            "not after the start",
            {"cue": 1, "line": 3},
        ),
        (
            "vtt",
            "WEBVTT\n\na\n00:00:01.000 --> 00:00:02.000\nhi\n\na\n00:00:03.000 --> 00:00:04.000\nho\n",
            "cue id 'a' is used again",
            {"cue": 2},
        ),
        ("vtt", "WEBVTT\n\njust text\nmore text\n", "expected a timing line", {"cue": 1}),
        (
            "ass",
            "[Script Info]\nTitle: x\n\n[Events]\nDialogue: 0,0:00:01.00,0:00:02.00,Default,KEN,0,0,0,,Hi\n",
            "no Format line",
            {"cue": 1, "line": 5},
        ),
        ("ass", "[Script Info]\nTitle: x\n", "no Format line", {}),
        (
            "ass",
            "[Events]\nFormat: Layer, Start, End, Style, Name, Text\nDialogue: 0,0:00:01.0x,0:00:02.00,Default,KEN,Hi\n",
            "is not a time",
            {"cue": 1, "line": 3},
        ),
        (
            "ass",
            "[Events]\nFormat: Layer, Start, End, Style, Name, Text\nDialogue: 0,0:00:01.00\n",
            "2 fields where",
            {"cue": 1},
        ),
        ("ass", "[Events]\nFormat: Layer, Start, End, Text, Name\n", "Text last", {"line": 2}),
        ("csv", "speaker,start\nKEN,1.0\n", "lacks the required column text", {"row": 1}),
        ("csv", "who,what\nKEN,Hi\n", "columns character, text", {"row": 1}),
        ("csv", "character,text,start,end\nKEN,Hi,2.0,1.0\n", "not after the start", {"row": 2}),
        ("csv", "character,text,start\nKEN,Hi,-1\n", "negative", {"row": 2}),
        ("csv", "character,text,start\nKEN,Hi,00:00:01:30\n", "00 to 23", {"row": 2}),
        ("csv", "character,text,cut\nKEN,Hi,scene 4\n", "not a cut number", {"row": 2}),
        ("csv", "id,character,text\na,KEN,Hi\na,AMI,Ho\n", "used again", {"row": 3}),
        ("csv", "character,text\n", "no rows", {}),
        (
            "csv",
            "character,text,language\nKEN,Hi,japanese-as-spoken\n",
            "longer than 16",
            {"row": 2},
        ),
        (
            "vtt",
            f"WEBVTT\n\n00:01.000 --> 00:02.000\n<v {'K' * 201}>Hi\n",
            "longer than 200",
            {"cue": 1},
        ),
        (
            "json",
            '{"cuts": [{"lines": [{"character": "KEN", "text": "Hi", "start": -1}]}]}',
            "expected shape",
            {},
        ),
        (
            "json",
            '{"cuts": [{"lines": [{"character": "KEN", "text": "Hi", "start": 2, "end": 1}]}]}',
            "not after the start",
            {"fields": ["cuts.0.lines.0.end"]},
        ),
        (
            "json",
            '{"cuts": [{"lines": [{"id": "x", "character": "A", "text": "a"}, {"id": "x", "character": "B", "text": "b"}]}]}',
            "used again",
            {"fields": ["cuts.0.lines.1.id"]},
        ),
    ],
)
def test_bad_scripts_say_what_and_where(
    fmt: str, raw: str, hint: str, where: dict[str, object]
) -> None:
    problem = _refused(raw, fmt)
    assert isinstance(problem, ScriptInvalid), problem
    assert hint in problem.detail, problem.detail
    for key, value in where.items():
        assert problem.extra.get(key) == value, (key, problem.extra)


def test_a_script_of_only_tags_has_nothing_to_import() -> None:
    problem = _refused("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<i></i>\n", "vtt")
    assert isinstance(problem, ScriptInvalid) and "no line with text" in problem.detail


def test_explicit_and_derived_keys_may_not_collide() -> None:
    raw = (
        '{"cuts": [{"number": "C-001", "lines": [{"character": "KEN", "text": "a"},'
        ' {"id": "C-001/KEN/1", "character": "AMI", "text": "b"}]}]}'
    )
    script = parse_script(raw.encode(), "json", frame_rate=Fraction(24))
    with pytest.raises(ScriptInvalid, match="both come out as line 'C-001/KEN/1'"):
        assign_source_keys(number_cuts(script.cuts))


def test_a_cue_with_several_voices_is_read_as_the_first_and_said_so() -> None:
    raw = "WEBVTT\n\n00:01.000 --> 00:03.000\n<v KEN>Ready?\n<v AMI>Ready.\n"
    script = parse_script(raw.encode(), "vtt", frame_rate=Fraction(24))
    assert [(ln.character, ln.text) for ln in script.lines] == [("KEN", "Ready? Ready.")]
    assert [(w.code, w.where and w.where.line) for w in script.warnings] == [("several_voices", 3)]
