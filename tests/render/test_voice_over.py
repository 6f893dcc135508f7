"""Voice-over through the API (issue 15): the scene says the recipient's name, lasts as long as the line,
the captions carry the name at the time it is said, and a name the voice cannot say is a 400."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rest_framework.test import APIClient

from core.storage import get_storage
from render.compose.ffmpeg import input_args, run_ffmpeg
from render.compose.probe import probe
from render.models import Render, RenderStatus
from tests.render.test_api_renders import make_brand, make_template, request_render

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("run_tasks_inline")]

SPEC: dict[str, Any] = {
    "format": {"width": 160, "height": 288, "fps": 24},
    "variables": {"first_name": {"type": "text", "required": True, "max_length": 32}},
    "subtitles": True,
    "scenes": [
        {
            "duration": "voice",
            "min_duration": 1.0,
            "voice": {"text": "Hi {{first_name}}, welcome.", "voice": "espeak-en"},
            "background": {"color": "brand.primary"},
        },
        {"duration": 1.0, "background": {"color": "#101010"}},
    ],
}


def _render(api: APIClient, template: str, brand: str, variables: dict[str, str]) -> Render:
    response = request_render(api, template, brand, variables)
    assert response.status_code == 202, response.json()
    return Render.objects.get(pk=response.json()["id"])


def test_the_name_is_said_captioned_and_sets_the_scene_length(api: APIClient, tmp_path: Path) -> None:
    template, brand = make_template(api, SPEC), make_brand(api)
    render = _render(api, template, brand, {"first_name": "Jennifer"})
    assert render.status == RenderStatus.SUCCEEDED, render.error
    storage = get_storage()
    output = render.outputs[0]
    video = storage.fetch(output["video_key"], tmp_path / "video.mp4")
    info = probe(video)
    assert info.has_audio
    # The first scene lasts as long as "Hi Jennifer, welcome." (about 1.5 s) plus a breath, over its 1 s floor.
    assert 2.0 < info.duration < 5.0
    captions = storage.fetch(output["captions_key"], tmp_path / "captions.vtt").read_text(encoding="utf-8")
    assert "Jennifer" in captions
    raw = tmp_path / "audio.s16"
    run_ffmpeg(
        [*input_args(video), "-map", "0:a", "-ac", "1", "-ar", "48000", "-f", "s16le", str(raw)], timeout=60
    )
    audio = np.frombuffer(raw.read_bytes(), dtype="<i2").astype(np.float64) / 32768
    first_scene = audio[: int((info.duration - 1.0) * 48000)]
    assert np.sqrt(np.mean(first_scene**2)) > 0.02  # speech, not silence
    assert np.sqrt(np.mean(audio[-int(0.8 * 48000) :] ** 2)) < 0.005  # the last scene is silent (no music)


def test_a_name_the_voice_cannot_say_is_a_400_naming_the_variable(api: APIClient) -> None:
    template, brand = make_template(api, SPEC), make_brand(api)
    response = request_render(api, template, brand, {"first_name": "李明"})
    assert response.status_code == 400
    fields = response.json()["error"]["fields"] if "error" in response.json() else response.json()["fields"]
    assert "variables.first_name" in fields
    assert "espeak-en" in str(fields["variables.first_name"])


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda s: s["scenes"][0]["voice"].update(voice="nope"), "spec.scenes[0].voice.voice"),
        (lambda s: s["scenes"][0]["voice"].update(speed=3), "spec.scenes[0].voice.speed"),
        (lambda s: s["scenes"][0]["voice"].update(text="你好 {{first_name}}"), "spec.scenes[0].voice.text"),
        (lambda s: s["scenes"][0].pop("voice"), "spec.scenes[0].duration"),
        (lambda s: s["scenes"][1].update(min_duration=2), "spec.scenes[1].min_duration"),
        (lambda s: s.update(subtitles="yes"), "spec.subtitles"),
    ],
)
def test_voice_spec_errors_name_the_field(api: APIClient, change: Any, path: str) -> None:
    spec = copy.deepcopy(SPEC)
    change(spec)
    response = api.post("/api/v1/templates/", {"name": "Hello", "spec": spec}, format="json")
    assert response.status_code == 400
    assert path in str(response.json()), response.json()
