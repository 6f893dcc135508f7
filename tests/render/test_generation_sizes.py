"""Generated backgrounds are made at the model's native bucket for the render's formats (issue #4, registry
"native resolution buckets"): a portrait template gets a portrait picture instead of a square one whose
sides the compositor would crop away."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from render.engine.registry import model_spec
from render.models import Generation
from render.planning import generation_specs
from tests.e2e.test_renders import wait_final
from tests.factories import small_spec
from tests.render.test_api_renders import make_brand, make_template, request_render


def _formats(*sizes: tuple[int, int]) -> list[dict[str, Any]]:
    return [{"name": f"f{i}", "width": w, "height": h} for i, (w, h) in enumerate(sizes)]


@pytest.mark.parametrize(
    ("changes", "size"),
    [
        ({}, (48, 80)),  # 180x320, 9:16: tiny-sd's portrait bucket
        ({"format": {"width": 320, "height": 180, "fps": 10}}, (80, 48)),
        ({"format": {"width": 240, "height": 240, "fps": 10}}, (64, 64)),
        ({"formats": _formats((180, 320), (320, 180))}, (64, 64)),  # portrait and landscape: square
        ({"formats": _formats((180, 320), (240, 240))}, (56, 72)),  # 9:16 and 1:1: in between
    ],
)
def test_the_picture_size_follows_the_formats(changes: dict[str, Any], size: tuple[int, int]) -> None:
    spec = small_spec(**changes)
    if "formats" in changes:
        spec.pop("format")
    [picture, _none] = generation_specs(spec, {"first_name": "Zoë"}, "tiny-sd")
    assert picture is not None
    assert (picture.width, picture.height) == size
    assert size in model_spec("tiny-sd").buckets


@pytest.mark.django_db(transaction=True)
def test_a_portrait_render_generates_a_portrait_picture(api: APIClient, run_tasks_inline: Any) -> None:
    template, brand = make_template(api), make_brand(api)
    response = request_render(api, template, brand, {"first_name": "Zoë"})
    assert response.status_code == 202, response.json()
    assert wait_final(api, response.json()["id"])["status"] == "succeeded"
    generation = Generation.objects.get()
    assert (generation.width, generation.height) == (48, 80)
