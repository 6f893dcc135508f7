"""Moderation when a render is requested, through the API: a value or a prompt on a list is a 400 that names
where it came from and the rule, before any render is made or credit reserved; the allow list lets the same
word through (202)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from render.models import Render
from templates.moderation import MODERATION_REFUSED
from tests.render.test_api_renders import make_brand, make_template, request_render

pytestmark = pytest.mark.django_db

EN = "Refused by moderation (blocked_word: built-in list (en))."
WORKSPACE = "Refused by moderation (blocked_word: workspace block list)."


def _lists(api: APIClient, **lists: Any) -> None:
    response = api.put("/api/v1/moderation/", lists, format="json")
    assert response.status_code == 200, response.json()


def _refused(response: Any, *, renders: int = 0) -> dict[str, list[str]]:
    """The refusal's fields; `renders`: how many renders the test made before (the refused one adds none,
    so no credit was reserved for it)."""
    assert response.status_code == 400, response.json()
    assert response.json()["message"] == MODERATION_REFUSED
    assert Render.objects.count() == renders
    fields: dict[str, list[str]] = response.json()["fields"]
    return fields


def test_a_built_in_word_in_a_value_names_the_variable(api: APIClient) -> None:
    template, brand = make_template(api), make_brand(api)
    fields = _refused(request_render(api, template, brand, {"first_name": "Sh1thead"}))
    # Named once, where it came from: not again at the text that shows it ("Hi {{first_name}}!").
    assert fields == {"variables.first_name": [EN]}
    assert "hit" not in str(fields).lower()  # the word itself is not echoed


def test_a_name_on_the_block_list_is_refused_and_the_allow_list_passes_a_built_in_word(
    api: APIClient,
) -> None:
    template, brand = make_template(api), make_brand(api)
    _lists(api, block=["Voldemort"])
    assert _refused(request_render(api, template, brand, {"first_name": "voldemort"})) == {
        "variables.first_name": [WORKSPACE]
    }
    assert request_render(api, template, brand, {"first_name": "Harry"}).status_code == 202

    assert _refused(request_render(api, template, brand, {"first_name": "Dick"}), renders=1) == {
        "variables.first_name": [EN]
    }
    _lists(api, allow=["Dick"])
    accepted = request_render(api, template, brand, {"first_name": "Dick"})
    assert accepted.status_code == 202, accepted.json()


def test_a_prompt_is_checked_after_its_merge_fields_are_filled(api: APIClient) -> None:
    template, brand = make_template(api), make_brand(api)  # prompt: "a sunlit {{industry}} storefront, ..."
    _lists(api, block=["gizmo storefront"])
    # Neither word is blocked alone: only the merged prompt says "gizmo storefront" (a value and the words
    # around it), so the prompt is named.
    fields = _refused(request_render(api, template, brand, {"first_name": "Zoë", "industry": "gizmo"}))
    assert "variables.industry" not in fields
    assert fields == {"spec.scenes[0].background.generate.prompt": [WORKSPACE]}
    # A word blocked after the template was saved: its own prompt is refused at render time.
    _lists(api, block=["storefront"])
    assert _refused(request_render(api, template, brand, {"first_name": "Zoë"})) == {
        "spec.scenes[0].background.generate.prompt": [WORKSPACE]
    }
    _lists(api)
    assert request_render(api, template, brand, {"first_name": "Zoë", "industry": "gizmo"}).status_code == 202


def test_a_replayed_request_is_not_checked_again(api: APIClient) -> None:
    """An Idempotency-Key replay answers with the render it made, whatever the lists say now."""
    template, brand = make_template(api), make_brand(api)
    first = request_render(api, template, brand, {"first_name": "Harry"}, idempotency_key="k1")
    assert first.status_code == 202
    _lists(api, block=["harry"])
    again = request_render(api, template, brand, {"first_name": "Harry"}, idempotency_key="k1")
    assert again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert request_render(api, template, brand, {"first_name": "Harry"}).status_code == 400
