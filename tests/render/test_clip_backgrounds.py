"""Generated clip backgrounds (`"generate": {"video": true}`, issue #4): the spec's checks, one clip
Generation per distinct clip across renders and campaigns, the stored MP4, its price, and a render whose
background moves in every format."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from rest_framework.test import APIClient

from adspec.catalog import TINY_WAN, WAN_T2V
from core.billing.models import Reservation
from core.errors import ApplicationError
from core.storage import get_storage
from render.compose.probe import decode_frame, probe
from render.engine.registry import model_spec
from render.models import Generation, GenerationKind, Render, RenderStatus
from render.planning import GenerationSpec, generation_specs
from render.pricing import generation_cost, render_cost, render_cost_estimate
from templates.spec import spec_validate
from tests.campaigns.helpers import upload_json
from tests.render.test_api_renders import make_brand, make_template, request_render

TEXT_BOX = [0.08, 0.70, 0.84, 0.20]
FORMATS = [
    {"name": "9:16", "width": 144, "height": 256},
    {"name": "1:1", "width": 192, "height": 192},
    {"name": "16:9", "width": 256, "height": 144},
    {"name": "4:5", "width": 192, "height": 240},
]
CLIP_SPEC: dict[str, Any] = {
    "format": {"width": 144, "height": 256, "fps": 12},
    "variables": {"first_name": {"type": "text", "required": True, "max_length": 32}},
    "scenes": [
        {
            # 2 s over tiny-wan's 1.125 s clip (9 frames at 8 fps): it loops once and a bit.
            "duration": 2.0,
            "background": {"generate": {"video": True, "prompt": "a shop window at dusk", "seed": 3}},
            "transition": {"type": "fade", "duration": 0.25},
            "layers": [{"type": "text", "text": "Hi {{first_name}}!", "box": TEXT_BOX}],
        },
        {
            "duration": 1.0,
            "background": {"color": "brand.primary"},
            "layers": [{"type": "logo", "box": [0.3, 0.4, 0.4, 0.2]}],
        },
    ],
}


def clip_spec(**generate: Any) -> dict[str, Any]:
    spec = copy.deepcopy(CLIP_SPEC)
    spec["scenes"][0]["background"]["generate"].update(generate)
    return spec


def _render(api: APIClient, template: str, brand: str, name: str) -> Render:
    response = request_render(api, template, brand, {"first_name": name})
    assert response.status_code == 202, response.json()
    return Render.objects.get(pk=response.json()["id"])


# --- The spec ----------------------------------------------------------------------------------------------

GEN = "spec.scenes[0].background.generate"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("generate", "field"),
    [
        ({"video": "yes"}, f"{GEN}.video"),
        ({"video": 1}, f"{GEN}.video"),
        ({"model": "tiny-sd"}, f"{GEN}.model"),  # a picture model asked for a clip
        ({"video": False, "model": TINY_WAN}, f"{GEN}.model"),  # a clip model asked for a picture
        ({"frames": 8}, f"{GEN}.frames"),  # not 1 + 4k
        ({"frames": 1}, f"{GEN}.frames"),  # a still
        ({"frames": 21}, f"{GEN}.frames"),  # over twice tiny-wan's 9
        ({"frames": "9"}, f"{GEN}.frames"),
        ({"frames": True}, f"{GEN}.frames"),
        ({"model": WAN_T2V, "frames": 165}, f"{GEN}.frames"),  # over twice Wan's 81
        ({"video": False, "frames": 9}, f"{GEN}.frames"),
        ({"base": {"prompt": "a shop"}}, f"{GEN}.base"),
        ({"strength": 0.5}, f"{GEN}.strength"),
        ({"model": "no-such-model"}, f"{GEN}.model"),
    ],
)
def test_bad_clip_fields_are_400s_naming_the_field(
    api: APIClient, generate: dict[str, Any], field: str
) -> None:
    response = api.post("/api/v1/templates/", {"name": "x", "spec": clip_spec(**generate)}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"], response.json()


@pytest.mark.django_db
def test_a_picture_model_named_without_video_is_still_a_picture(api: APIClient) -> None:
    spec = clip_spec(model="tiny-sd")
    del spec["scenes"][0]["background"]["generate"]["video"]
    assert api.post("/api/v1/templates/", {"name": "x", "spec": spec}, format="json").status_code == 201


@pytest.mark.parametrize(
    "generate", [{}, {"frames": 5}, {"frames": 17}, {"model": TINY_WAN}, {"model": WAN_T2V, "frames": 161}]
)
def test_valid_clip_specs_pass(generate: dict[str, Any]) -> None:
    spec_validate(clip_spec(**generate))


def test_a_missing_default_video_model_is_named(settings: Any) -> None:
    settings.REELSMITH_DEFAULT_VIDEO_MODEL = "tiny-sd"  # a server configured with a picture model
    with pytest.raises(ApplicationError) as raised:
        spec_validate(clip_spec())
    assert GEN in (raised.value.fields or {})


# --- Planning and price ----------------------------------------------------------------------------------------


def test_picture_keys_are_unchanged_and_clip_keys_and_shapes_carry_the_frame_count() -> None:
    picture = GenerationSpec("tiny-sd", "a shop", "", 7, 64, 64, 2, 0.0)
    # The key every picture had before clips existed: the SHA-256 of these nine fields.
    before = json.dumps(["tiny-sd", "a shop", "", 7, 64, 64, 2, 0.0, "default"], separators=(",", ":"))
    assert picture.key == hashlib.sha256(before.encode()).hexdigest()
    assert picture.shape_key == "tiny-sd|64x64|2|0|default"

    [clip, _] = generation_specs(clip_spec(), {"first_name": "Zoë"}, "tiny-sd")
    [longer, _] = generation_specs(clip_spec(frames=17), {"first_name": "Zoë"}, "tiny-sd")
    assert clip is not None
    assert longer is not None
    assert (clip.model, clip.num_frames, longer.num_frames) == (TINY_WAN, 9, 17)
    assert (clip.width, clip.height) == (48, 80)  # tiny-wan's portrait bucket for 9:16
    assert clip.key != longer.key
    # Clips of different lengths never share a pipeline call.
    assert clip.shape_key == "tiny-wan|48x80|2|0|default|frames:9"
    assert longer.shape_key == "tiny-wan|48x80|2|0|default|frames:17"


def test_a_clip_costs_a_credit_per_started_second_of_it() -> None:
    assert generation_cost(model="tiny-sd", num_frames=None) == 1
    assert generation_cost(model=TINY_WAN, num_frames=9) == 2  # 1.125 s at 8 fps
    assert generation_cost(model=TINY_WAN, num_frames=5) == 1  # 0.625 s
    assert generation_cost(model=TINY_WAN, num_frames=17) == 3  # 2.125 s
    assert generation_cost(model=WAN_T2V, num_frames=81) == 6  # 5.06 s at 16 fps
    # 3 output seconds, one format: 3; plus the clip.
    assert render_cost_estimate(spec=clip_spec(), variables={"first_name": "Zoë"}) == 3 + 2
    assert render_cost_estimate(spec=clip_spec(frames=17), variables={"first_name": "Zoë"}) == 3 + 3
    assert render_cost(spec=clip_spec(), generation_credits=0) == 3


# --- Through the API -----------------------------------------------------------------------------------------------


def _frames_differ_outside(first: Any, second: Any, box: list[float]) -> float:
    """Mean absolute difference of two RGB frames with the text box blanked out."""
    a, b = np.asarray(first, dtype=np.int16), np.asarray(second, dtype=np.int16)
    height, width = a.shape[:2]
    x, y, w, h = box
    mask = np.ones((height, width), dtype=bool)
    mask[round(y * height) : round((y + h) * height), round(x * width) : round((x + w) * width)] = False
    return float(np.abs(a - b)[mask].mean())


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_a_clip_background_renders_in_every_format_and_moves(api: APIClient, tmp_path: Path) -> None:
    spec = clip_spec()
    del spec["format"]
    spec["formats"] = [{**fmt, "fps": 12} for fmt in FORMATS]
    render = _render(api, make_template(api, spec), make_brand(api), "Zoë")
    render.refresh_from_db()
    assert render.status == RenderStatus.SUCCEEDED, render.error
    storage = get_storage()
    for index, (output, fmt) in enumerate(zip(render.outputs, FORMATS, strict=True)):
        video = storage.fetch(output["video_key"], tmp_path / f"{index}.mp4")
        info = probe(video)
        assert (info.width, info.height) == (fmt["width"], fmt["height"])
        assert info.duration == pytest.approx(3.0, abs=1 / 12)
        # Two moments of the clip scene (clip frames 0 and 4 of 9; the fade starts at 1.875 s): the
        # background changed between them, outside the text.
        early, later = decode_frame(video, 0.05), decode_frame(video, 0.55)
        # Measured: ~7.8 between them, ~0.15 between one clip frame and itself a loop later.
        assert _frames_differ_outside(early, later, TEXT_BOX) > 2.0
        # And it loops: 1.125 s on (9 clip frames at 8 fps), the same clip frame again.
        looped = decode_frame(video, 0.05 + 1.125)
        assert _frames_differ_outside(early, looped, TEXT_BOX) < 1.5
    # The provenance names the video model.
    with av.open(str(tmp_path / "0.mp4")) as container:
        tags = container.metadata
    assert tags["reelsmith_models"] == TINY_WAN
    assert TINY_WAN in tags["comment"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_the_stored_clip_is_an_mp4_of_the_models_frames_at_its_rate(api: APIClient, tmp_path: Path) -> None:
    render = _render(api, make_template(api, clip_spec()), make_brand(api), "Zoë")
    render.refresh_from_db()
    assert render.status == RenderStatus.SUCCEEDED, render.error
    clip = Generation.objects.get()
    tiny_wan = model_spec(TINY_WAN)
    assert (clip.kind, clip.model, clip.num_frames, clip.runs) == (GenerationKind.VIDEO, TINY_WAN, 9, 1)
    assert clip.output_key == f"generations/{clip.key[:2]}/{clip.key}.mp4"
    path = get_storage().fetch(clip.output_key, tmp_path / "clip.mp4")
    info = probe(path)
    assert (info.video_codec, info.pixel_format, info.fps) == ("h264", "yuv420p", tiny_wan.fps)
    assert (info.width, info.height) == (clip.width, clip.height) == (48, 80)
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(frames) == tiny_wan.num_frames == 9
    assert not np.array_equal(frames[0], frames[4])  # a clip, not a still repeated
    # Charged: 3 output seconds plus the clip's 2 credits.
    assert Reservation.objects.get(render_id=render.pk).cost == 5


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_one_clip_generation_serves_every_render_and_campaign(api: APIClient) -> None:
    brand = make_brand(api)
    first_template, second_template = make_template(api, clip_spec()), make_template(api, clip_spec())
    # Two API renders of two templates, a sample of each of two campaigns: four renders, one clip.
    renders = [_render(api, first_template, brand, "Ann"), _render(api, second_template, brand, "Bo")]
    for template in (first_template, second_template):
        campaign = api.post(
            "/api/v1/campaigns/", {"name": "Spring", "template": template, "brand": brand}, format="json"
        ).json()
        upload_json(api, campaign["id"], [{"first_name": "Cy"}])
        assert api.post(f"/api/v1/campaigns/{campaign['id']}/samples/", {}, format="json").status_code == 202
    assert Render.objects.count() == 4
    assert set(Render.objects.values_list("status", flat=True)) == {RenderStatus.SUCCEEDED}
    assert Generation.objects.count() == 1
    text = APIClient().get("/metrics").content.decode()
    runs = re.findall(r'^reelsmith_generations_total\{model="([^"]+)"\} (\S+)$', text, flags=re.MULTILINE)
    assert runs == [(TINY_WAN, "1.0")]
    # The first render paid for the clip; the others found it made.
    costs = sorted(cost or 0 for cost in Reservation.objects.values_list("cost", flat=True))
    assert costs == [3, 3, 3, 5]
    assert renders[0].pk in set(Reservation.objects.filter(cost=5).values_list("render_id", flat=True))


@pytest.mark.django_db
def test_a_clip_of_the_wrong_length_fails_its_render_with_the_reason(
    workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from render import services
    from render.engine.pipeline import get_engine
    from render.engine.types import GenerationRequest, GenerationResult
    from templates.services import template_create
    from tests.factories import BrandFactory

    engine = get_engine(TINY_WAN)
    real = engine.run_batch

    def short_clips(requests: list[GenerationRequest]) -> list[GenerationResult]:
        return [replace(r, frames=r.frames[:4] if r.frames else None) for r in real(requests)]

    monkeypatch.setattr(engine, "run_batch", short_clips)
    version = template_create(workspace=workspace, name="t", spec=clip_spec())
    render = Render.objects.create(
        workspace=workspace,
        template_version=version,
        brand=BrandFactory.create(workspace=workspace),
        variables={"first_name": "Ann"},
    )
    services.render_plan(render_id=render.pk)
    clip = Generation.objects.get()
    services.generation_drain(shape_key=clip.shape_key, max_batch=4, max_wait_ms=0)

    clip.refresh_from_db()
    render.refresh_from_db()
    assert (clip.status, clip.attempts, clip.runs) == ("failed", 3, 0)
    assert render.status == RenderStatus.FAILED
    assert "tiny-wan returned 4 frames, not 9 frames" in render.error
