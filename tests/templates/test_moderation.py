"""Moderation of a template's texts: the word matching itself (no Django), the template saved or refused
through the API with the path and rule named, the workspace's own lists and who may change them, an
operator's moderator plugged in by REELSMITH_MODERATOR, and a version's authors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from core.models import AuditEntry, Membership, Workspace
from templates import moderation
from templates.moderator import (
    Flag,
    ModerationPolicy,
    ModerationText,
    WordListModerator,
)
from templates.services import IN_BOTH
from tests.factories import small_spec

EN = "blocked_word: built-in list (en)"
WORKSPACE = "blocked_word: workspace block list"


def rules(text: str, policy: ModerationPolicy | None = None) -> list[str]:
    [flags] = WordListModerator().check([ModerationText("p", text, "text")], policy or ModerationPolicy())
    return list(dict.fromkeys(flag.rule for flag in flags))


# --- The matching, without Django -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Welcome to Scunthorpe",  # a place name with a word inside it: whole words only
        "Class analysis for your assistant",
        "Cocktails at Essex",
        "Hi Ana! Top 5 tips for 2024",
        "I am here, it is fine",  # `am`, `it`: Turkish list words, not applied unless asked for
    ],
)
def test_clean_text_passes(text: str) -> None:
    assert rules(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "what the shit",
        "SHIT!",  # case, and punctuation after the word
        "sh1t happens",  # look-alike digits
        "a$$hole",  # look-alike symbols
        "b!tch",  # `!` inside a word reads as i
        "\uff53\uff48\uff49\uff54",  # full-width letters (NFKC)
        "s\u200bhit",  # a zero-width space inside the word
        "shít",  # an accent on a Latin letter
    ],
)
def test_normalised_words_are_caught_and_the_rule_names_the_list(text: str) -> None:
    assert rules(text) == [EN]


def test_languages_apply_only_when_chosen() -> None:
    assert rules("I am here", ModerationPolicy(languages=("tr",))) == ["blocked_word: built-in list (tr)"]
    assert rules("Scheiße", ModerationPolicy(languages=("de",))) != []
    assert rules("shit", ModerationPolicy(languages=())) == []


def test_unspaced_scripts_match_inside_words() -> None:
    policy = ModerationPolicy(languages=("zh",))
    assert rules("你他妈的", policy) == ["blocked_word: built-in list (zh)"]
    assert rules("欢迎光临", policy) == []


def test_the_allow_list_covers_built_in_words_where_the_allowed_phrase_occurs() -> None:
    policy = ModerationPolicy(allow=("sex education",))
    assert rules("Book a sex education class", policy) == []
    assert rules("sex education, and sex", policy) == [EN]  # the second one is not covered


def test_the_block_list_adds_and_the_allow_list_never_covers_it() -> None:
    assert rules("Meet Voldemort today", ModerationPolicy(block=("voldemort",))) == [WORKSPACE]
    assert rules("Meet Lord  VOLDEMORT", ModerationPolicy(block=("lord voldemort",))) == [WORKSPACE]
    assert rules("Voldemortshire", ModerationPolicy(block=("voldemort",))) == []  # whole words
    both = ModerationPolicy(block=("gizmo",), allow=("gizmo",))
    assert rules("a gizmo", both) == [WORKSPACE]


def test_one_verdict_per_text_in_order() -> None:
    texts = [ModerationText(str(i), t, "text") for i, t in enumerate(["fine", "shit", "", "fine shit"])]
    verdicts = WordListModerator().check(texts, ModerationPolicy())
    assert [[f.rule for f in flags] for flags in verdicts] == [[], [EN], [], [EN]]


# --- Templates through the API ---------------------------------------------------------------------------


def _create(api: APIClient, spec: dict[str, Any], **extra: Any) -> Any:
    return api.post("/api/v1/templates/", {"name": "T", "spec": spec, **extra}, format="json")


def _refused(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 400, response.json()
    assert response.json()["message"] == moderation.MODERATION_REFUSED
    fields: dict[str, list[str]] = response.json()["fields"]
    return fields


def _replace_lists(api: APIClient, **lists: Any) -> Any:
    return api.put("/api/v1/moderation/", lists, format="json")


@pytest.mark.django_db
def test_fixed_texts_are_checked_when_a_template_is_saved(api: APIClient) -> None:
    spec = small_spec()
    spec["scenes"][1]["layers"][1]["text"] = "{{company}}, this shit works."
    fields = _refused(_create(api, spec))
    assert fields == {"spec.scenes[1].layers[1].text": [f"Refused by moderation ({EN})."]}
    assert "shit" not in str(fields)  # neither the list nor the word found is echoed

    spec = small_spec()
    spec["scenes"][0]["background"]["generate"]["prompt"] = "a sunlit {{industry}} storefront, porn"
    assert list(_refused(_create(api, spec))) == ["spec.scenes[0].background.generate.prompt"]

    spec = small_spec()
    spec["variables"]["company"]["default"] = "you bastards"  # a plural of a listed word
    assert list(_refused(_create(api, spec))) == ["spec.variables.company.default"]

    spec = small_spec()
    spec["cta"] = {"label": "Book this shit", "url": "https://example.com/book"}  # the watch page's button
    assert list(_refused(_create(api, spec))) == ["spec.cta.label"]


@pytest.mark.django_db
def test_merge_fields_and_negative_prompts_are_not_fixed_words(api: APIClient) -> None:
    spec = small_spec()
    spec["variables"]["shit"] = {"type": "text"}  # a variable's name is never drawn
    spec["scenes"][1]["layers"][1]["text"] = "{{company}} {{shit}}"
    spec["scenes"][0]["background"]["generate"]["negative_prompt"] = "nudity, porn, gore"
    assert _create(api, spec).status_code == 201


@pytest.mark.django_db
def test_a_workspace_list_applies_to_new_versions(api: APIClient) -> None:
    template = _create(api, small_spec()).json()["id"]
    assert _replace_lists(api, block=["storefront"]).status_code == 200
    response = api.post(f"/api/v1/templates/{template}/versions/", {"spec": small_spec()}, format="json")
    assert _refused(response) == {
        "spec.scenes[0].background.generate.prompt": [f"Refused by moderation ({WORKSPACE})."]
    }
    spec = small_spec()
    spec["scenes"][1]["layers"][1]["text"] = "{{company}}, shit happens."
    assert _replace_lists(api, allow=["shit"]).status_code == 200  # and the block list is now empty
    assert (
        api.post(f"/api/v1/templates/{template}/versions/", {"spec": spec}, format="json").status_code == 201
    )


# --- The workspace's lists -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_lists_are_read_and_replaced_whole(api: APIClient) -> None:
    initial = api.get("/api/v1/moderation/").json()
    assert (initial["languages"], initial["block"], initial["allow"]) == (["en"], [], [])
    assert initial["updated_at"] is None
    assert {"en", "de", "zh", "tr"} <= set(initial["available_languages"])

    saved = _replace_lists(
        api, languages=["en", "de"], block=["Gizmo", " gizmo ", "Lord Voldemort"], allow=["sex education"]
    )
    assert saved.status_code == 200, saved.json()
    # Repeats (the same once normalised) are kept once, as first typed; entries are trimmed.
    assert saved.json()["block"] == ["Gizmo", "Lord Voldemort"]
    assert api.get("/api/v1/moderation/").json()["languages"] == ["en", "de"]
    assert _replace_lists(api).json()["block"] == []  # PUT replaces everything: omitted means default
    # Each change is in the workspace's audit log, with what changed.
    entries = AuditEntry.objects.filter(action="moderation.lists_replaced").order_by("seq")
    assert [(e.after or {}).get("block") for e in entries] == [["Gizmo", "Lord Voldemort"], []]
    assert entries[0].before == {"languages": ["en"], "block": [], "allow": []}


@pytest.mark.django_db
def test_bad_lists_are_refused_naming_the_entry(api: APIClient) -> None:
    bad = _replace_lists(api, languages=["en", "xx"], block=["ok", "   ", "x" * 101, "a\u202eb"], allow=[])
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"languages", "block[1]", "block[2]", "block[3]"}
    both = _replace_lists(api, block=["gizmo"], allow=["fine", "GIZMO"])
    assert both.json()["fields"] == {"allow[1]": [IN_BOTH]}
    wrong_type = _replace_lists(api, block="gizmo")
    assert wrong_type.status_code == 400
    assert "block" in wrong_type.json()["fields"]
    assert _replace_lists(api, block=[f"w{i}" for i in range(1001)]).status_code == 400
    assert api.get("/api/v1/moderation/").json()["block"] == []  # nothing half-saved


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "read", "write"), [("viewer", 403, 403), ("editor", 200, 403), ("owner", 200, 200)]
)
def test_editors_read_the_lists_and_owners_change_them(
    workspace: Workspace, django_user_model: Any, role: str, read: int, write: int
) -> None:
    user = django_user_model.objects.create_user(username=f"u-{role}", password="pw")
    Membership.objects.create(workspace=workspace, user=user, role=role)
    client = APIClient()
    client.force_login(user)
    assert client.get("/api/v1/moderation/").status_code == read
    assert client.put("/api/v1/moderation/", {"block": ["x"]}, format="json").status_code == write


@pytest.mark.django_db
def test_a_workspace_lists_are_its_own(api: APIClient, other_api: APIClient) -> None:
    assert _replace_lists(api, block=["storefront"]).status_code == 200
    assert other_api.get("/api/v1/moderation/").json()["block"] == []
    assert _create(other_api, small_spec()).status_code == 201
    assert _create(api, small_spec()).status_code == 400


# --- An operator's moderator -------------------------------------------------------------------------------


class PromptClassifier:
    """Stands in for an operator's classifier: refuses prompts that mention a storefront."""

    def check(self, texts: Sequence[ModerationText], policy: ModerationPolicy) -> list[list[Flag]]:
        return [
            [Flag("classifier: commercial premises")] if t.kind == "prompt" and "storefront" in t.text else []
            for t in texts
        ]


@pytest.fixture
def plugged(settings: Any) -> Any:
    moderation.moderator.cache_clear()
    yield settings
    moderation.moderator.cache_clear()


@pytest.mark.django_db
def test_an_operator_plugs_in_a_moderator(api: APIClient, plugged: Any) -> None:
    plugged.REELSMITH_MODERATOR = "tests.templates.test_moderation.PromptClassifier"
    fields = _refused(_create(api, small_spec()))
    assert fields == {
        "spec.scenes[0].background.generate.prompt": [
            "Refused by moderation (classifier: commercial premises)."
        ]
    }


def test_a_moderator_that_cannot_be_loaded_names_the_setting(plugged: Any) -> None:
    plugged.REELSMITH_MODERATOR = "tests.templates.test_moderation.NoSuchThing"
    with pytest.raises(ImproperlyConfigured, match="REELSMITH_MODERATOR"):
        moderation.moderator()


# --- Authors ---------------------------------------------------------------------------------------------


AUTHORS = [{"name": "Ana Ruiz", "role": "designer"}, {"name": "Kenji Sato", "role": "copywriter"}]


@pytest.mark.django_db
def test_a_version_records_its_authors(api: APIClient) -> None:
    created = _create(api, small_spec(), authors=AUTHORS)
    assert created.status_code == 201, created.json()
    template = created.json()["id"]
    assert created.json()["authors"] == AUTHORS
    second = api.post(
        f"/api/v1/templates/{template}/versions/",
        {"spec": small_spec(), "authors": [{"name": " Ana Ruiz ", "role": "designer"}]},
        format="json",
    )
    assert second.status_code == 201, second.json()
    assert second.json()["authors"] == [{"name": "Ana Ruiz", "role": "designer"}]
    assert api.get(f"/api/v1/templates/{template}/").json()["authors"] == second.json()["authors"]
    assert api.get(f"/api/v1/templates/{template}/versions/1/").json()["authors"] == AUTHORS
    third = api.post(f"/api/v1/templates/{template}/versions/", {"spec": small_spec()}, format="json")
    assert third.json()["authors"] == []  # credits belong to a version: none given, none recorded


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("authors", "field"),
    [
        ([{"name": "", "role": "designer"}], "authors[0].name"),
        ([{"name": "Ana", "role": "designer", "email": "a@b.c"}], "authors[0].email"),
        ([{"name": "Ana", "role": "x" * 51}], "authors[0].role"),
        ([{"name": "Ana\u202e", "role": "designer"}], "authors[0].name"),
        ([{"name": "Ana", "role": "designer"}] * 21, "authors"),
        ("Ana Ruiz", "authors"),
    ],
)
def test_bad_authors_are_refused_naming_the_field(api: APIClient, authors: Any, field: str) -> None:
    response = _create(api, small_spec(), authors=authors)
    assert response.status_code == 400
    assert field in response.json()["fields"], response.json()
