"""Issue #3 spec features through the API: `when`, per-boundary transitions, shared segments cached."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from core.storage import get_storage
from render.models import Render, RenderStatus
from tests.render.test_api_renders import make_brand, make_template, request_render

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("run_tasks_inline")]

SPEC = {
    "format": {"width": 160, "height": 288, "fps": 24},
    "variables": {
        "first_name": {"type": "text", "required": True, "max_length": 32},
        "company": {"type": "text"},
    },
    "scenes": [
        {
            "duration": 1.0,
            "background": {"color": "brand.secondary"},
            "transition": {"type": "wipe", "duration": 0.25},
            "layers": [{"type": "logo", "box": [0.3, 0.4, 0.4, 0.2]}],
        },
        {
            "duration": 1.0,
            "background": {"color": "brand.primary"},
            "layers": [{"type": "text", "text": "Hi {{first_name}}!", "box": [0.1, 0.4, 0.8, 0.2]}],
        },
        {
            "duration": 1.0,
            "background": {"color": "#101010"},
            "when": "company",
            "layers": [
                {"type": "text", "text": "For {{company}}", "box": [0.1, 0.4, 0.8, 0.2], "when": "company"}
            ],
        },
        {
            "duration": 1.0,
            "background": {"color": "#F2B705"},
            "transition": {"type": "slide", "duration": 0.25},
            "layers": [
                {"type": "text", "text": "Let's talk", "box": [0.1, 0.4, 0.8, 0.2], "color": "#101010"}
            ],
        },
    ],
    "transition": {"type": "fade", "duration": 0.25},
}


def _render(api: APIClient, template: str, brand: str, variables: dict[str, str]) -> Render:
    response = request_render(api, template, brand, variables)
    assert response.status_code == 202, response.json()
    return Render.objects.get(pk=response.json()["id"])


def test_when_and_per_boundary_transitions_render_and_shared_scenes_are_cached(api: APIClient) -> None:
    template, brand = make_template(api, SPEC), make_brand(api)
    with_company = _render(api, template, brand, {"first_name": "Zoë", "company": "Acme"})
    without = _render(api, template, brand, {"first_name": "אורי"})
    for render, seconds in ((with_company, 4.0), (without, 3.0)):
        assert render.status == RenderStatus.SUCCEEDED, render.error
        assert render.duration == pytest.approx(seconds, abs=1 / 24)
    # The first scene never sees a merge field: encoded once, stored by content hash, shared by both.
    storage = get_storage()
    root = getattr(storage, "root", None)
    if root is not None:
        assert list((root / "segments").glob("*.mp4"))


def test_when_must_name_a_declared_variable(api: APIClient) -> None:
    first_scene: dict[str, object] = {**SPEC["scenes"][0], "when": "nope"}  # type: ignore[index]
    spec = {**SPEC, "scenes": [first_scene]}
    response = api.post("/api/v1/templates/", {"name": "x", "spec": spec}, format="json")
    assert response.status_code == 400
    assert "spec.scenes[0].when" in response.json()["fields"]


FORMATS_SPEC = {
    "formats": [
        {"name": "9:16", "width": 144, "height": 256, "fps": 24},
        {"name": "1:1", "width": 192, "height": 192, "fps": 24},
        {"name": "16:9", "width": 256, "height": 144, "fps": 24},
    ],
    "variables": {"first_name": {"type": "text", "required": True, "max_length": 32}},
    "scenes": [
        {
            "duration": 1.0,
            "background": {"color": "brand.primary"},
            "layers": [
                {
                    "type": "text",
                    "text": "Hi {{first_name}}!",
                    "box": [0.1, 0.4, 0.8, 0.2],
                    "boxes": {"16:9": [0.05, 0.1, 0.5, 0.3]},
                }
            ],
        },
        {
            "duration": 1.0,
            "background": {"color": "#F2B705"},
            "layers": [{"type": "logo", "box": [0.3, 0.3, 0.4, 0.4]}],
        },
    ],
    "transition": {"type": "fade", "duration": 0.25},
}


def test_every_listed_format_renders_with_poster_gif_and_captions(api: APIClient, tmp_path: Path) -> None:
    from PIL import Image

    from render.compose.outputs import GIF_MAX_BYTES
    from render.compose.probe import decode_frame, probe

    template, brand = make_template(api, FORMATS_SPEC), make_brand(api)
    render = _render(api, template, brand, {"first_name": "Zoë"})
    assert render.status == RenderStatus.SUCCEEDED, render.error
    body = api.get(f"/api/v1/renders/{render.pk}/").json()
    assert [o["format"] for o in body["outputs"]] == ["9:16", "1:1", "16:9"]
    assert body["video_url"] == body["outputs"][0]["video_url"]
    assert (body["width"], body["height"]) == (144, 256)
    storage = get_storage()
    for index, (output, entry) in enumerate(zip(render.outputs, body["outputs"], strict=True)):
        assert all(entry[f"{kind}_url"] for kind in ("video", "poster", "gif", "captions"))
        folder = tmp_path / str(index)
        folder.mkdir()
        video = storage.fetch(output["video_key"], folder / "video.mp4")
        info = probe(video)
        assert (
            (info.width, info.height)
            == (output["width"], output["height"])
            == (entry["width"], entry["height"])
        )
        assert info.duration == pytest.approx(2.0, abs=1 / 24) == output["duration"]
        decode_frame(video, 1.9)  # decodes to the end
        with Image.open(storage.fetch(output["poster_key"], folder / "poster.jpg")) as poster:
            assert (poster.format, poster.size) == ("JPEG", (info.width, info.height))
        gif = storage.fetch(output["gif_key"], folder / "preview.gif")
        assert gif.stat().st_size < GIF_MAX_BYTES
        with Image.open(gif) as preview:
            assert preview.format == "GIF"
        captions = storage.fetch(output["captions_key"], folder / "captions.vtt").read_text(encoding="utf-8")
        assert captions.startswith("WEBVTT")
        assert "Hi Zoë!" in captions


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda s: s["formats"].append(dict(s["formats"][0])), "spec.formats[3].name"),
        (lambda s: s["formats"][1].update(width=191), "spec.formats[1].width"),
        (
            lambda s: s["scenes"][0]["layers"][0]["boxes"].update({"4:5": [0, 0, 1, 1]}),
            "spec.scenes[0].layers[0].boxes.4:5",
        ),
        (
            lambda s: s["scenes"][0]["layers"][0]["boxes"].update({"1:1": [0.5, 0, 0.6, 1]}),
            "spec.scenes[0].layers[0].boxes.1:1",
        ),
        (lambda s: s.update(formats=[]), "spec.formats"),
    ],
)
def test_formats_and_boxes_are_checked(
    api: APIClient, change: Callable[[dict[str, Any]], None], path: str
) -> None:
    import copy

    spec = copy.deepcopy(FORMATS_SPEC)
    change(spec)
    response = api.post("/api/v1/templates/", {"name": "x", "spec": spec}, format="json")
    assert response.status_code == 400
    assert path in response.json()["fields"], response.json()


STYLED_SPEC = {
    "formats": [
        {"name": "9:16", "width": 144, "height": 256, "fps": 24},
        {"name": "1:1", "width": 192, "height": 192, "fps": 24},
        {"name": "16:9", "width": 256, "height": 144, "fps": 24},
        {"name": "4:5", "width": 192, "height": 240, "fps": 24},
    ],
    "variables": {
        "first_name": {"type": "text", "required": True, "max_length": 32},
        "company": {"type": "text"},
    },
    "scenes": [
        {
            "duration": 1.0,
            "background": {"image": "brand.logo", "motion": "zoom_in"},
            "layers": [
                {
                    "type": "rectangle",
                    "box": [0.05, 0.05, 0.9, 0.2],
                    "color": "brand.secondary",
                    "radius": 0.5,
                },
                {"type": "image", "source": "brand.logo", "box": [0.3, 0.7, 0.4, 0.2]},
            ],
        },
        {
            "duration": 1.0,
            "background": {"gradient": {"from": "brand.primary", "to": "#101010", "angle": 90}},
            "transition": {"type": "slide", "duration": 0.25},
            "layers": [
                {
                    "type": "text",
                    "text": "Hi {{first_name}}!",
                    "box": [0.1, 0.3, 0.8, 0.2],
                    "style": "headline",
                    "outline": {"color": "#000000", "width": 0.004},
                    "shadow": {"color": "#000000", "offset": [0.004, 0.004]},
                    "animation": "pop",
                },
                {
                    "type": "text",
                    "text": "For {{company}}",
                    "box": [0.1, 0.55, 0.8, 0.1],
                    "style": "body",
                    "when": "company",
                    "animation": "slide_up",
                },
            ],
        },
        {
            "duration": 1.0,
            "background": {"gradient": {"from": "#F2B705", "to": "brand.primary"}},
            "layers": [
                {
                    "type": "text",
                    "text": "Book a demo",
                    "box": [0.1, 0.4, 0.8, 0.15],
                    "style": "cta",
                    "animation": "fade",
                }
            ],
        },
    ],
    "transition": {"type": "fade", "duration": 0.25},
    "audio": {"music": "brand", "volume": 0.8, "fade_in": 0.3, "fade_out": 0.5},
}


def test_styled_template_renders_every_format_and_script_signed_with_c2pa(
    api: APIClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from render.compose import provenance
    from render.compose.probe import decode_frame, probe
    from tests.compose.test_styles import write_credentials
    from tests.core.test_api_brands import png_bytes, upload, wav_bytes

    cert, key = write_credentials(tmp_path / "c2pa")
    monkeypatch.setenv(provenance.CERT_ENV, str(cert))
    monkeypatch.setenv(provenance.KEY_ENV, str(key))
    monkeypatch.delenv(provenance.SIGN_ENV, raising=False)
    provenance.c2pa_credentials.cache_clear()
    try:
        template, brand = make_template(api, STYLED_SPEC), make_brand(api)
        assert upload(api, brand, "logo", png_bytes((64, 32)), "logo.png").status_code == 201
        assert upload(api, brand, "music", wav_bytes(0.5), "music.wav").status_code == 201
        storage = get_storage()
        names = ["Zoë", "山田太郎", "محمد", "אורי"]
        for position, name in enumerate(names):
            variables = {"first_name": name, **({"company": "Acme"} if position % 2 else {})}
            render = _render(api, template, brand, variables)
            assert render.status == RenderStatus.SUCCEEDED, render.error
            assert [o["format"] for o in render.outputs] == ["9:16", "1:1", "16:9", "4:5"]
            for index, output in enumerate(render.outputs):
                video = storage.fetch(output["video_key"], tmp_path / f"{position}-{index}.mp4")
                info = probe(video)
                assert info.duration == pytest.approx(3.0, abs=1 / 24)
                assert info.has_audio
                decode_frame(video, 2.9)  # decodes to the end
                manifest, state = provenance.c2pa_read(video)
                assert state == "Valid"
                assert manifest is not None
                labels = [assertion["label"] for assertion in manifest["assertions"]]
                assert any(label.startswith("c2pa.actions") for label in labels)
    finally:
        provenance.c2pa_credentials.cache_clear()


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda s: s["scenes"][1]["layers"][0].update(style="huge"), "spec.scenes[1].layers[0].style"),
        (
            lambda s: s["scenes"][1]["layers"][0].update(animation="spin"),
            "spec.scenes[1].layers[0].animation",
        ),
        (
            lambda s: s["scenes"][1]["layers"][0]["outline"].update(width=0.5),
            "spec.scenes[1].layers[0].outline.width",
        ),
        (
            lambda s: s["scenes"][1]["layers"][0]["shadow"].update(offset=[1]),
            "spec.scenes[1].layers[0].shadow.offset",
        ),
        (
            lambda s: s["scenes"][1]["layers"][0].update(pill={"radius": 3}),
            "spec.scenes[1].layers[0].pill.radius",
        ),
        (
            lambda s: s["scenes"][1]["background"]["gradient"].update(angle=45),
            "spec.scenes[1].background.gradient.angle",
        ),
        (
            lambda s: s["scenes"][0]["background"].update(image="http://x/y.png"),
            "spec.scenes[0].background.image",
        ),
        (lambda s: s["scenes"][0]["layers"][0].update(radius=0.9), "spec.scenes[0].layers[0].radius"),
        (
            lambda s: s["scenes"][0]["layers"][1].update(source="brand.font"),
            "spec.scenes[0].layers[1].source",
        ),
        (lambda s: s["audio"].update(fade_in=-1), "spec.audio.fade_in"),
    ],
)
def test_styles_backgrounds_layers_and_fades_are_checked(
    api: APIClient, change: Callable[[dict[str, Any]], None], path: str
) -> None:
    import copy

    spec = copy.deepcopy(STYLED_SPEC)
    change(spec)
    response = api.post("/api/v1/templates/", {"name": "x", "spec": spec}, format="json")
    assert response.status_code == 400
    assert path in response.json()["fields"], response.json()


def test_brand_image_asset_is_a_background_and_an_image_layer(api: APIClient, tmp_path: Path) -> None:
    from PIL import Image

    from render.compose.probe import decode_frame

    brand = make_brand(api)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (0, 200, 0)).save(buffer, format="PNG")  # pure green: easy to find
    upload = io.BytesIO(buffer.getvalue())
    upload.name = "picture.png"
    response = api.post(
        f"/api/v1/brands/{brand}/assets/", {"kind": "image", "file": upload}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["kind"] == "image"
    spec = {
        "format": {"width": 160, "height": 288, "fps": 24},
        "variables": {"first_name": {"type": "text", "required": True}},
        "scenes": [
            {
                "duration": 1.0,
                "background": {"image": "brand.image"},
                "layers": [{"type": "text", "text": "Hi {{first_name}}", "box": [0.1, 0.8, 0.8, 0.1]}],
            },
            {
                "duration": 1.0,
                "background": {"color": "#000000"},
                "layers": [{"type": "image", "source": "brand.image", "box": [0.25, 0.25, 0.5, 0.5]}],
            },
        ],
    }
    render = _render(api, make_template(api, spec), brand, {"first_name": "Zoë"})
    render.refresh_from_db()
    assert render.status == RenderStatus.SUCCEEDED, render.error
    video = get_storage().fetch(render.video_key, tmp_path / "video.mp4")
    first, second = decode_frame(video, 0.5).convert("RGB"), decode_frame(video, 1.5).convert("RGB")
    red, green, _ = first.getpixel((80, 60))  # type: ignore[misc]  # an RGB image's pixel is a 3-tuple
    assert green > 150 > red  # the green picture covers the first scene
    assert second.getpixel((80, 144))[1] > 150  # type: ignore[index]  # inside its box in the second
    assert max(second.getpixel((10, 10))) < 40  # type: ignore[arg-type]  # the black background outside it


def test_a_template_track_plays_instead_of_the_brand_music(api: APIClient, tmp_path: Path) -> None:
    from render.compose.probe import probe
    from tests.core.test_api_brands import wav_bytes

    spec: dict[str, Any] = {
        "format": {"width": 160, "height": 288, "fps": 24},
        "variables": {"first_name": {"type": "text", "required": True}},
        "scenes": [
            {
                "duration": 1.0,
                "background": {"color": "brand.primary"},
                "layers": [{"type": "text", "text": "Hi {{first_name}}", "box": [0.1, 0.4, 0.8, 0.2]}],
            }
        ],
    }
    template = make_template(api, spec)  # v1: no music
    track = io.BytesIO(wav_bytes(seconds=2.0))
    track.name = "jingle.wav"
    upload = api.post(
        f"/api/v1/templates/{template}/assets/", {"kind": "music", "file": track}, format="multipart"
    )
    assert upload.status_code == 201, upload.json()

    wrong = {**spec, "audio": {"music": "template", "track": "00000000-0000-0000-0000-000000000000"}}
    response = api.post(f"/api/v1/templates/{template}/versions/", {"spec": wrong}, format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["spec.audio.track"]

    with_track = {**spec, "audio": {"music": "template", "track": upload.json()["id"], "volume": 0.8}}
    response = api.post(f"/api/v1/templates/{template}/versions/", {"spec": with_track}, format="json")
    assert response.status_code == 201, response.json()
    brand = make_brand(api)  # a brand without music: the sound can only come from the template
    render = _render(api, template, brand, {"first_name": "Zoë"})
    render.refresh_from_db()
    assert render.status == RenderStatus.SUCCEEDED, render.error
    assert probe(get_storage().fetch(render.video_key, tmp_path / "v2.mp4")).has_audio
    first = Render.objects.get(
        pk=request_render(api, template, brand, {"first_name": "Zoë"}, version=1).json()["id"]
    )
    assert not probe(get_storage().fetch(first.video_key, tmp_path / "v1.mp4")).has_audio  # v1 stays silent


def test_template_assets_take_only_checked_music(api: APIClient) -> None:
    template = make_template(api, SPEC)
    picture = io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    picture.name = "not-music.png"
    response = api.post(
        f"/api/v1/templates/{template}/assets/", {"kind": "music", "file": picture}, format="multipart"
    )
    assert response.status_code == 400
    assert "file" in response.json()["fields"]
    response = api.post(
        f"/api/v1/templates/{template}/assets/", {"kind": "logo", "file": picture}, format="multipart"
    )
    assert response.status_code == 400
    assert "kind" in response.json()["fields"]
