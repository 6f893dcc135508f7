"""The engine's exceptions. Plain Python, so the Django side can catch them without importing torch."""

from __future__ import annotations


class EngineError(Exception):
    """Base class of everything the engine raises on purpose."""


class EngineConfigError(EngineError, ValueError):
    """An engine environment variable holds a value the engine cannot use."""


class UnknownModelError(EngineError, LookupError):
    """No model of that name is in the registry."""


class ModelNotInstalledError(EngineError, FileNotFoundError):
    """The model is registered but its directory is missing and it cannot be built locally."""


class FatalEngineError(EngineError):
    """A sticky device failure: the CUDA context is unusable, so the worker process must exit.

    Raised out of `Engine.run_batch`; the worker lets it end the process so a fresh one takes over, and the
    claimed Generations are retried from the database.
    """
