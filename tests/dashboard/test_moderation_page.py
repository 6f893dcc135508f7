"""The moderation page: owners change the workspace's lists (the same service as the API), editors read
them, viewers are refused; a bad line is named by its line number."""

from __future__ import annotations

import pytest
from django.test import Client

from core.models import Workspace
from templates.selectors import moderation_lists_get
from templates.services import moderation_lists_replace

pytestmark = pytest.mark.django_db


def test_an_owner_saves_the_lists_one_per_line(owner: Client, workspace: Workspace) -> None:
    page = owner.get("/moderation/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="en" id="id_languages_4" checked>' in html  # English by default, the others not
    assert 'value="de" id="id_languages_3">' in html
    saved = owner.post(
        "/moderation/",
        {"languages": ["en", "de"], "block": "Voldemort\n\n  Lord Voldemort\n", "allow": "sex education"},
    )
    assert saved.status_code == 302
    lists = moderation_lists_get(workspace=workspace)
    assert (lists.languages, lists.block, lists.allow) == (
        ["en", "de"],
        ["Voldemort", "Lord Voldemort"],
        ["sex education"],
    )
    assert "Lord Voldemort" in owner.get("/moderation/").content.decode()


def test_a_bad_line_is_named_and_nothing_is_saved(owner: Client, workspace: Workspace) -> None:
    refused = owner.post(
        "/moderation/", {"languages": ["en"], "block": "gizmo\n" + "x" * 101, "allow": "gizmo"}
    )
    assert refused.status_code == 400
    text = refused.content.decode()
    assert "Line 2: Must be 1 to 100 characters" in text
    assert "Line 1: Also on the block list" in text
    assert moderation_lists_get(workspace=workspace).updated_at is None


def test_editors_read_the_lists_and_viewers_are_refused(
    editor: Client, viewer: Client, workspace: Workspace
) -> None:
    moderation_lists_replace(workspace=workspace, languages=["en"], block=["Voldemort"], allow=[])
    page = editor.get("/moderation/")
    assert page.status_code == 200
    assert "Voldemort" in page.content.decode()
    assert "Only an owner changes these lists." in page.content.decode()
    assert editor.post("/moderation/", {"languages": ["en"], "block": "", "allow": ""}).status_code == 403
    assert moderation_lists_get(workspace=workspace).block == ["Voldemort"]
    assert viewer.get("/moderation/").status_code == 403
