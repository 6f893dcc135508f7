"""Running the ffmpeg binary, and writing filter-graph strings safely.

Every ffmpeg call in the compositor goes through `run_ffmpeg`, which adds the flags that keep a
run from reading anything but local files or waiting on a terminal, enforces a timeout and turns
failures into `ComposeError` with the tail of ffmpeg's stderr.

User text never reaches this module: texts travel in files (`drawtext=textfile=...`). What does
reach a filter-graph string is ours (our paths, numbers, colours we validated), and it still goes
through `filter_spec`, which escapes each option value for both parsing levels of the graph.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import imageio_ffmpeg

FFMPEG_ENV = "REELSMITH_FFMPEG"

# How much of ffmpeg's stderr an error carries: enough for the failing filter's message and the
# lines around it, short enough for a render's `error` field and a log line.
STDERR_TAIL_CHARS = 2000

# Before every input: only the `file` protocol may be opened, so a path can never turn into a URL
# fetch (docs/reliability.md R14). ffmpeg applies this per input, so it goes before each `-i`.
INPUT_GUARD = ("-protocol_whitelist", "file")


class ComposeError(Exception):
    """ffmpeg failed, timed out, or was given something the compositor refuses."""

    def __init__(self, message: str, *, stderr_tail: str = "") -> None:
        super().__init__(f"{message}\n{stderr_tail}" if stderr_tail else message)
        self.message = message
        self.stderr_tail = stderr_tail


@functools.cache
def ffmpeg_exe() -> str:
    """The ffmpeg binary: `$REELSMITH_FFMPEG` when set, else the one imageio-ffmpeg ships.

    Read once per process, like the rest of the configuration (docs/style.md rule 5).
    """
    override = os.environ.get(FFMPEG_ENV)
    if override:
        if not Path(override).is_file():
            raise ComposeError(f"{FFMPEG_ENV}={override!r} is not a file")
        return override
    return imageio_ffmpeg.get_ffmpeg_exe()


def input_args(path: Path, *, options: Sequence[str] = ()) -> list[str]:
    """`[options] -i path` for one input file, always behind the protocol whitelist."""
    return [*INPUT_GUARD, *options, "-i", str(path)]


def run_ffmpeg(args: Sequence[str], *, timeout: float) -> str:
    """Run ffmpeg with `args` (inputs built by `input_args`), return its stderr.

    Raises ComposeError with the tail of stderr when ffmpeg exits non-zero or runs past `timeout`
    seconds (the child is killed then).
    """
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y", *args]
    _check_inputs_guarded(argv)
    try:
        done = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else ""
        raise ComposeError(f"ffmpeg timed out after {timeout:g} s", stderr_tail=_tail(stderr)) from exc
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        raise ComposeError(f"ffmpeg exited with status {done.returncode}", stderr_tail=_tail(stderr))
    return stderr


def _check_inputs_guarded(argv: Sequence[str]) -> None:
    """Refuse to run an input that was not built by `input_args` (it would lack the whitelist)."""
    guard = list(INPUT_GUARD)
    start = 0
    for i, arg in enumerate(argv):
        if arg != "-i":
            continue
        own_options = list(argv[start:i])
        if not any(own_options[j : j + 2] == guard for j in range(len(own_options) - 1)):
            raise ComposeError(f"input {argv[i + 1]!r} has no protocol whitelist")
        start = i + 2


def _tail(stderr: str) -> str:
    return stderr[-STDERR_TAIL_CHARS:].strip()


# --- Filter-graph strings ----------------------------------------------------------------------
# A value inside `-filter_complex` is parsed twice (https://ffmpeg.org/ffmpeg-filters.html,
# "Notes on filtergraph escaping"): first the graph parser splits filters and chains on `[],;`,
# then each filter splits its options on `:`. Each level honours backslash escapes, so a value is
# escaped for the option level first, then the result for the graph level.
_OPTION_SPECIALS = "\\':"
_GRAPH_SPECIALS = "\\'[],;"


def _escape(value: str, specials: str) -> str:
    return "".join("\\" + char if char in specials else char for char in value)


def escape_filter_value(value: str) -> str:
    """Escape one option value so it reaches the filter verbatim through both parsing levels."""
    return _escape(_escape(value, _OPTION_SPECIALS), _GRAPH_SPECIALS)


def filter_spec(name: str, **options: str | int | float) -> str:
    """`name=key=value:key=value` with every value escaped; options keep the order given."""
    if not options:
        return name
    rendered = ":".join(f"{key}={escape_filter_value(str(value))}" for key, value in options.items())
    return f"{name}={rendered}"


def chain(inputs: Sequence[str], filters: Sequence[str], output: str) -> str:
    """One filter chain: `[in][in]f1,f2[out]`. Labels are ours (see `graph.FilterGraph.label`)."""
    return "".join(f"[{label}]" for label in inputs) + ",".join(filters) + f"[{output}]"


def run_ffmpeg_into(args: Sequence[str], *, partial: Path, out_path: Path, timeout: float) -> None:
    """Run ffmpeg writing `partial` (named in `args`), then move it onto `out_path`: the output is either
    complete or absent, never half written, and a failed run leaves no partial file behind."""
    try:
        run_ffmpeg(args, timeout=timeout)
        os.replace(partial, out_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
