"""The filter graph of one ffmpeg run, as the builders (`scenes.py`, `layers.py`, `audio.py`) assemble it.

Each builder adds chains to a `FilterGraph` and returns the label of its output stream. Why not
ffmpeg-python for the graph: it has no node for source filters (`color=`), names every stream itself
(`s0`, `s1`, ...), and leaves escaping of values to its own rules; the builders here are as short and keep
every value going through `filter_spec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from render.compose.ffmpeg import chain, input_args
from render.compose.probe import MediaInput


@dataclass
class FilterGraph:
    """Inputs and filter chains of one ffmpeg run; hands out unique stream labels."""

    media: dict[Path, MediaInput]
    inputs: list[list[str]] = field(default_factory=list)
    chains: list[str] = field(default_factory=list)
    _count: int = 0

    def add_input(self, path: Path, stream: str, *options: str) -> str:
        """Add an input read as the format it was checked as; return its stream label."""
        self.inputs.append(input_args(path, options=[*options, "-f", self.media[path].demuxer]))
        return f"{len(self.inputs) - 1}:{stream}"

    def label(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def add(self, inputs: list[str], filters: list[str], prefix: str) -> str:
        output = self.label(prefix)
        self.chains.append(chain(inputs, filters, output))
        return output

    def args(self) -> list[str]:
        return [*(arg for one in self.inputs for arg in one), "-filter_complex", ";".join(self.chains)]
