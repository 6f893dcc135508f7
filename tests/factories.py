"""factory_boy factories and small builders shared by the tests."""

from __future__ import annotations

import copy
from typing import Any

import factory

from core.models import Brand, Workspace
from core.services import api_key_create

# A small, fast template: 2 scenes of 1 s at 180x320, 10 fps (frames stay cheap on 2 cores).
SMALL_SPEC: dict[str, Any] = {
    "format": {"width": 180, "height": 320, "fps": 10},
    "variables": {
        "first_name": {"type": "text", "required": True, "max_length": 32},
        "company": {"type": "text", "default": "your team"},
        "industry": {"type": "text", "default": "retail"},
    },
    "scenes": [
        {
            "duration": 1.0,
            "background": {
                "generate": {"prompt": "a sunlit {{industry}} storefront, cinematic", "seed": 7},
                "motion": "zoom_in",
            },
            "layers": [
                {
                    "type": "text",
                    "text": "Hi {{first_name}}!",
                    "box": [0.08, 0.30, 0.84, 0.20],
                    "color": "brand.text",
                }
            ],
        },
        {
            "duration": 1.0,
            "background": {"color": "brand.primary"},
            "layers": [
                {"type": "logo", "box": [0.30, 0.15, 0.40, 0.20]},
                {
                    "type": "text",
                    "text": "{{company}}, let's talk.",
                    "box": [0.08, 0.55, 0.84, 0.15],
                    "color": "#FFFFFF",
                },
            ],
        },
    ],
    "transition": {"type": "fade", "duration": 0.2},
}


def small_spec(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(SMALL_SPEC)
    spec.update(changes)
    return spec


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"workspace-{n}")


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Brand {n}")
    color_primary = "#1F3A93"
    color_secondary = "#FF7A00"
    color_text = "#FFFFFF"


def api_key_for(workspace: Workspace) -> str:
    _key, raw = api_key_create(workspace=workspace, name="test")
    return raw
