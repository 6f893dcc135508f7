"""The ad-template spec's own words, limits and model catalog, shared by every side that reads a spec.

Plain Python, below everything else (no Django, no torch, no ffmpeg): the validator (`templates/spec.py`),
the planner (`render/planning.py`), the compositor (`render/compose/`) and the engine's registry
(`render/engine/registry.py`) import their vocabulary and limits from here, so they cannot disagree.

Modules: `vocabulary` (kinds, enums, the `{{name}}` and colour syntax), `limits` (sizes, rates, durations,
counts), `catalog` (the models a spec may name: what they make, at which sizes, how they load).
"""
