"""compose_video end to end: real ffmpeg runs on small plans, checked by probing and decoding."""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from render.compose.compose import compose_args, compose_video, make_thumbnail
from render.compose.encode import EncodeSettings
from render.compose.ffmpeg import ComposeError
from render.compose.plan import (
    Audio,
    ColorBackground,
    CompositionPlan,
    ImageBackground,
    ImageLayer,
    Motion,
    TextLayer,
    Transition,
)
from render.compose.probe import UnsupportedMediaError, decode_frame, probe
from render.compose.validate import PlanError
from tests.compose.conftest import HEIGHT, NOTO_SANS, WIDTH, build_plan

RED, BLUE = (0xCC, 0x22, 0x22), (0x22, 0x22, 0xCC)
TEXT_BOX = (0.1, 0.35, 0.8, 0.2)
# Lossy coding moves a flat colour by a few levels; 8 of 255 is well above that and well below
# any real difference we look for.
COLOUR_TOLERANCE = 8


def render(plan: CompositionPlan, folder: Path, name: str = "out.mp4") -> Path:
    out = folder / name
    compose_video(plan, out, workdir=folder / f"{name}.work")
    return out


def pixels(path: Path, at_seconds: float) -> np.ndarray:
    return np.asarray(decode_frame(path, at_seconds), dtype=np.int16)


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def box_pixels(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """Left, top, right, bottom in frame pixels: the compositor's own rounding (edges rounded)."""
    x, y, w, h = box
    return round(x * WIDTH), round(y * HEIGHT), round((x + w) * WIDTH), round((y + h) * HEIGHT)


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types in file order (ISO/IEC 14496-12 §4.2: size, type, [largesize])."""
    kinds = []
    with path.open("rb") as file:
        while header := file.read(8):
            size, kind = struct.unpack(">I4s", header)
            kinds.append(kind.decode("latin-1"))
            if size == 0:  # the box runs to the end of the file
                break
            if size == 1:
                (size,) = struct.unpack(">Q", file.read(8))
                file.seek(size - 16, 1)
            else:
                file.seek(size - 8, 1)
    return kinds


# --- Format, timing, audio, container -------------------------------------------------------------


@pytest.mark.parametrize("fade", [0.0, 0.4])
def test_output_is_h264_yuv420p_of_the_planned_size_rate_and_length(tmp_path: Path, fade: float) -> None:
    plan = build_plan(fade=fade)
    out = tmp_path / "out.mp4"
    info = compose_video(plan, out, workdir=tmp_path / "work")
    assert (info.width, info.height, info.fps) == (WIDTH, HEIGHT, plan.fps)
    assert (info.video_codec, info.pixel_format) == ("h264", "yuv420p")
    assert abs(info.duration - plan.duration) <= 1 / plan.fps
    assert frame_count(out) == round(plan.duration * plan.fps)  # fades do not eat into the total
    assert not info.has_audio
    assert info.audio_codec is None
    assert probe(out) == info


def test_uneven_scene_lengths_with_fades_still_add_up(tmp_path: Path, assets: dict[str, Path]) -> None:
    plan = build_plan(
        (0.7, ImageBackground(assets["photo"], "zoom_in"), ()),
        (1.3, ColorBackground("#112233"), ()),
        (0.55, ImageBackground(assets["photo_jpg"], "pan_left"), ()),
        fade=0.3,
        fps=30,
    )
    info = probe(render(plan, tmp_path))
    assert abs(info.duration - plan.duration) <= 1 / plan.fps
    assert info.fps == 30


def test_fade_blends_the_scenes_around_the_cut_and_cut_is_sharp_without(tmp_path: Path) -> None:
    faded = render(build_plan(fade=0.4), tmp_path, "faded.mp4")
    cut = render(build_plan(), tmp_path, "cut.mp4")
    centre = (HEIGHT // 2, WIDTH // 2)
    assert np.abs(pixels(faded, 0.5)[centre] - RED).max() <= COLOUR_TOLERANCE  # brand colours survive
    assert np.abs(pixels(faded, 1.5)[centre] - BLUE).max() <= COLOUR_TOLERANCE
    # Mid-fade (at the planned cut): half of each.
    red, _, blue = pixels(faded, 1.0 + 1 / 48)[centre]
    assert 70 < red < 170
    assert 70 < blue < 170
    assert np.abs(pixels(cut, 1.0 - 1 / 48)[centre] - RED).max() <= COLOUR_TOLERANCE
    assert np.abs(pixels(cut, 1.0 + 1 / 48)[centre] - BLUE).max() <= COLOUR_TOLERANCE


@pytest.mark.parametrize("music", ["tone", "tone_mp3"])
def test_music_is_looped_to_the_video_with_volume_and_fade_out(
    tmp_path: Path, assets: dict[str, Path], music: str
) -> None:
    plan = build_plan(fade=0.4, audio=Audio(assets[music], volume=0.8))
    out = render(plan, tmp_path)
    info = probe(out)
    assert info.has_audio
    assert info.audio_codec == "aac"
    assert abs(info.duration - plan.duration) <= 1 / plan.fps

    with av.open(str(out)) as container:
        stream = container.streams.audio[0]
        assert stream.time_base is not None
        assert stream.start_time == 0  # in sync with the video, whatever delay the input had
        assert stream.duration is not None
        assert float(stream.duration * stream.time_base) == pytest.approx(plan.duration, abs=0.001)
        rate = stream.rate
        samples = np.concatenate([frame.to_ndarray()[0] for frame in container.decode(stream)])

    def rms(start: float, end: float) -> float:
        return float(np.sqrt(np.mean(samples[int(start * rate) : int(end * rate)] ** 2)))

    # sine's default amplitude is 1/8 (ffmpeg-filters "sine"): RMS 0.125/sqrt(2), times the volume.
    assert rms(0.2, 0.4) == pytest.approx(0.8 * 0.125 / np.sqrt(2), rel=0.1)
    assert rms(0.8, 0.95) > 0.5 * rms(0.2, 0.4)  # the 0.7 s tone plays again: looped
    assert rms(1.9, 1.97) < 0.2 * rms(0.2, 0.4)  # faded out at the end
    assert len(samples) / rate <= plan.duration + 1 / plan.fps


def test_moov_comes_before_mdat(tmp_path: Path) -> None:
    boxes = top_level_boxes(render(build_plan(), tmp_path))
    assert boxes.index("moov") < boxes.index("mdat")


def test_metadata_round_trips_and_nothing_leaks_from_inputs(tmp_path: Path, assets: dict[str, Path]) -> None:
    metadata = (
        ("ai_generated", "true"),
        ("com.reelsmith.template", "tpl_42 v3"),
        ("comment", "Zoë: 100% [ok]"),
    )
    plan = build_plan(audio=Audio(assets["tone"]), metadata=metadata)
    # A work dir full of filter-graph syntax: every path we put in the graph must be escaped.
    out = tmp_path / "out.mp4"
    compose_video(plan, out, workdir=tmp_path / "it's: [work],dir;x\\y")
    with av.open(str(out)) as container:
        tags = dict(container.metadata)
    assert {key: tags.get(key) for key, _ in metadata} == dict(metadata)
    assert "title" not in tags  # the music's own title tag stays out


# --- Text -----------------------------------------------------------------------------------------


def text_plan(text: str, *, duration: float = 0.5) -> CompositionPlan:
    """White text on black: both have neutral chroma, so 4:2:0 subsampling cannot smear colour
    across the box edge, and any light pixel outside the box is text."""
    layer = TextLayer(text=text, box=TEXT_BOX, color="#FFFFFF", font_path=NOTO_SANS)
    return build_plan((duration, ColorBackground("#000000"), (layer,)))


@pytest.fixture(scope="module")
def reference_frame(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    return pixels(render(text_plan("Bob"), tmp_path_factory.mktemp("reference")), 0.25)


NAMES = ["Zoë", "O'Brien: 100% \\ [ok] %{pts} {{x}}", "مرحبا", "שלום", "李小龍"]


@pytest.mark.parametrize("name", NAMES)
def test_any_name_renders_and_is_drawn(reference_frame: np.ndarray, tmp_path: Path, name: str) -> None:
    # Noto Sans has no Arabic, Hebrew or Han glyphs: those draw as .notdef boxes, still ink.
    frame = pixels(render(text_plan(f"Hi {name}"), tmp_path), 0.25)
    left, top, right, bottom = box_pixels(TEXT_BOX)
    inside = np.abs(frame - reference_frame)[top:bottom, left:right]
    assert inside.mean() > 2  # a different name, different pixels in the box


LONG_WORDS = "Hi Zoë, here's what Acme can do for your bakery on every single day of the year " * 12
LONG_WORD = "W" * 400


@pytest.mark.parametrize("text", ["Zoë", LONG_WORDS, LONG_WORD, "O'Brien: 100% \\ [ok] %{pts} {{x}}"])
def test_no_text_pixel_falls_outside_its_box(tmp_path: Path, text: str) -> None:
    frame = pixels(render(text_plan(text), tmp_path), 0.25).max(axis=2)
    left, top, right, bottom = box_pixels(TEXT_BOX)
    # 2 px of slack around the box: antialiasing and the codec's 4x4 transforms can put a faint
    # halo just past an edge; text spilling out would be solid ink further out.
    slack = 2
    outside = frame.copy()
    outside[top - slack : bottom + slack, left - slack : right + slack] = 0
    assert outside.max() < 64, "light pixels outside the text box"  # 64: a quarter grey, ink not noise
    assert frame[top:bottom, left:right].max() > 200  # and the text is there


def test_percent_sequences_are_drawn_as_typed_not_expanded(tmp_path: Path) -> None:
    out = render(text_plan("%{pts} %{n} %{localtime}", duration=1.0), tmp_path)
    left, top, right, bottom = box_pixels(TEXT_BOX)
    early, late = pixels(out, 0.1), pixels(out, 0.9)
    # With expansion the timestamp and frame number would change between the two frames.
    assert np.abs(early - late)[top:bottom, left:right].max() < 32


def test_user_text_never_enters_the_command(tmp_path: Path) -> None:
    hostile = "x';drawtext=text=pwned:x=0[0:v],%{pts}"
    plan = text_plan(hostile)
    args = compose_args(plan, tmp_path / "out.mp4", workdir=tmp_path, settings=EncodeSettings(), inputs={})
    assert not [arg for arg in args if "pwned" in arg]
    written = [path.read_text(encoding="utf-8") for path in tmp_path.rglob("*.txt")]
    assert "".join(written).replace(" ", "") == hostile.replace(" ", "")
    assert "expansion=none" in args[args.index("-filter_complex") + 1]


# --- Images ---------------------------------------------------------------------------------------


def _stripe_period(row: np.ndarray) -> float:
    """Mean length of the blue stripes' whole runs along a row (the partial runs at the ends dropped)."""
    stripes = row[:, 2] > row[:, 2].mean()
    edges = np.flatnonzero(np.diff(stripes.astype(np.int8)))
    return float(np.diff(edges).mean())


@pytest.mark.parametrize("motion", ["none", "zoom_in", "zoom_out", "pan_left", "pan_right"])
def test_image_background_covers_the_frame_and_moves(
    tmp_path: Path, assets: dict[str, Path], motion: Motion
) -> None:
    plan = build_plan((1.0, ImageBackground(assets["photo"], motion), ()))
    out = render(plan, tmp_path)
    first, last = pixels(out, 0.0), pixels(out, 0.99)
    # Cover: the landscape photo fills the portrait frame, no black bars at any edge.
    for frame in (first, last):
        assert frame[[0, -1], :].min() > 40
        assert frame[:, [0, -1]].min() > 40
    # The photo's red rises left to right: a pan shows as a change of mean red; a zoom changes
    # the stripes' width.
    red_change = last[..., 0].mean() - first[..., 0].mean()
    zoom = _stripe_period(last[HEIGHT // 2]) / _stripe_period(first[HEIGHT // 2])
    expected = {
        "none": (0, 1.0),
        "zoom_in": (0, 1.15),
        "zoom_out": (0, 1 / 1.15),
        "pan_left": (-1, 1.0),
        "pan_right": (1, 1.0),
    }[motion]
    assert np.sign(round(red_change / 3)) == expected[0], red_change
    assert zoom == pytest.approx(expected[1], rel=0.05)


def test_motion_starts_and_ends_at_the_whole_picture(tmp_path: Path, assets: dict[str, Path]) -> None:
    """zoom_in starts, and zoom_out ends, on exactly the still frame: no step lost or overshot."""
    short = 0.25  # 6 frames: each step is 3 % of zoom, so an off-by-one frame would show plainly

    def frames(motion: Motion) -> tuple[np.ndarray, np.ndarray]:
        out = render(
            build_plan((short, ImageBackground(assets["photo"], motion), ())), tmp_path, f"{motion}.mp4"
        )
        return pixels(out, 0.0), pixels(out, short)

    still, _ = frames("none")
    zoom_in_first, _ = frames("zoom_in")
    _, zoom_out_last = frames("zoom_out")
    # Measured: lossy coding alone differs by ~1 level on average; one 3 % zoom step by ~4.
    assert np.abs(zoom_in_first - still).mean() < 2.0
    assert np.abs(zoom_out_last - still).mean() < 2.0


def test_logo_is_fitted_inside_its_box_keeping_aspect_and_alpha(
    tmp_path: Path, assets: dict[str, Path]
) -> None:
    box = (0.2, 0.1, 0.6, 0.1)  # 216x64 px: the 2:1 logo fits by height, centred across
    plan = build_plan((0.5, ColorBackground("#000000"), (ImageLayer(assets["logo"], box),)))
    frame = pixels(render(plan, tmp_path), 0.25)
    red = (frame[..., 0] > 128) & (frame[..., 1] < 80)
    ys, xs = np.nonzero(red)
    left, top, right, bottom = box_pixels(box)
    slack = 2  # chroma of a red edge is shared by 2x2 pixels in 4:2:0
    assert left - slack <= xs.min()
    assert xs.max() < right + slack
    assert top - slack <= ys.min()
    assert ys.max() < bottom + slack
    # The red bar (200x80 in a transparent 240x120 logo) keeps its 2.5:1 shape, centred.
    width, height = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    assert width / height == pytest.approx(2.5, rel=0.08)
    assert abs((xs.min() + xs.max()) / 2 - (left + right) / 2) <= 2
    # The transparent margin shows the background.
    assert frame[top + 2, (left + right) // 2].max() < 40


# --- Thumbnail, checks, failures ------------------------------------------------------------------


def test_thumbnail_is_a_jpeg_of_the_frame(tmp_path: Path) -> None:
    video = render(build_plan(), tmp_path)
    thumb = tmp_path / "thumb.jpg"
    make_thumbnail(video, thumb, at_seconds=1.5)
    with Image.open(thumb) as image:
        assert image.format == "JPEG"
        assert image.size == (WIDTH, HEIGHT)
        colour = np.asarray(image.convert("RGB"), dtype=np.int16)[HEIGHT // 2, WIDTH // 2]
    assert np.abs(colour - BLUE).max() <= COLOUR_TOLERANCE  # full-range BT.601, as JPEG readers expect
    with pytest.raises(ComposeError, match="outside the video"):
        make_thumbnail(video, thumb, at_seconds=2.5)


def _bad_plans(plan: CompositionPlan) -> list[tuple[CompositionPlan, str]]:
    scene = plan.scenes[0]
    text = TextLayer("x", (0.5, 0.5, 0.6, 0.2), "#FFFFFF", NOTO_SANS)
    return [
        (replace(plan, width=361), "width"),
        (replace(plan, fps=0), "fps"),
        (replace(plan, scenes=()), "scenes"),
        (replace(plan, scenes=(replace(scene, duration=-1.0),)), "scenes[0].duration"),
        (replace(plan, transition=Transition("fade", 1.5)), "transition.duration"),
        (
            replace(plan, scenes=(replace(scene, background=ColorBackground("red")),)),
            "scenes[0].background.color",
        ),
        (replace(plan, scenes=(replace(scene, layers=(text,)),)), "scenes[0].layers[0].box"),
        (replace(plan, metadata=(("a=b", "c"),)), "metadata"),
        (replace(plan, audio=Audio(NOTO_SANS, volume=5.0)), "audio.volume"),
    ]


@pytest.mark.parametrize("case", range(9))
def test_impossible_plans_are_refused_naming_the_field(tmp_path: Path, case: int) -> None:
    plan, field = _bad_plans(build_plan())[case]
    with pytest.raises(PlanError) as caught:
        compose_video(plan, tmp_path / "out.mp4", workdir=tmp_path)
    assert str(caught.value).startswith(f"{field}:")
    assert not (tmp_path / "out.mp4").exists()


def test_an_input_that_is_not_an_allowed_image_never_reaches_ffmpeg(tmp_path: Path) -> None:
    fake = tmp_path / "photo.png"
    fake.write_text("not a picture")
    plan = build_plan((1.0, ImageBackground(fake), ()))
    with pytest.raises(UnsupportedMediaError):
        compose_video(plan, tmp_path / "out.mp4", workdir=tmp_path)
    assert not (tmp_path / "out.mp4").exists()
