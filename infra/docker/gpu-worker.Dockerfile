# syntax=docker/dockerfile:1
#
# Reelsmith GPU worker: Celery on the `gpu` queue, one container per GPU, batched diffusion on CUDA.
# Build context is the repository root:
#   docker build -f infra/docker/gpu-worker.Dockerfile -t reelsmith-gpu-worker .
# The context is filtered by gpu-worker.Dockerfile.dockerignore.
#
# CUDA: torch 2.13 is published for CUDA 12.6, 13.0 and 13.2; 12.6 is the only 12.x build, so the base
# image is CUDA 12.6 and the wheel is +cu126: the host needs a driver for CUDA 12.6 (R560 or newer). Its
# kernels cover Maxwell through Hopper (A100, L4, H100, H200); Blackwell needs the CUDA 13 builds: set
# CUDA_IMAGE to a 13.0 image and TORCH_CUDA=cu130 together.
# The wheel brings its own CUDA libraries (nvidia-*-cu12 wheels); the runtime base image is what the
# platform standardises on. A `-base-` image of the same version also works and is ~2 GB smaller.
#
# Python 3.11: Ubuntu 24.04 ships 3.12, so the interpreter is a relocatable python-build-standalone 3.11
# installed by uv (pinned by the uv version), copied into the runtime stage at the same path.
#
# Weights are never downloaded: models are mounted read-only at /models (REELSMITH_MODEL_CACHE) and the
# Hugging Face libraries are forced offline.

ARG CUDA_IMAGE=nvidia/cuda:12.6.3-runtime-ubuntu24.04
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.8
ARG PYTHON_VERSION=3.11
ARG TORCH_VERSION=2.13.0
ARG TORCH_CUDA=cu126

FROM ${UV_IMAGE} AS uv

# ---------------------------------------------------------------------------------------------------------
FROM ${CUDA_IMAGE} AS build
ARG PYTHON_VERSION
ARG TORCH_VERSION
ARG TORCH_CUDA
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_PYTHON_INSTALL_DIR=/opt/python \
    UV_PYTHON_PREFERENCE=only-managed \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PATH=/opt/venv/bin:$PATH
RUN uv python install "${PYTHON_VERSION}" \
 && uv venv --seed --python "${PYTHON_VERSION}" /opt/venv \
 && python -c "import sys; assert sys.version_info[:2] == (3, 11), sys.version"

# 1. torch with CUDA first, from the PyTorch CUDA wheel index, pinned to the exact local version so that
#    step 2 cannot swap it for PyPI's build (which is CUDA 13).
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install "torch==${TORCH_VERSION}+${TORCH_CUDA}" --index-url "https://download.pytorch.org/whl/${TORCH_CUDA}" \
 && echo "torch==${TORCH_VERSION}+${TORCH_CUDA}" > /opt/torch-constraint.txt

# 2. pyproject.toml's [project].dependencies and the engine's `gpu` extra (the project itself runs from /app).
COPY pyproject.toml /tmp/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import tomllib; p = tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['gpu']))" \
        > /tmp/requirements.txt \
 && pip install -c /opt/torch-constraint.txt -r /tmp/requirements.txt \
 && python -c "import torch, sys; v = torch.__version__; sys.exit(0 if v == '${TORCH_VERSION}+${TORCH_CUDA}' and torch.version.cuda else 'unexpected torch ' + v)"

# ---------------------------------------------------------------------------------------------------------
FROM ${CUDA_IMAGE} AS runtime
# gcc + libc6-dev: Triton (torch.compile on CUDA) builds its small C launcher with the system compiler at
# run time; without one, compiled graphs fail. tini: PID 1, forwards SIGTERM for Celery's warm shutdown.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 reelsmith \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/reelsmith --create-home \
        --shell /usr/sbin/nologin reelsmith

COPY --from=build /opt/python /opt/python
COPY --from=build /opt/venv /opt/venv

WORKDIR /app
COPY . /app
RUN /opt/venv/bin/python -m compileall -q -j 0 /app \
 && mkdir -p /app/var /models \
 && chown 10001:10001 /app/var

# Caches that torch/Triton/HF write go to /tmp (an emptyDir in k8s); the root filesystem can be read-only.
# PYTORCH_ALLOC_CONF: expandable segments cut fragmentation when batch sizes vary (fewer false OOMs).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=core.settings \
    HOME=/home/reelsmith \
    TMPDIR=/tmp \
    REELSMITH_DEVICE=cuda \
    REELSMITH_MODEL_CACHE=/models \
    HF_HOME=/tmp/huggingface \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    TRITON_CACHE_DIR=/tmp/triton \
    TORCHINDUCTOR_CACHE_DIR=/tmp/torchinductor \
    PYTORCH_ALLOC_CONF=expandable_segments:True

USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--"]
# One process per GPU: concurrency 1, prefork (time limits are enforced in prefork), prefetch 1. No
# --max-tasks-per-child: the default (no limit) keeps the child and its loaded model alive for the life
# of the container. (`--max-tasks-per-child 0` is rejected by billiard 4.3: "maxtasksperchild must be a
# positive int or None", and the worker would not start.)
CMD ["celery", "-A", "core", "worker", "-Q", "gpu", "--concurrency", "1", "--prefetch-multiplier", "1", "-P", "prefork"]
