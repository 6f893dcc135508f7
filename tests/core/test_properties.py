"""Property-based tests over the public inputs (docs/reliability.md R17): whatever a client sends in a render
request, a recipients upload (JSON or CSV) or a template spec, the answer is never a 5xx, and every 4xx is in
the one error shape. Hypothesis generates the input; the number of examples is bounded so each test takes
seconds (`REELSMITH_HYPOTHESIS_EXAMPLES` raises it for a longer hunt)."""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.campaigns.helpers import make_campaign
from tests.factories import small_spec
from tests.render.test_api_renders import make_brand, make_template

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("REELSMITH_HYPOTHESIS_EXAMPLES", "60"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # The API client and the workspace are made once per test; every example is one more request to it.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text as clients send it, plus what once answered 500: NUL, lone surrogates, bidi overrides, long runs.
NASTY = st.sampled_from(["\x00", "\ud800", "\udfff", "\u202e", "\u2066", "\ufeff", "{{first_name}}", "'\"\\"])
TEXT = st.one_of(st.text(max_size=50), NASTY, st.text(min_size=200, max_size=400))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)


def _answered(response: Any) -> None:
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body["message"], str)
        assert set(body) <= {"message", "fields"}


def _post_json(api: APIClient, path: str, body: Any) -> Any:
    # ensure_ascii: lone surrogates travel as \\ud800 escapes, as a hostile client would send them.
    return api.generic("POST", path, json.dumps(body, ensure_ascii=True), content_type="application/json")


def test_render_requests(api: APIClient) -> None:
    template, brand = make_template(api), make_brand(api)

    @SETTINGS
    @given(
        variables=st.one_of(JSON, st.dictionaries(st.sampled_from(["first_name", "company", "x"]), JSON)),
        extra=st.dictionaries(
            st.sampled_from(["callback_url", "external_id", "version", "calback_url", "brand"]),
            JSON,
            max_size=2,
        ),
    )
    def check(variables: Any, extra: dict[str, Any]) -> None:
        _answered(
            _post_json(
                api,
                "/api/v1/renders/",
                {"template": template, "brand": brand, "variables": variables, **extra},
            )
        )

    check()


def test_template_specs(api: APIClient) -> None:
    @SETTINGS
    @given(path=st.lists(st.sampled_from(["scenes", 0, 1, "layers", "background", "generate", "text",
                                          "prompt", "seed", "duration", "box", "format", "width", "variables",
                                          "first_name", "max_length", "transition"]), min_size=1, max_size=5),
           value=JSON)  # fmt: skip
    def check(path: list[Any], value: Any) -> None:
        spec: Any = copy.deepcopy(small_spec())
        node = spec
        for step in path[:-1]:
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError):
                break
        try:
            node[path[-1]] = value
        except (IndexError, TypeError):
            spec = value
        _answered(_post_json(api, "/api/v1/templates/", {"name": "Fuzz", "spec": spec}))

    check()


def test_recipients_json(api: APIClient) -> None:
    campaign = make_campaign(api)

    @SETTINGS
    @given(
        recipients=st.one_of(
            JSON,
            st.lists(
                st.dictionaries(
                    st.sampled_from(["first_name", "company", "external_id", "email", "variables", "zz"]),
                    JSON,
                ),
                max_size=5,
            ),
        )
    )
    def check(recipients: Any) -> None:
        _answered(
            _post_json(api, f"/api/v1/campaigns/{campaign['id']}/recipients/", {"recipients": recipients})
        )

    check()


def test_recipients_csv(api: APIClient) -> None:
    campaign = make_campaign(api)
    cell = st.one_of(TEXT, st.sampled_from(['"', '"open', 'a"b', "\r", "\n", ";", ","]))

    @SETTINGS
    @given(
        header=st.sampled_from([b"first_name,company,external_id,email\n", b"first_name;company\n", b""]),
        rows=st.lists(st.lists(cell, max_size=5), max_size=6),
        raw=st.binary(max_size=64),
    )
    def check(header: bytes, rows: list[list[str]], raw: bytes) -> None:
        text = "\n".join(",".join(row) for row in rows)
        content = header + text.encode("utf-8", "surrogatepass") + raw
        upload = SimpleUploadedFile("people.csv", content, content_type="text/csv")
        _answered(
            api.post(f"/api/v1/campaigns/{campaign['id']}/recipients/", {"file": upload}, format="multipart")
        )

    check()
