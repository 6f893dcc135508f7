# syntax=docker/dockerfile:1
#
# Reelsmith API: gunicorn serving core.wsgi (also the image of the migrate job and of beat).
# Build context is the repository root:
#   docker build -f infra/docker/api.Dockerfile -t reelsmith-api .
# The context is filtered by api.Dockerfile.dockerignore (BuildKit reads <Dockerfile>.dockerignore).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------------------
# build: a virtualenv with every runtime dependency; nothing of the toolchain reaches the final image.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv

# The dependencies declared in pyproject.toml ([project].dependencies, no extras): no torch, no diffusers.
# The engine is the `gpu` extra, installed in the GPU worker's image alone; nothing the API imports needs it
# (tests/core/test_torch_free.py), and the image is ~1 GB lighter without it. Only pyproject.toml is copied
# here, so this layer is rebuilt when the dependencies change, not on every source edit. This is
# `pip install .` minus the project itself, which runs from /app (see below).
COPY pyproject.toml /tmp/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && python -c "import importlib.util, sys; sys.exit('torch must not be in this image' if importlib.util.find_spec('torch') else 0)"

# ---------------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# tini: PID 1 that forwards SIGTERM to gunicorn (graceful stop) and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 reelsmith \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/reelsmith --create-home \
        --shell /usr/sbin/nologin reelsmith

COPY --from=build /opt/venv /opt/venv

# The source tree is the application: manage.py lives at the root and the apps carry non-Python files
# (templates, schemas, migrations), so it is run from /app rather than installed into site-packages.
# Owned by root, read-only to the app user; var/ is the only place it may write (emptyDir in k8s).
WORKDIR /app
COPY . /app
RUN python -m compileall -q -j 0 /app \
 && mkdir -p /app/var \
 && chown 10001:10001 /app/var

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=core.settings \
    STATIC_ROOT=/app/static \
    DJANGO_STATIC_MANIFEST=true \
    HOME=/home/reelsmith \
    HF_HOME=/tmp/huggingface \
    HF_HUB_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    REELSMITH_DEVICE=cpu \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus

# PROMETHEUS_MULTIPROC_DIR: gunicorn's workers each count their HTTP requests there and /metrics sums them
# (core/metrics.py); /tmp is the container's own (an emptyDir in Kubernetes).
# Static files (the admin's styles), hashed and compressed, served by WhiteNoise (core/settings.py). Collected
# into the image, outside /app/var: that is an emptyDir in Kubernetes and would hide them. Needs no database:
# with DATABASE_URL unset the settings load in embedded mode.
RUN python manage.py collectstatic --noinput

USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["gunicorn", "core.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--timeout", "60"]
