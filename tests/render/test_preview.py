"""A template's preview: a PNG still of every scene in every format, from the compositor, in seconds, free;
cached generated backgrounds used, missing ones noted, never generated (docs/api.md)."""

from __future__ import annotations

import io
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from PIL import Image
from rest_framework.test import APIClient

from core.billing.models import CreditEntry
from render.models import Generation, Render
from render.services.preview import NOT_GENERATED
from tests.conftest import SERVICES
from tests.factories import small_spec
from tests.render.test_api_renders import make_brand, make_template

pytestmark = pytest.mark.django_db


def _png(url: str) -> Image.Image:
    """The still behind a preview URL: a presigned S3 URL on the loopback SeaweedFS in service mode, a signed
    /media/ URL served from MEDIA_ROOT in embedded mode."""
    if SERVICES:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback test server)
            return Image.open(io.BytesIO(response.read()))
    path = Path(settings.MEDIA_ROOT) / urlsplit(url).path.removeprefix("/media/")
    return Image.open(io.BytesIO(path.read_bytes()))


def _rgb(url: str) -> tuple[int, int, int]:
    pixel: Any = _png(url).convert("RGB").getpixel((3, 3))
    return int(pixel[0]), int(pixel[1]), int(pixel[2])


def _two_formats() -> dict[str, Any]:
    spec = small_spec()
    spec.pop("format")
    spec["formats"] = [
        {"name": "9:16", "width": 180, "height": 320, "fps": 10},
        {"name": "1:1", "width": 240, "height": 240, "fps": 10},
    ]
    return spec


def test_every_scene_and_format_is_a_still_and_nothing_is_generated_or_charged(api: APIClient) -> None:
    template = make_template(api, _two_formats())
    make_brand(api)
    started = time.monotonic()
    response = api.post(
        f"/api/v1/templates/{template}/preview/", {"values": {"first_name": "Zoë"}}, format="json"
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["version"] == 1
    assert body["values"] == {"first_name": "Zoë", "company": "your team", "industry": "retail"}
    stills = [(s["format"], s["scene"], s["width"], s["height"], s["note"]) for s in body["stills"]]
    assert stills == [
        ("9:16", 0, 180, 320, NOT_GENERATED),
        ("9:16", 1, 180, 320, ""),
        ("1:1", 0, 240, 240, NOT_GENERATED),
        ("1:1", 1, 240, 240, ""),
    ]
    for still in body["stills"]:
        image = _png(still["url"])
        assert (image.format, image.size) == ("PNG", (still["width"], still["height"]))
    # Scene 0 waits for its generated picture: the brand's primary colour (#1F3A93) stands in.
    red, green, blue = _rgb(body["stills"][0]["url"])
    assert max(abs(red - 0x1F), abs(green - 0x3A), abs(blue - 0x93)) < 8
    assert not Generation.objects.exists()
    assert not Render.objects.exists()
    assert not CreditEntry.objects.filter(delta__lt=0).exists()
    assert elapsed < 20
    again = api.post(
        f"/api/v1/templates/{template}/preview/", {"values": {"first_name": "Zoë"}}, format="json"
    )
    assert [s["url"] for s in again.json()["stills"]] == [s["url"] for s in body["stills"]]


def test_missing_required_values_show_their_name_and_bad_input_names_its_field(api: APIClient) -> None:
    template = make_template(api)
    path = f"/api/v1/templates/{template}/preview/"
    no_brand = api.post(path, {}, format="json")
    assert no_brand.status_code == 400
    assert list(no_brand.json()["fields"]) == ["brand"]
    make_brand(api)
    sampled = api.post(path, {"format": "180x320"}, format="json").json()
    assert sampled["values"]["first_name"] == "First Name"
    too_long = api.post(path, {"values": {"first_name": "x" * 40}}, format="json")
    assert too_long.status_code == 400
    assert list(too_long.json()["fields"]) == ["values.first_name"]
    unknown = api.post(path, {"values": {"shoe": "42"}}, format="json")
    assert list(unknown.json()["fields"]) == ["values.shoe"]
    bad_format = api.post(path, {"format": "4:3"}, format="json")
    assert bad_format.status_code == 400
    assert list(bad_format.json()["fields"]) == ["format"]
    assert api.post(path, {"version": 9}, format="json").json()["fields"] == {
        "version": ["This template has no version 9."]
    }


def test_a_cached_generated_picture_is_used(api: APIClient, tmp_path: Path) -> None:
    from core.storage import get_storage
    from render.planning import generation_specs
    from render.services.plan import default_model

    template = make_template(api)
    make_brand(api)
    values = {"first_name": "Ann", "company": "your team", "industry": "retail"}
    spec = generation_specs(small_spec(), values, default_model())[0]
    assert spec is not None
    picture = tmp_path / "red.png"
    Image.new("RGB", (spec.width, spec.height), (220, 20, 20)).save(picture)
    get_storage().put_file(f"generations/{spec.key}.png", picture, content_type="image/png")
    Generation.objects.create(
        key=spec.key,
        model=spec.model,
        prompt=spec.prompt,
        seed=spec.seed,
        width=spec.width,
        height=spec.height,
        steps=spec.steps,
        guidance=spec.guidance,
        shape_key=spec.shape_key,
        status="succeeded",
        output_key=f"generations/{spec.key}.png",
    )
    body = api.post(
        f"/api/v1/templates/{template}/preview/", {"values": {"first_name": "Ann"}}, format="json"
    ).json()
    first = body["stills"][0]
    assert first["note"] == ""
    red, green, blue = _rgb(first["url"])
    assert red > 150
    assert max(green, blue) < 80
