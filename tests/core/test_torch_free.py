"""The API and CPU-worker images carry no torch (infra/docker/api.Dockerfile, cpu-worker.Dockerfile): nothing
they import may need it. A subprocess where torch and the libraries built on it cannot be imported loads what
those processes load, and the CPU side of a render."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# The engine's `gpu` extra (pyproject.toml): none of it is installed in the API or CPU-worker images.
ENGINE_ONLY = ("torch", "diffusers", "transformers", "accelerate", "safetensors")

SCRIPT = f"""
import importlib, pkgutil, sys

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {ENGINE_ONLY!r}:
            raise ImportError(f"{{name}} is not installed in this image")
        return None

sys.meta_path.insert(0, Blocked())

import core.wsgi  # what gunicorn loads: settings, every app, the URLconf
from django.urls import get_resolver
get_resolver().url_patterns  # every view module
from core.celery import tasks_discover
tasks_discover()  # what a worker imports as it starts: every tasks module
from core.celery import app
assert "render.compose" in app.tasks and "render.reconcile" in app.tasks, sorted(app.tasks)
import render.compose, render.services
for package in (render.compose, render.services):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
from render.engine.registry import model_spec  # composing a clip asks the catalog for its frame rate
assert model_spec("tiny-wan").fps
loaded = sorted(name for name in sys.modules if name.split(".")[0] in {ENGINE_ONLY!r})
assert not loaded, loaded
print("torch-free")
"""


def test_the_api_and_the_cpu_worker_import_nothing_of_torch() -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "CELERY_", "AWS_", "REELSMITH_TEST"))
    }
    env.update(DJANGO_SETTINGS_MODULE="core.settings", REELSMITH_EMBEDDED_PERIODIC="off")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("torch-free")
