"""One render flow end to end, as a client that knows only the contract and an API key would see it.

Embedded mode runs the tasks in-process; service mode runs them on real `celery worker` processes against
PostgreSQL, Redis and SeaweedFS. Either way: real tiny-sd diffusion, real ffmpeg, real storage.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from PIL import ImageChops, ImageStat
from rest_framework.test import APIClient

from render.compose.probe import decode_frame, probe
from tests.conftest import SERVICES
from tests.render.test_api_renders import make_brand, make_template, request_render

NAMES = ["Zoë", "李小龍", "O'Brien: 100% \\ [ok] %{pts} {{company}}"]


def wait_final(api: APIClient, render_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(f"/api/v1/renders/{render_id}/").json()
        if body["status"] in ("succeeded", "failed", "canceled"):
            return body
        assert time.monotonic() < deadline, f"render {render_id} stuck in {body['status']}"
        time.sleep(0.25)


def fetch(url: str, dest: Path, client: APIClient) -> Path:
    if url.startswith(settings.PUBLIC_BASE_URL + settings.MEDIA_URL):
        # Embedded mode: Django serves media itself; ask it through the test client.
        response = client.get(url.removeprefix(settings.PUBLIC_BASE_URL))
        assert response.status_code == 200
        dest.write_bytes(b"".join(response.streaming_content))  # type: ignore[attr-defined]
    else:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310  (a presigned http URL we minted)
            dest.write_bytes(response.read())
    return dest


@pytest.fixture
def flow(request: pytest.FixtureRequest) -> None:
    if SERVICES:
        request.getfixturevalue("service_workers")
    else:
        request.getfixturevalue("run_tasks_inline")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("flow")
def test_personalised_renders_end_to_end(api: APIClient, tmp_path: Path) -> None:
    template, brand = make_template(api), make_brand(api)
    ids = []
    for name in NAMES:
        response = request_render(api, template, brand, {"first_name": name[:32], "company": "Acme"})
        assert response.status_code == 202, response.json()
        assert response.json()["status"] in ("queued", "generating", "composing", "uploading", "succeeded")
        ids.append(response.json()["id"])

    frames = []
    for index, render_id in enumerate(ids):
        body = wait_final(api, render_id)
        assert body["status"] == "succeeded", body
        assert body["error"] is None
        assert (body["width"], body["height"]) == (180, 320)
        video = fetch(body["video_url"], tmp_path / f"{index}.mp4", api)
        thumb = fetch(body["thumbnail_url"], tmp_path / f"{index}.jpg", api)
        assert thumb.read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG
        info = probe(video)
        assert (info.width, info.height) == (180, 320)
        assert info.video_codec == "h264"
        assert info.pixel_format == "yuv420p"
        assert info.duration == pytest.approx(
            2.0, abs=1 / 10
        )  # the spec's 2 x 1 s, within one frame at 10 fps
        assert body["duration"] == pytest.approx(2.0, abs=1 / 10)
        assert not info.has_audio  # the brand has no music
        frames.append(decode_frame(video, 0.5).crop((14, 96, 166, 160)))  # the name's box, first scene

    # The name is drawn: the box differs between recipients; everything else about the scene is shared.
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        diff = ImageStat.Stat(ImageChops.difference(frames[a], frames[b])).mean
        assert max(diff) > 1.0, (a, b)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("flow")
def test_generation_counter_counts_distinct_pictures(api: APIClient) -> None:
    def generations_total() -> float:
        text = APIClient().get("/metrics").content.decode()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("reelsmith_generations_total{")
        )

    before = generations_total()
    template, brand = make_template(api), make_brand(api)
    ids = [
        request_render(
            api, template, brand, {"first_name": f"N{i}", "industry": ["bakery", "florist", "garage"][i % 3]}
        ).json()["id"]
        for i in range(12)
    ]
    for render_id in ids:
        assert wait_final(api, render_id)["status"] == "succeeded"
    assert generations_total() - before == 3
