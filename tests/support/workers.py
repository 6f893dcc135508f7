"""Real Celery worker subprocesses for service-mode and chaos tests.

The worker runs `celery -A <app> worker` from this virtualenv in its own process group, logs to a file, and
counts as started only once it logs "<name>@<host> ready.". Chaos tests find the prefork pool children through
/proc and SIGKILL one mid-task, which is what the OOM killer does (docs/reliability.md R1).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import log_tail, stop_process, wait_until

READY_TIMEOUT_S = 30.0
# Warm shutdown lets a running task finish; chaos tasks in this suite run for seconds, not minutes.
STOP_TIMEOUT_S = 15.0


class WorkerStartError(RuntimeError):
    """The worker exited or never logged "ready."; the message carries the tail of its log."""


@dataclass(frozen=True)
class WorkerProcess:
    popen: subprocess.Popen[bytes]
    nodename: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def is_alive(self) -> bool:
        return self.popen.poll() is None

    def child_pids(self) -> list[int]:
        """Live (non-zombie) direct children of the worker's main process: the prefork pool processes."""
        return _live_children(self.pid)

    def kill_child(self, sig: int = signal.SIGKILL, *, pid: int | None = None) -> int:
        """Send `sig` to one pool child (`pid`, or the lowest live one) and return its pid."""
        children = self.child_pids()
        if pid is None:
            if not children:
                raise LookupError(f"worker {self.pid} has no pool children\n{self.log_tail()}")
            pid = children[0]
        elif pid not in children:
            raise LookupError(f"{pid} is not a pool child of worker {self.pid} (children: {children})")
        os.kill(pid, sig)
        return pid

    def log_tail(self, lines: int = 60) -> str:
        return log_tail(self.log_path, lines=lines)


def celery_executable() -> Path:
    """`celery` from the running interpreter's environment (the venv), never one found on PATH."""
    return Path(sys.executable).parent / "celery"


@contextlib.contextmanager
def celery_worker(
    *,
    app: str,
    queues: list[str],
    env: dict[str, str],
    cwd: Path,
    concurrency: int = 1,
    pool: str = "prefork",
    log_path: Path,
    extra_args: Sequence[str] = (),
    ready_timeout: float = READY_TIMEOUT_S,
    stop_timeout: float = STOP_TIMEOUT_S,
) -> Iterator[WorkerProcess]:
    """Start a real worker, wait until it is consuming, yield it, and stop it (and its pool) on exit.

    `env` is layered over this process's environment; `cwd` is put first on PYTHONPATH so `app` imports.
    Stopping sends SIGTERM to the main process only: Celery resets SIGTERM to the default action in prefork
    children (celery/concurrency/prefork.py, WORKER_SIGRESET), so a group-wide SIGTERM would kill a running
    task outright instead of letting the warm shutdown finish it. After `stop_timeout` the whole group gets
    SIGKILL, which also takes any orphaned pool child.
    """
    if not queues:
        raise ValueError("celery_worker needs at least one queue")
    nodename = f"harness-{uuid.uuid4().hex[:10]}"
    argv = [
        str(celery_executable()),
        "-A",
        app,
        "worker",
        "-Q",
        ",".join(queues),
        "--concurrency",
        str(concurrency),
        "--prefetch-multiplier",
        "1",
        "-P",
        pool,
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
        "-n",
        f"{nodename}@%h",
        "--loglevel",
        "INFO",
        *extra_args,
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env=_worker_env(env, cwd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = WorkerProcess(popen=popen, nodename=nodename, log_path=log_path)
    try:
        _wait_until_ready(worker, ready_timeout)
        yield worker
    finally:
        stop_process(popen, first_signal_to_group=False, timeout=stop_timeout)


def _worker_env(overrides: dict[str, str], cwd: Path) -> dict[str, str]:
    merged = {**os.environ, **overrides}
    python_path = [str(cwd), *filter(None, merged.get("PYTHONPATH", "").split(os.pathsep))]
    merged["PYTHONPATH"] = os.pathsep.join(python_path)
    merged["PYTHONUNBUFFERED"] = "1"  # the banner and prints reach the log file as they happen
    return merged


def _wait_until_ready(worker: WorkerProcess, timeout: float) -> None:
    def ready() -> bool:
        if not worker.is_alive():
            raise WorkerStartError(
                f"celery worker exited with status {worker.popen.returncode} before it was ready:\n"
                f"{worker.log_tail()}"
            )
        return _logged_ready(worker)

    try:
        wait_until(ready, timeout=timeout, describe=f"celery worker {worker.nodename} to log 'ready.'")
    except TimeoutError as exc:
        raise WorkerStartError(f"{exc}; log tail:\n{worker.log_tail()}") from exc


def _logged_ready(worker: WorkerProcess) -> bool:
    # celery/apps/worker.py on_consumer_ready: logger.info('%s ready.', hostname); in service mode every log
    # line is a JSON object (core/logs.py), the message its "event".
    try:
        text = worker.log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(
        f"{worker.nodename}@" in message and message.rstrip().endswith("ready.")
        for message in map(_log_message, text.splitlines())
    )


def _log_message(line: str) -> str:
    if line.startswith("{"):
        with contextlib.suppress(ValueError, AttributeError):
            return str(json.loads(line).get("event", ""))
    return line


def _live_children(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process went away while we looked
            continue
        # Fields after the parenthesised command name (which may itself contain spaces or parentheses):
        # state, ppid, ... (proc_pid_stat(5)).
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == parent and state != "Z":
            children.append(int(entry.name))
    return sorted(children)
