"""The GPU side of Reelsmith: model registry, pipeline loading, batching, prompt-embedding cache.

No Django here: frozen dataclasses in (`types.GenerationRequest`), one `types.GenerationResult` per
request out. Importing this package loads no model and not even diffusers; the worker calls
`pipeline.get_engine(name)` on first use, in the child process.

    from render.engine.pipeline import get_engine
    results = get_engine("tiny-sd").run_batch(requests)  # same ShapeKey for all

Modules: `config` (settings from the environment), `registry` (models and their directories), `pipeline`
(Engine, get_engine, classify_error), `tiny` (builds tiny-sd), `fullsize` (full-size architectures for
GPU benchmarks), `errors`, `types`.
"""
