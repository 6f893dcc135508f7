"""Regenerates docs/images/styled-*.png: the template-spec example's styled scene (scene 1) at 1 s.

Run from the repository root: `.venv/bin/python docs/images/make_styled_stills.py`. Rendered at a third of
each format's size, like the other stills, to keep the repository small. The example's logo is a stand-in
drawn here; the font is Noto Sans (the default brand font).
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import fontpkg_noto_sans
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")
import django  # noqa: E402

django.setup()  # templates.spec reads the model registry from settings

from render.compose.compose import compose_video  # noqa: E402
from render.compose.probe import decode_frame  # noqa: E402
from render.planning import BrandFiles, composition_plan  # noqa: E402
from templates.spec import spec_formats, spec_validate  # noqa: E402

SCENE = 1  # the styled scene of the example
AT_SECONDS = 1.0  # after the 0.4 s entrance animations


def example_spec() -> dict[str, Any]:
    """The first JSON block of docs/template-spec.md."""
    text = (ROOT / "docs" / "template-spec.md").read_text(encoding="utf-8")
    block = re.search(r"```json\n(.*?)\n```", text, re.S)
    assert block is not None
    return json.loads(block.group(1))


def main() -> None:
    spec, _ = spec_validate(example_spec())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        logo = Image.new("RGBA", (240, 120), (0, 0, 0, 0))
        ImageDraw.Draw(logo).rounded_rectangle((10, 10, 230, 110), radius=30, fill=(255, 122, 0, 255))
        logo.save(folder / "logo.png")
        brand = BrandFiles(
            colors={"primary": "#1F3A93", "secondary": "#FF7A00", "text": "#FFFFFF"},
            font=fontpkg_noto_sans.ROOT / "files" / "NotoSans[wdth,wght].ttf",
            logo=folder / "logo.png",
            music=None,
        )
        scene = spec["scenes"][SCENE]
        one = {**spec, "scenes": [scene], "transition": {"type": "none"}}
        one.pop("audio", None)
        for output in spec_formats(spec):
            small = {
                **output,
                "width": output["width"] // 3 // 2 * 2,
                "height": output["height"] // 3 // 2 * 2,
            }
            plan = composition_plan(
                spec=one,
                values={"first_name": "Zoë", "company": "Acme"},
                brand=brand,
                scene_media=[None],
                metadata={},
                output=small,
            )
            video = folder / "v.mp4"
            compose_video(plan, video, workdir=folder / "w")
            name = output["name"].replace(":", "x")
            decode_frame(video, AT_SECONDS).save(
                ROOT / "docs" / "images" / f"styled-{name}.png", optimize=True
            )


if __name__ == "__main__":
    main()
