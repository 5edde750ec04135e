"""A cut's takes placed on its clock, ready for the lip-sync exports."""

from __future__ import annotations

from fractions import Fraction

from sqlalchemy.orm import Session

from models.engines import PhonemeTiming, WordTiming
from voicehub.errors import NoTakes
from voicehub.lipsync import CutInfo, CutTiming, PlacedTake, build_cut_timing
from voicehub.production.service import (
    FRAME_RATES,
    character_names,
    latest_takes,
    lines_of_cut,
    lookup_frame_rate,
)
from voicehub.production.tables import Cut
from voicehub.tenancy.scope import get_owned

# Animation is drawn on ones, twos or threes: 24, 12 or 8 drawings a second.
EXPORT_FRAME_RATES: dict[str, Fraction] = {**FRAME_RATES, "12": Fraction(12), "8": Fraction(8)}


def export_frame_rate(value: str | None, cut: Cut) -> Fraction:
    if value is None:
        return cut.frame_rate
    return lookup_frame_rate(value, EXPORT_FRAME_RATES, "fps")


def cut_timing(
    session: Session, studio_id: str, cut_id: str, *, shape_set: str, fps: str | None
) -> CutTiming:
    """Place each line's take in the cut and compute its mouth track.

    A line with a target window starts at that window; a line without one
    follows the previous take. The cut lasts at least until its last take ends.
    """
    cut = get_owned(session, Cut, studio_id, cut_id)
    rate = export_frame_rate(fps, cut)
    lines = lines_of_cut(session, studio_id, cut.id)
    takes = latest_takes(session, studio_id, [line.id for line in lines])
    if not takes:
        raise NoTakes(f"Cut {cut.number} has no takes yet; synthesize its lines first.")
    names = character_names(session, studio_id, cut.project_id)
    placed: list[PlacedTake] = []
    cursor = Fraction(0)
    for line in lines:
        take = takes.get(line.id)
        if take is None:
            continue
        offset = (
            cursor
            if line.start_ms is None
            else Fraction(max(0, line.start_ms - cut.start_ms), 1000)
        )
        placed.append(
            PlacedTake(
                line_id=line.id,
                take_id=take.id,
                consent_version_id=take.consent_version_id,
                character=names[line.character_id],
                text=take.text,
                language=take.language,
                offset_seconds=offset,
                sample_rate=take.sample_rate,
                phonemes=[
                    PhonemeTiming(p, s, n, bool(pause))
                    for p, s, n, pause in take.timing["phonemes"]
                ],
                words=[WordTiming(w, s, n) for w, s, n in take.timing["words"]],
                morae=[WordTiming(m, s, n) for m, s, n in take.timing.get("morae", [])],
            )
        )
        cursor = offset + Fraction(take.num_samples, take.sample_rate)
    end = max(
        [Fraction(cut.end_ms - cut.start_ms, 1000)]
        + [
            t.offset_seconds + Fraction(sum(p.samples for p in t.phonemes), t.sample_rate)
            for t in placed
        ]
    )
    info = CutInfo(
        cut_id=cut.id, number=cut.number, duration_seconds=end, frame_rate=cut.frame_rate
    )
    return build_cut_timing(info, placed, shape_set=shape_set, fps=rate)
