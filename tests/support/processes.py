"""Process helpers shared by the SeaweedFS and Celery harnesses: bounded waits, log tails, group kills."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def log_tail(path: Path, *, lines: int = 40) -> str:
    """The last `lines` lines of a log file, or a note that it is missing (never raises)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"<no log at {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


def wait_until(
    predicate: Callable[[], bool], *, timeout: float, describe: str, interval: float = 0.1
) -> None:
    """Poll `predicate` until it is true; raise TimeoutError naming `describe` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {describe}")
        time.sleep(interval)


def signal_group(pgid: int, sig: int) -> None:
    """Send `sig` to a process group, ignoring a group that has already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_process(popen: subprocess.Popen[bytes], *, first_signal_to_group: bool, timeout: float) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL the whole process group and reap.

    The process must have been started with `start_new_session=True` (its pid is its group id).
    `first_signal_to_group=False` sends the SIGTERM to the leader only (see workers.py for why Celery needs
    that); the final SIGKILL always goes to the group so no orphaned child outlives the test.
    """
    pgid = popen.pid
    if popen.poll() is None:
        if first_signal_to_group:
            signal_group(pgid, signal.SIGTERM)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(popen.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=timeout)
    signal_group(pgid, signal.SIGKILL)
    # SIGKILL cannot be ignored, so this wait is short; the bound only guards against an unkillable D-state.
    popen.wait(timeout=10)
