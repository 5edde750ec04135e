"""Moho switch data (`.dat`): the Preston Blair mouth track as Moho and OpenToonz read it.

The file is `MohoSwitch1`, then one `<frame> <shape>` line per mouth cue,
frames counted from 1 (a cue starting at frame index 0 is written `1`), one
space between the two tokens. Moho and Papagayo spell the shapes `AI E O U
FV L MBP WQ etc rest`; OpenToonz's "Apply Lip Sync Data" lowercases what it
reads, keeps only lines of exactly two space-separated tokens whose first
is a number and second is not, and ignores the header line, so the same
file serves both.

OpenToonz shows the last line's shape only up to that line's own frame, so
when the last cue is longer than a frame the last frame of the cut gets a
line of its own with the same shape: Moho reads the repeat as a key that
changes nothing, OpenToonz fills the cut to its end. The file carries no
frame rate; it is written at the rate the timing was built at.
"""

from __future__ import annotations

from voicehub.lipsync.exports import CutTiming, require_shape_set
from voicehub.lipsync.shapes import PRESTON_BLAIR

MOHO_HEADER = "MohoSwitch1"


def moho_dat(timing: CutTiming) -> str:
    """The cut's mouth track as a Moho switch file; needs the preston_blair shape set."""
    require_shape_set(timing, PRESTON_BLAIR, "Moho switch data")
    lines = [MOHO_HEADER]
    lines += [f"{cue.start_frame + 1} {cue.shape}" for cue in timing.mouth_cues]
    if timing.mouth_cues:
        last = timing.mouth_cues[-1]
        if last.end_frame - last.start_frame > 1:
            lines.append(f"{last.end_frame} {last.shape}")
    return "\n".join(lines) + "\n"
