"""run_ffmpeg and the filter-graph escaping every value goes through."""

from __future__ import annotations

from pathlib import Path

import pytest

from render.compose.ffmpeg import ComposeError, escape_filter_value, filter_spec, input_args, run_ffmpeg


def test_escape_covers_both_parsing_levels() -> None:
    # Option level escapes \ ' : ; the graph level then escapes \ ' [ ] , ; (and the new backslashes).
    assert escape_filter_value("a:b") == "a\\\\:b"  # a\\:b: graph level -> a\:b, option level -> a:b
    assert escape_filter_value("[x],y;z") == "\\[x\\]\\,y\\;z"
    assert escape_filter_value("it's") == "it\\\\\\'s"
    assert escape_filter_value("plain/path.txt") == "plain/path.txt"


def test_filter_spec_keeps_option_order() -> None:
    assert filter_spec("scale", w=2, h="ih/2") == "scale=w=2:h=ih/2"
    assert filter_spec("null") == "null"


def test_a_path_full_of_graph_syntax_reaches_the_filter_intact(tmp_path: Path) -> None:
    """A file whose name uses every special character is read by drawtext through filter_spec."""
    folder = tmp_path / "it's: [a],b;c\\d"
    folder.mkdir()
    text = folder / "line.txt"
    text.write_text("ok", encoding="utf-8")
    graph = ",".join([
        filter_spec("color", c="black", s="64x64", d=0.1),
        filter_spec("drawtext", textfile=str(text), expansion="none", fontcolor="white"),
    ])  # fmt: skip
    run_ffmpeg(["-filter_complex", graph + "[v]", "-map", "[v]", "-f", "null", "-"], timeout=30)


def test_failure_raises_with_the_tail_of_stderr() -> None:
    with pytest.raises(ComposeError) as caught:
        run_ffmpeg(["-filter_complex", "nosuchfilter[v]", "-map", "[v]", "-f", "null", "-"], timeout=30)
    assert "exited with status" in caught.value.message
    assert "nosuchfilter" in caught.value.stderr_tail


def test_timeout_kills_ffmpeg_and_raises() -> None:
    endless = filter_spec("color", c="black", s="64x64") + "[v]"  # no duration: runs for ever
    with pytest.raises(ComposeError, match="timed out"):
        run_ffmpeg(["-filter_complex", endless, "-map", "[v]", "-f", "null", "-"], timeout=0.5)


def test_only_local_files_can_be_opened(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="exited"):
        run_ffmpeg([*input_args(Path("http://127.0.0.1:9/x.png")), "-f", "null", "-"], timeout=30)


def test_inputs_without_the_protocol_whitelist_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="no protocol whitelist"):
        run_ffmpeg(["-i", str(tmp_path / "x.png"), "-f", "null", "-"], timeout=30)
