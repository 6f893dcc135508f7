"""Static checks of infra/ that need no Docker engine and no cluster.

    .venv/bin/python infra/validate.py

Parses every YAML file, renders both kustomizations (when kubectl is on PATH), and checks what the tools
that are missing here (docker compose config, hadolint, kubeconform) would partly catch plus what they
would not: that the three Dockerfiles, compose.yaml and the Kubernetes manifests run the same fixed
process commands, that every environment variable the settings need is provided, that the workers' grace
periods sit between the task hard time limit and the broker's visibility timeout, and that the KEDA
triggers cover every priority list of both queues. Exit status 1 when anything is wrong.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

INFRA = Path(__file__).resolve().parent
ROOT = INFRA.parent

API_CMD = ["gunicorn", "core.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--timeout", "60"]
CPU_CMD = [
    "celery",
    "-A",
    "core",
    "worker",
    "-Q",
    "cpu",
    "--concurrency",
    "2",
    "--prefetch-multiplier",
    "1",
    "-O",
    "fair",
]
# No --max-tasks-per-child: billiard 4.3 rejects 0 ("must be a positive int or None"); None = no limit.
GPU_CMD = [
    "celery",
    "-A",
    "core",
    "worker",
    "-Q",
    "gpu",
    "--concurrency",
    "1",
    "--prefetch-multiplier",
    "1",
    "-P",
    "prefork",
]
BEAT_CMD = ["celery", "-A", "core", "beat", "-S", "django_celery_beat.schedulers:DatabaseScheduler"]
MIGRATE_CMD = ["python", "manage.py", "migrate", "--noinput"]
IMAGE_CMDS = {"api": API_CMD, "cpu-worker": CPU_CMD, "gpu-worker": GPU_CMD}

REQUIRED_ENV = [
    "DJANGO_SECRET_KEY",
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_S3_REGION_NAME",
    "AWS_S3_CHECKSUM",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "PUBLIC_BASE_URL",
    "REELSMITH_MODEL_CACHE",
    "REELSMITH_DEVICE",
]
# Unset means AWS itself; documented (commented out) in the ConfigMap.
OPTIONAL_IN_K8S = {"AWS_S3_ENDPOINT_URL"}
PRIORITY_STEPS = range(10)  # core/settings.py: broker_transport_options priority_steps, sep ":"

# The compose-spec keys this file may use for a service (a subset of the specification).
COMPOSE_SERVICE_KEYS = {
    "build",
    "command",
    "depends_on",
    "deploy",
    "entrypoint",
    "env_file",
    "environment",
    "healthcheck",
    "image",
    "ports",
    "profiles",
    "restart",
    "security_opt",
    "shm_size",
    "stop_grace_period",
    "volumes",
}
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}

problems: list[str] = []


def check(ok: bool, message: str) -> None:
    if not ok:
        problems.append(message)


def load_all(path: Path) -> list[Any]:
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def env_file_names(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value
    return values


# --- Dockerfiles ---------------------------------------------------------------------------------------------


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, rest = full.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def check_dockerfile(name: str) -> None:
    path = INFRA / "docker" / f"{name}.Dockerfile"
    check(path.is_file(), f"{path} is missing")
    if not path.is_file():
        return
    ignore = path.with_name(path.name + ".dockerignore")
    check(ignore.is_file(), f"{ignore} is missing")
    if ignore.is_file():
        rules = set(ignore.read_text().split())
        for needed in (".venv", "var", ".git", "**/__pycache__"):
            check(needed in rules, f"{ignore.name} does not exclude {needed}")
    instructions = dockerfile_instructions(path)
    stages = {
        m.group(1) for kw, arg in instructions if kw == "FROM" and (m := re.search(r"\bAS (\S+)$", arg))
    }
    for kw, arg in instructions:
        if kw == "COPY" and (m := re.match(r"--from=(\S+)", arg)):
            check(m.group(1) in stages, f"{path.name}: COPY --from={m.group(1)} names no stage")
        if kw == "RUN":
            script = re.sub(r"^(--mount=\S+\s+)+", "", arg)
            result = subprocess.run(
                ["/bin/sh", "-n", "-c", script], capture_output=True, text=True, check=False
            )
            check(result.returncode == 0, f"{path.name}: RUN is not valid sh: {result.stderr.strip()}")
    cmds = [arg for kw, arg in instructions if kw == "CMD"]
    users = [arg for kw, arg in instructions if kw == "USER"]
    check(
        bool(cmds) and yaml.safe_load(cmds[-1]) == IMAGE_CMDS[name],
        f"{path.name}: CMD is not {IMAGE_CMDS[name]}",
    )
    check(
        bool(users) and not users[-1].startswith(("root", "0")),
        f"{path.name}: the final stage must run as non-root",
    )
    text = path.read_text()
    if name == "gpu-worker":
        torch_index = "whl/${TORCH_CUDA}"
        check(
            torch_index in text,
            f"{path.name}: torch is not installed from download.pytorch.org/{torch_index}",
        )
        check("ARG TORCH_VERSION=2.13.0" in text, f"{path.name}: torch is not pinned to 2.13.0")
        check(
            "['optional-dependencies']['gpu']" in text,
            f"{path.name}: the engine's `gpu` extra is not installed",
        )
    else:
        # The API and CPU-worker images carry no torch (tests/core/test_torch_free.py): the build says so.
        check("torch must not be in this image" in text, f"{path.name}: no check that torch is absent")
        check(
            "optional-dependencies" not in text, f"{path.name}: installs an extra (the engine is the GPU's)"
        )


# --- compose -------------------------------------------------------------------------------------------------


def check_compose(required_env: list[str]) -> None:
    compose = load_all(INFRA / "compose.yaml")[0]
    services: dict[str, Any] = compose["services"]
    for name, svc in services.items():
        check(
            set(svc) <= COMPOSE_SERVICE_KEYS,
            f"compose {name}: unexpected keys {set(svc) - COMPOSE_SERVICE_KEYS}",
        )
        check(set(svc.get("healthcheck", {})) <= HEALTHCHECK_KEYS, f"compose {name}: bad healthcheck keys")
        for dep, spec in svc.get("depends_on", {}).items():
            check(dep in services, f"compose {name}: depends on unknown service {dep}")
            condition = spec.get("condition")
            if condition == "service_healthy":
                check("healthcheck" in services.get(dep, {}), f"compose {name}: {dep} has no healthcheck")
            if condition == "service_completed_successfully":
                check(
                    services.get(dep, {}).get("restart") == "no",
                    f"compose {name}: one-shot {dep} must not restart",
                )
            check(
                not services.get(dep, {}).get("profiles"),
                f"compose {name}: depends on profiled service {dep}",
            )
        build = svc.get("build")
        if build:
            context = INFRA / build["context"]
            check(
                (context / build["dockerfile"]).is_file(), f"compose {name}: {build['dockerfile']} not found"
            )
        for env_file in svc.get("env_file", []):
            check((INFRA / env_file).is_file(), f"compose {name}: env_file {env_file} not found")
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                check((INFRA / source).exists(), f"compose {name}: bind source {source} not found")
            elif not source.startswith(("/", "../", "${")):
                check(
                    source in compose.get("volumes", {}), f"compose {name}: volume {source} is not declared"
                )
    check(services["migrate"]["command"] == MIGRATE_CMD, "compose migrate: wrong command")
    check(services["beat"]["command"] == BEAT_CMD, "compose beat: wrong command")
    check("replicas" not in services["beat"].get("deploy", {}), "compose beat: must stay a single replica")
    redis_cmd = services["redis"]["command"]
    check(
        "--appendonly" in redis_cmd and redis_cmd[redis_cmd.index("--appendonly") + 1] == "yes",
        "compose redis: appendonly yes is missing",
    )
    check("noeviction" in redis_cmd, "compose redis: maxmemory-policy noeviction is missing")
    gpu = services["gpu-worker"]
    check(gpu.get("profiles") == ["gpu"], "compose gpu-worker: must be under the gpu profile")
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    check(
        devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"], "compose gpu-worker: no GPU"
    )
    check(
        gpu["environment"]["REELSMITH_DEVICE"] == "cuda", "compose gpu-worker: REELSMITH_DEVICE must be cuda"
    )
    check(
        any(v.endswith(":/models:ro") for v in gpu["volumes"]),
        "compose gpu-worker: /models must be read-only",
    )
    env = env_file_names(INFRA / "env.compose")
    for var in required_env:
        check(var in env, f"env.compose: {var} is missing")
    check(
        env.get("AWS_S3_CHECKSUM") in {"when_supported", "when_required"}, "env.compose: bad AWS_S3_CHECKSUM"
    )
    s3 = (INFRA / "seaweedfs" / "s3.json").read_text()
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        check(f'"{env.get(var)}"' in s3, f"seaweedfs/s3.json does not hold env.compose's {var}")
    check(
        f':{env.get("AWS_STORAGE_BUCKET_NAME")}"' in s3,
        "seaweedfs/s3.json: identity not scoped to the bucket",
    )


# --- Kubernetes ----------------------------------------------------------------------------------------------


def render(kustomization: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl:
        result = subprocess.run(
            [kubectl, "kustomize", str(kustomization)], capture_output=True, text=True, check=False
        )
        check(result.returncode == 0, f"kubectl kustomize {kustomization}: {result.stderr.strip()}")
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc] if result.returncode == 0 else []
    print(f"note: kubectl not found; {kustomization} read file by file, not rendered", file=sys.stderr)
    docs: list[dict[str, Any]] = []
    for path in sorted((INFRA / "k8s" / "base").glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += load_all(path)
    return docs


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def check_k8s(required_env: list[str]) -> None:
    base = render(INFRA / "k8s")
    keda = render(INFRA / "k8s" / "keda")
    by_kind: dict[tuple[str, str], dict[str, Any]] = {(d["kind"], d["metadata"]["name"]): d for d in keda}
    for doc in base + keda:
        check(
            bool(doc.get("apiVersion")) and bool(doc.get("metadata", {}).get("name")),
            f"incomplete object {doc}",
        )
    config = by_kind[("ConfigMap", "reelsmith-config")]["data"]
    secret = by_kind[("Secret", "reelsmith-secrets")]["stringData"]
    for var in required_env:
        check(
            var in config or var in secret or var in OPTIONAL_IN_K8S,
            f"k8s: {var} is in neither ConfigMap nor Secret",
        )
    hard_limit = int(config["CELERY_TASK_TIME_LIMIT"])
    visibility = int(config["CELERY_VISIBILITY_TIMEOUT"])
    check(visibility > hard_limit, "k8s: CELERY_VISIBILITY_TIMEOUT must exceed CELERY_TASK_TIME_LIMIT (R5)")
    workloads = {name: d for (kind, name), d in by_kind.items() if kind in {"Deployment", "Job"}}
    for name, doc in workloads.items():
        spec = pod_spec(doc)
        labels = doc["spec"]["template"]["metadata"]["labels"]
        if doc["kind"] == "Deployment":
            selector = doc["spec"]["selector"]["matchLabels"]
            check(selector.items() <= labels.items(), f"k8s {name}: selector does not match the pod labels")
        volumes = {v["name"] for v in spec.get("volumes", [])}
        for container in spec.get("initContainers", []) + spec["containers"]:
            for mount in container.get("volumeMounts", []):
                check(mount["name"] in volumes, f"k8s {name}/{container['name']}: no volume {mount['name']}")
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef") or source.get("secretRef")
                kind = "ConfigMap" if "configMapRef" in source else "Secret"
                check((kind, ref["name"]) in by_kind, f"k8s {name}: {kind} {ref['name']} does not exist")
            check(
                container["securityContext"].get("allowPrivilegeEscalation") is False,
                f"k8s {name}/{container['name']}: allowPrivilegeEscalation must be false",
            )
        check(spec["securityContext"].get("runAsNonRoot") is True, f"k8s {name}: runAsNonRoot is not set")
    main = {name: pod_spec(d)["containers"][0] for name, d in workloads.items()}
    check("args" not in main["reelsmith-api"], "k8s api: must run the image's CMD (gunicorn)")
    check("args" not in main["reelsmith-cpu-worker"], "k8s cpu-worker: must run the image's CMD")
    check("args" not in main["reelsmith-gpu-worker"], "k8s gpu-worker: must run the image's CMD")
    check(main["reelsmith-beat"].get("args") == BEAT_CMD, "k8s beat: wrong command")
    check(main["reelsmith-migrate"].get("args") == MIGRATE_CMD, "k8s migrate: wrong command")
    api = main["reelsmith-api"]
    check(api["readinessProbe"]["httpGet"]["path"] == "/readyz", "k8s api: readiness must probe /readyz")
    check("livenessProbe" in api, "k8s api: no liveness probe")
    gpu = main["reelsmith-gpu-worker"]
    check(
        str(gpu["resources"]["limits"].get("nvidia.com/gpu")) == "1", "k8s gpu-worker: must ask for one GPU"
    )
    check(
        {"name": "REELSMITH_DEVICE", "value": "cuda"} in gpu["env"], "k8s gpu-worker: REELSMITH_DEVICE=cuda"
    )
    check(
        any(m["mountPath"] == "/models" and m.get("readOnly") for m in gpu["volumeMounts"]),
        "k8s gpu-worker: /models must be mounted read-only",
    )
    beat = workloads["reelsmith-beat"]["spec"]
    check(
        beat.get("replicas") == 1 and beat["strategy"]["type"] == "Recreate",
        "k8s beat: replicas 1 + Recreate",
    )
    for worker in ("reelsmith-cpu-worker", "reelsmith-gpu-worker"):
        grace = pod_spec(workloads[worker])["terminationGracePeriodSeconds"]
        check(
            hard_limit < grace < visibility,
            f"k8s {worker}: grace {grace}s not between hard limit and visibility",
        )
        check(
            "replicas" not in workloads[worker]["spec"], f"k8s keda: {worker} replicas must be left to KEDA"
        )
    for (kind, name), doc in by_kind.items():
        if kind in {"Service", "PodDisruptionBudget"}:
            selector = doc["spec"]["selector"]
            selector = selector.get("matchLabels", selector)
            check(
                any(
                    selector.items() <= pod_labels.items()
                    for pod_labels in (
                        d["spec"]["template"]["metadata"]["labels"] for d in workloads.values()
                    )
                ),
                f"k8s {kind} {name}: selects no pods",
            )
        if kind in {"HorizontalPodAutoscaler", "ScaledObject"}:
            target = doc["spec"]["scaleTargetRef"]["name"]
            check(("Deployment", target) in by_kind, f"k8s {kind} {name}: no Deployment {target}")
        if kind == "ScaledObject":
            queue = doc["metadata"]["name"].removeprefix("reelsmith-").removesuffix("-worker")
            triggers = doc["spec"]["triggers"]
            lists = {t["metadata"]["listName"] for t in triggers}
            expected = {queue} | {f"{queue}:{p}" for p in PRIORITY_STEPS if p}
            check(lists == expected, f"k8s ScaledObject {name}: lists {sorted(lists)} != {sorted(expected)}")
            formula = doc["spec"]["advanced"]["scalingModifiers"]["formula"]
            check(
                set(re.findall(r"\w+", formula)) == {t["name"] for t in triggers},
                f"k8s ScaledObject {name}: the formula does not add up every trigger",
            )


def check_settings_agree() -> None:
    """The KEDA list names follow the broker options in core/settings.py (when the code is there)."""
    settings = ROOT / "core" / "settings.py"
    if not settings.is_file():
        print("note: core/settings.py not found; KEDA list names not cross-checked", file=sys.stderr)
        return
    text = settings.read_text()
    check(
        '"sep": ":"' in text, "core/settings.py: broker sep is no longer ':' (update keda/scaledobjects.yaml)"
    )
    check(
        f'"priority_steps": list(range({len(PRIORITY_STEPS)}))' in text,
        "core/settings.py: priority_steps changed (update keda/scaledobjects.yaml)",
    )


def main() -> int:
    for path in [INFRA / "compose.yaml", *sorted((INFRA / "k8s").rglob("*.yaml"))]:
        try:
            load_all(path)
        except yaml.YAMLError as exc:
            problems.append(f"{path}: {exc}")
    for name in IMAGE_CMDS:
        check_dockerfile(name)
    check_compose(REQUIRED_ENV)
    check_k8s(REQUIRED_ENV)
    check_settings_agree()
    for problem in problems:
        print(f"FAIL {problem}")
    print(f"infra: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
