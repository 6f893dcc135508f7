# syntax=docker/dockerfile:1
#
# Reelsmith CPU worker: Celery on the `cpu` queue (planning, ffmpeg composition, uploads). No GPU.
# Build context is the repository root:
#   docker build -f infra/docker/cpu-worker.Dockerfile -t reelsmith-cpu-worker .
# The context is filtered by cpu-worker.Dockerfile.dockerignore.
#
# ffmpeg: the code runs the static ffmpeg build shipped in the imageio-ffmpeg wheel (the same binary the
# tests use), so no distribution ffmpeg is installed: one ffmpeg, one set of filters, everywhere.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv

# pyproject.toml's [project].dependencies (the project itself runs from /app), without the engine's `gpu`
# extra: planning, composing and uploading import no torch (tests/core/test_torch_free.py).
COPY pyproject.toml /tmp/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && python -c "import importlib.util, sys; sys.exit('torch must not be in this image' if importlib.util.find_spec('torch') else 0)" \
 && python -c "import imageio_ffmpeg, os, sys; exe = imageio_ffmpeg.get_ffmpeg_exe(); sys.exit(0 if os.access(exe, os.X_OK) else 'ffmpeg not executable: ' + exe)"

# ---------------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 reelsmith \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/reelsmith --create-home \
        --shell /usr/sbin/nologin reelsmith

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
COPY . /app
RUN python -m compileall -q -j 0 /app \
 && mkdir -p /app/var \
 && chown 10001:10001 /app/var

# TMPDIR: ffmpeg scratch (segments, concat lists); a sized emptyDir in k8s, the container layer in compose.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=core.settings \
    HOME=/home/reelsmith \
    TMPDIR=/tmp \
    HF_HOME=/tmp/huggingface \
    HF_HUB_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    REELSMITH_DEVICE=cpu

USER 10001:10001
# tini forwards SIGTERM to the Celery parent: warm shutdown, the running tasks finish (stop grace period).
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["celery", "-A", "core", "worker", "-Q", "cpu", "--concurrency", "2", "--prefetch-multiplier", "1", "-O", "fair"]
