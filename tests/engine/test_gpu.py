"""Opt-in CUDA checks: run with `-m gpu` on a lent GPU machine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from render.engine.config import EngineSettings
from render.engine.pipeline import Engine
from render.engine.registry import ModelSpec
from tests.engine.factories import make_requests

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_tiny_sd_on_cuda_in_bf16(tiny_spec: ModelSpec, model_cache: Path) -> None:
    engine = Engine(tiny_spec, settings=EngineSettings(model_cache=model_cache, device="cuda"))
    assert engine.dtype == torch.bfloat16
    shape = tiny_spec.shape_key()
    requests = make_requests(shape, 5, tag="gpu")
    results = engine.run_batch(requests)
    assert [r.key for r in results] == [r.key for r in requests]
    assert all(r.ok for r in results)
    again = engine.run_batch(requests)
    assert all(r.ok for r in again)
    assert [np.asarray(r.image).tobytes() for r in results] == [np.asarray(r.image).tobytes() for r in again]
