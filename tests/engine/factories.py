"""Request factories for the engine tests."""

from __future__ import annotations

from render.engine.types import GenerationRequest, ShapeKey


def make_requests(shape: ShapeKey, n: int, *, tag: str = "r", seed0: int = 0) -> list[GenerationRequest]:
    return [
        GenerationRequest(key=f"{tag}{i}", shape=shape, prompt=f"{tag} prompt number {i}", seed=seed0 + i)
        for i in range(n)
    ]
