"""What a render costs never depends on another workspace's activity (docs/reliability.md R20): a picture
another workspace already made costs this one as if generated, while the GPU work is still done once."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from render.models import Generation, Render, RenderGeneration
from render.pricing import render_cost_actual
from render.selectors import render_generations
from render.services import render_plan
from tests.render.test_api_renders import make_brand, make_template, request_render

pytestmark = pytest.mark.django_db


def _planned_cost(api: APIClient, template: str, brand: str, name: str) -> int:
    """Request and plan one render (small_spec: 2 s and one generated picture: 2 + 1 credits if generated)."""
    response = request_render(api, template, brand, {"first_name": name})
    assert response.status_code == 202, response.json()
    render = Render.objects.select_related("template_version").get(pk=response.json()["id"])
    render_plan(render_id=render.pk)
    return render_cost_actual(render_id=render.pk, spec=render.template_version.spec)


def test_another_workspaces_picture_costs_as_if_generated(api: APIClient, other_api: APIClient) -> None:
    theirs = (make_template(other_api), make_brand(other_api))
    ours = (make_template(api), make_brand(api))
    # Their render made the picture ("a sunlit retail storefront", seed 7)...
    assert _planned_cost(other_api, *theirs, "Ada") == 3
    # ...and ours, asking for the very same picture, costs what it would have cost had it been generated:
    # a guessed prompt charged 1 credit less once told us that someone else had generated it.
    assert _planned_cost(api, *ours, "Bo") == 3
    # Our own reuse is free, as before, and so is theirs.
    assert _planned_cost(api, *ours, "Cy") == 2
    assert _planned_cost(other_api, *theirs, "Di") == 2
    # The GPU work is still shared: one picture for all four renders.
    assert Generation.objects.count() == 1
    assert RenderGeneration.objects.filter(cache_hit=False).count() == 1


def test_the_render_page_says_reused_only_for_our_own_earlier_renders(
    api: APIClient, other_api: APIClient
) -> None:
    _planned_cost(other_api, make_template(other_api), make_brand(other_api), "Ada")
    template, brand = make_template(api), make_brand(api)
    _planned_cost(api, template, brand, "Bo")
    _planned_cost(api, template, brand, "Cy")
    first, second = Render.objects.filter(workspace=api.workspace).order_by("created_at")  # type: ignore[attr-defined]
    reused = [[link.reused for link in render_generations(render=r)] for r in (first, second)]  # type: ignore[attr-defined]  # annotated by the selector
    assert reused == [[False], [True]]
