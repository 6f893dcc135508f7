"""Brand footage (issue 15): an MP4 or WebM uploaded through the API backs a scene like a generated clip,
transcoded once; the output decodes without errors; what is not video is refused."""

from __future__ import annotations

import hashlib
import io
import subprocess
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np
import pytest
from rest_framework.test import APIClient

from core.storage import get_storage
from render.compose.probe import decode_frame, probe
from render.models import Render, RenderStatus
from tests.render.test_api_renders import make_brand, make_template, request_render

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("run_tasks_inline")]

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
SPEC: dict[str, Any] = {
    "format": {"width": 160, "height": 288, "fps": 24},
    "scenes": [
        {"duration": 1.0, "background": {"video": "brand.video"}},
        {"duration": 0.5, "background": {"color": "#101010"}},
    ],
}


def _footage(tmp: Path, name: str, codec: list[str]) -> bytes:
    path = tmp / name
    # A red field: easy to find in the output frame.
    subprocess.run(
        [FFMPEG, "-v", "error", "-f", "lavfi", "-i", "color=c=red:size=320x240:rate=25:duration=1.5",
         *codec, "-y", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


def _upload(api: APIClient, brand: str, data: bytes, name: str) -> Any:
    upload = io.BytesIO(data)
    upload.name = name
    return api.post(f"/api/v1/brands/{brand}/assets/", {"kind": "video", "file": upload}, format="multipart")


@pytest.mark.parametrize(
    ("name", "codec"),
    [("clip.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p"]), ("clip.webm", ["-c:v", "libvpx-vp9"])],
)
def test_uploaded_footage_backs_a_scene(api: APIClient, tmp_path: Path, name: str, codec: list[str]) -> None:
    template, brand = make_template(api, SPEC), make_brand(api)
    footage = _footage(tmp_path, name, codec)
    response = _upload(api, brand, footage, name)
    assert response.status_code == 201, response.json()
    assert response.json()["details"]["duration"] == pytest.approx(1.5, abs=0.1)
    render = Render.objects.get(pk=request_render(api, template, brand, {}).json()["id"])
    assert render.status == RenderStatus.SUCCEEDED, render.error
    video = get_storage().fetch(render.outputs[0]["video_key"], tmp_path / "out.mp4")
    assert probe(video).duration == pytest.approx(1.5, abs=1 / 24)
    decoded = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(video), "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert decoded.returncode == 0
    assert decoded.stderr == ""
    frame = np.asarray(decode_frame(video, 0.5), dtype=np.float64).reshape(-1, 3).mean(axis=0)
    assert frame[0] > 180  # the red footage
    assert frame[1] < 60
    # Transcoded once, stored by the upload's hash for every later render.
    assert get_storage().exists(f"brand-clips/{hashlib.sha256(footage).hexdigest()}-v1.mp4")


def test_what_is_not_video_is_refused(api: APIClient) -> None:
    brand = make_brand(api)
    response = _upload(api, brand, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200, "broken.mp4")
    assert response.status_code == 400
    assert "video" in str(response.json())
    response = _upload(api, brand, b"GIF89a" + b"\x00" * 200, "x.gif")
    assert response.status_code == 400


def test_a_spec_names_only_the_brand_video(api: APIClient) -> None:
    spec = {**SPEC, "scenes": [{"duration": 1.0, "background": {"video": "https://x/y.mp4"}}]}
    response = api.post("/api/v1/templates/", {"name": "Hello", "spec": spec}, format="json")
    assert response.status_code == 400
    assert "spec.scenes[0].background.video" in str(response.json())
