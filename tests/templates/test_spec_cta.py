"""The template spec's `cta` (the watch page's button): label and URL with merge fields, the URL http(s) with
its host written out, every error naming its path."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from adspec.limits import MAX_CTA_LABEL, MAX_URL
from templates.spec_checks import HTTP_URL_TEMPLATE, REQUIRED, UNDECLARED, UNKNOWN_KEY
from tests.factories import small_spec

pytestmark = pytest.mark.django_db

URL_MESSAGE = HTTP_URL_TEMPLATE.format(limit=MAX_URL)


def create(api: APIClient, cta: Any) -> Any:
    return api.post("/api/v1/templates/", {"name": "CTA", "spec": small_spec(cta=cta)}, format="json")


def test_a_cta_with_merge_fields_after_the_host_is_kept(api: APIClient) -> None:
    cta = {"label": "Book {{first_name}}'s demo", "url": "https://cal.example.com/team/{{company}}?src=video"}
    answer = create(api, cta)
    assert answer.status_code == 201, answer.json()
    assert answer.json()["spec"]["cta"] == cta
    assert create(api, {"label": "Visit", "url": "http://example.com"}).status_code == 201


@pytest.mark.parametrize(
    ("cta", "fields"),
    [
        ({"label": "Go", "url": "javascript:alert(1)"}, {"spec.cta.url": [URL_MESSAGE]}),
        ({"label": "Go", "url": "ftp://example.com/file"}, {"spec.cta.url": [URL_MESSAGE]}),
        ({"label": "Go", "url": "{{company}}"}, {"spec.cta.url": [URL_MESSAGE]}),
        ({"label": "Go", "url": "https://{{company}}.example.com/"}, {"spec.cta.url": [URL_MESSAGE]}),
        ({"label": "Go", "url": "https:///path-without-host"}, {"spec.cta.url": [URL_MESSAGE]}),
        ({"label": "Go", "url": "https://example.com/a b"}, {"spec.cta.url": [URL_MESSAGE]}),
        ({"label": "Go", "url": "https://example.com/" + "a" * MAX_URL}, {"spec.cta.url": [URL_MESSAGE]}),
        ({"label": "Go", "url": 7}, {"spec.cta.url": [URL_MESSAGE]}),
        (
            {"label": "", "url": "https://example.com"},
            {"spec.cta.label": [f"Must be a non-empty string of at most {MAX_CTA_LABEL} characters."]},
        ),
        (
            {"label": "x" * (MAX_CTA_LABEL + 1), "url": "https://example.com"},
            {"spec.cta.label": [f"Must be a non-empty string of at most {MAX_CTA_LABEL} characters."]},
        ),
        ({"url": "https://example.com"}, {"spec.cta.label": [REQUIRED]}),
        ({"label": "Go"}, {"spec.cta.url": [REQUIRED]}),
        ({"label": "Go", "url": "https://example.com", "color": "red"}, {"spec.cta.color": [UNKNOWN_KEY]}),
        ("https://example.com", {"spec.cta": ["Must be an object."]}),
        (
            {"label": "Hi {{nick}}", "url": "https://example.com/{{team}}"},
            {
                "spec.cta.label": [UNDECLARED.format(name="nick")],
                "spec.cta.url": [UNDECLARED.format(name="team")],
            },
        ),
    ],
)
def test_a_bad_cta_names_its_path(api: APIClient, cta: Any, fields: dict[str, list[str]]) -> None:
    answer = create(api, cta)
    assert answer.status_code == 400
    assert answer.json()["fields"] == fields
