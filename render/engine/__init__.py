"""The GPU side of Reelsmith: model registry, pipeline loading, batching, prompt-embedding cache.

No Django here: frozen dataclasses in (`types.GenerationRequest`), one `types.GenerationResult` per
request out. Importing this package loads no model and not even diffusers; the worker calls
`pipeline.get_engine(name)` on first use, in the child process.

    from render.engine.pipeline import get_engine
    results = get_engine("tiny-sd").run_batch(requests)  # same ShapeKey for all

Modules: `config` (settings from the environment), `registry` (the catalog's models, `adspec/catalog.py`,
and their directories), `pipeline` (Engine, get_engine), `loading` (a pipeline onto its device),
`batching` (padding buckets, the OOM split), `failures` (classify_error), `denoise` (the SD loop),
`text_encoding` (prompt cache, batch invariance), `tiny` (builds tiny-sd, tiny-wan), `fullsize` (full-size
architectures for GPU benchmarks), `errors`, `types`.
"""
