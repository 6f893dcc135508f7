"""Timing: which output frames each scene owns, and the extra frames rendered under the fades at its cuts.

Counted in frames, never in seconds, so the total is exact: scene i owns the frames between
round(fps * start_i) and round(fps * end_i). A fade of D frames overlaps two scenes, and xfade shortens
the output by D, so each scene is rendered with extra frames at the cut (D // 2 after the outgoing scene,
the rest before the incoming one): the fade is centred on the planned cut and the total stays the sum of
the scene durations. A window (a segment, `segments.py`) is a run of output frames; `window_parts` says
which rendered frames of which scenes it shows.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from render.compose.plan import CompositionPlan


@dataclass(frozen=True, slots=True)
class SceneTiming:
    """A scene's frames in the output, and the extra frames rendered under the fades at its cuts."""

    frames: int
    lead_in: int = 0
    lead_out: int = 0

    @property
    def rendered(self) -> int:
        return self.lead_in + self.frames + self.lead_out


def scene_frames(plan: CompositionPlan) -> list[int]:
    """Frames per scene, from rounded cumulative boundaries, so rounding never accumulates."""
    boundaries = [0]
    elapsed = 0.0
    for scene in plan.scenes:
        elapsed += scene.duration
        boundaries.append(round(elapsed * plan.fps))
    return [end - start for start, end in itertools.pairwise(boundaries)]


# Our transition names to xfade's: slides and wipes move right to left, the way a reader's eye
# leaves a Latin line (a design choice; xfade has every direction).
XFADES = {"fade": "fade", "slide": "slideleft", "wipe": "wipeleft"}


def plan_cuts(plan: CompositionPlan) -> list[tuple[str, int]]:
    """Per cut between scene i and i+1: the xfade transition and its length in frames (0: a cut)."""
    out = []
    for scene in plan.scenes[:-1]:
        transition = scene.transition_out or plan.transition
        frames = round(transition.duration * plan.fps) if transition.type in XFADES else 0
        out.append((XFADES.get(transition.type, "fade"), frames))
    return out


def scene_timings(plan: CompositionPlan) -> tuple[SceneTiming, ...]:
    """Each scene's frames, plus the frames it is extended by under the fades at its cuts."""
    frames = scene_frames(plan)
    fades = [0, *(count for _, count in plan_cuts(plan)), 0]
    # A fade of D frames centred on its cut: D // 2 extra frames after the outgoing scene, the rest
    # before the incoming one.
    return tuple(
        SceneTiming(frames=count, lead_in=fades[index] - fades[index] // 2, lead_out=fades[index + 1] // 2)
        for index, count in enumerate(frames)
    )


@dataclass(frozen=True, slots=True)
class WindowPart:
    """Scene `index`'s rendered frames skip..skip+count-1, at output frames first..first+count-1."""

    index: int
    skip: int
    count: int
    first: int


def window_parts(timings: tuple[SceneTiming, ...], first: int, end: int) -> list[WindowPart]:
    """The part of each scene (its fades' extra frames included) that output frames first..end-1 show."""
    parts, start = [], 0
    for index, timing in enumerate(timings):
        lo, hi = start - timing.lead_in, start + timing.frames + timing.lead_out
        start += timing.frames
        part_lo, part_hi = max(lo, first), min(hi, end)
        if part_lo < part_hi:
            parts.append(WindowPart(index, part_lo - lo, part_hi - part_lo, part_lo))
    return parts
