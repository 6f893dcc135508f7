"""Small real inputs for the compositor tests: a font, images, a tone, and a plan factory."""

from __future__ import annotations

from pathlib import Path

import fontpkg_noto_sans
import numpy as np
import pytest
from PIL import Image

from render.compose.ffmpeg import filter_spec, input_args, run_ffmpeg
from render.compose.plan import Audio, Background, ColorBackground, CompositionPlan, Layer, Scene, Transition

NOTO_SANS = fontpkg_noto_sans.ROOT / "files" / "NotoSans[wdth,wght].ttf"
# Small frames keep the suite fast: 360x640 is 9:16 like the real 1080x1920, at a ninth of the pixels.
WIDTH, HEIGHT, FPS = 360, 640, 24


@pytest.fixture(scope="session")
def font() -> Path:
    return NOTO_SANS


@pytest.fixture(scope="session")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A landscape gradient photo (wrong aspect on purpose), a logo with alpha, a 0.7 s tone."""
    folder = tmp_path_factory.mktemp("assets")
    # Gradient + stripes: bright everywhere (a letterbox bar would show as black), and any motion
    # moves visible edges.
    ys, xs = np.mgrid[0:300, 0:400]
    photo = np.stack([80 + xs * 175 // 400, 80 + ys * 175 // 300, 120 + 100 * ((xs // 20) % 2)], axis=-1)
    Image.fromarray(photo.astype(np.uint8)).save(folder / "photo.png")
    Image.fromarray(photo.astype(np.uint8)).save(folder / "photo.jpg", quality=90)
    # A 2.5:1 opaque red bar inside a transparent margin (the whole image is 2:1).
    logo = Image.new("RGBA", (240, 120), (0, 0, 0, 0))
    logo.paste((255, 0, 0, 255), (20, 20, 220, 100))
    logo.save(folder / "logo.png")
    # A title tag, which must not leak into outputs.
    run_ffmpeg(
        ["-filter_complex", filter_spec("sine", frequency=440, duration=0.7) + "[a]", "-map", "[a]",
         "-metadata", "title=brand music", str(folder / "tone.wav")],
        timeout=30,
    )  # fmt: skip
    # MP3 starts late by its encoder delay (~25 ms): the compositor must still start audio at 0.
    run_ffmpeg([*input_args(folder / "tone.wav"), str(folder / "tone.mp3")], timeout=30)
    return {"photo": folder / "photo.png", "photo_jpg": folder / "photo.jpg", "logo": folder / "logo.png",
            "tone": folder / "tone.wav", "tone_mp3": folder / "tone.mp3"}  # fmt: skip


def build_plan(
    *scenes: tuple[float, Background, tuple[Layer, ...]],
    fade: float = 0.0,
    fps: int = FPS,
    audio: Audio | None = None,
    metadata: tuple[tuple[str, str], ...] = (),
) -> CompositionPlan:
    """A plan of the test size; with no scenes given, two 1 s colour scenes (red, then blue)."""
    if not scenes:
        scenes = ((1.0, ColorBackground("#CC2222"), ()), (1.0, ColorBackground("#2222CC"), ()))
    return CompositionPlan(
        width=WIDTH,
        height=HEIGHT,
        fps=fps,
        scenes=tuple(Scene(duration, background, layers) for duration, background, layers in scenes),
        transition=Transition("fade", fade) if fade else Transition(),
        audio=audio,
        metadata=metadata,
    )
