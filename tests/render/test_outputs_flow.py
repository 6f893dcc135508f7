"""What a render makes beside its video, through the render services: poster, GIF and captions from the runs
that make the video, stage timings logged per render, and the encoder setting refused where it cannot run."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from rest_framework.test import APIClient

from core.storage import get_storage
from render.compose.outputs import GIF_MAX_BYTES
from render.models import Render, RenderStatus
from render.pricing import template_cost
from tests.factories import small_spec
from tests.render.test_api_renders import make_brand, make_template, request_render

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("run_tasks_inline")]


def _composed_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.compose for r in caplog.records if r.getMessage() == "render composed"]  # type: ignore[attr-defined]  # `extra`


def test_a_render_uploads_poster_gif_and_captions_and_logs_its_stages(
    api: APIClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="render.services.composition")
    render_id = request_render(api, make_template(api), make_brand(api), {"first_name": "Zoë"}).json()["id"]
    render = Render.objects.get(pk=render_id)
    assert render.status == RenderStatus.SUCCEEDED, render.error
    storage, output = get_storage(), render.outputs[0]
    poster = storage.fetch(output["poster_key"], tmp_path / "poster.jpg")
    gif = storage.fetch(output["gif_key"], tmp_path / "preview.gif")
    captions = storage.fetch(output["captions_key"], tmp_path / "captions.vtt")
    with Image.open(poster) as image:
        assert (image.format, image.size) == ("JPEG", (180, 320))
    with Image.open(gif) as image:
        assert image.format == "GIF"
        assert getattr(image, "n_frames", 1) > 1
    assert gif.stat().st_size < GIF_MAX_BYTES
    assert captions.read_text(encoding="utf-8").startswith("WEBVTT")
    (line,) = _composed_lines(caplog)
    assert {"bookkeeping", "fetch", "compose", "outputs", "upload"} <= set(line["cpu_s"])
    assert line["cpu_s"]["compose"] > 0
    assert line["formats"] == 1


def test_an_encoder_this_node_cannot_run_fails_the_render_with_the_reason(
    api: APIClient, settings: Any
) -> None:
    if Path("/dev/nvidia0").exists():
        pytest.skip("this node has an NVIDIA GPU: NVENC may well open")
    settings.REELSMITH_VIDEO_ENCODER = "h264_nvenc"
    render_id = request_render(api, make_template(api), make_brand(api), {"first_name": "A"}).json()["id"]
    render = Render.objects.get(pk=render_id)
    assert render.status == RenderStatus.FAILED
    assert "REELSMITH_VIDEO_ENCODER=h264_nvenc" in render.error


def _still_and_zoom_spec(motion: str) -> dict[str, Any]:
    spec = small_spec()
    spec["scenes"][0]["background"] = {"color": "brand.secondary"}  # a still background, the greeting
    spec["scenes"][1]["background"] = {"image": "brand.logo", "motion": motion}
    spec["scenes"][1]["layers"][1]["text"] = "{{company}}: hello {{first_name}}"
    return spec


def test_the_template_cost_says_which_scenes_are_personal_and_prices_motion_twice(api: APIClient) -> None:
    still, zoom = (
        template_cost(spec=_still_and_zoom_spec("none")),
        template_cost(spec=_still_and_zoom_spec("zoom_in")),
    )
    assert [scene["personal"] for scene in zoom["scenes"]] == [True, True]
    assert zoom["scenes"][1]["merge_fields"] == ["company", "first_name"]
    assert [scene["background"] for scene in zoom["scenes"]] == ["still", "moving"]
    assert (zoom["personal_seconds"], zoom["personal_seconds_moving"], zoom["shared_seconds"]) == (
        2.0,
        1.0,
        0.0,
    )
    # "Hi Zoë" over a still costs half of "Hi Zoë" over a zoom.
    assert still["relative_cost"] == 2.0
    assert zoom["relative_cost"] == 3.0


def test_the_preview_and_the_campaign_show_the_template_cost(api: APIClient) -> None:
    template = make_template(api, _still_and_zoom_spec("zoom_in"))
    make_brand(api)
    preview = api.post(f"/api/v1/templates/{template}/preview/", {}, format="json")
    assert preview.status_code == 200, preview.json()
    assert preview.json()["cost"]["personal_seconds_moving"] == 1.0
    campaign = api.post(
        "/api/v1/campaigns/",
        {"name": "Spring", "template": template, "brand": make_brand(api)},
        format="json",
    ).json()
    detail = api.get(f"/api/v1/campaigns/{campaign['id']}/").json()
    assert detail["recipient_cost"]["relative_cost"] == 3.0
