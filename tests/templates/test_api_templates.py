"""Ad templates: spec validation errors that name the path, versions that stay immutable."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from core.errors import ApplicationError
from templates import spec as spec_module
from templates.merge import merge, variables_resolve
from tests.factories import small_spec

pytestmark = pytest.mark.django_db


def test_create_template_answers_version_1_and_variables(api: APIClient) -> None:
    response = api.post("/api/v1/templates/", {"name": "Hello", "spec": small_spec()}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"] == 1
    assert body["variables"]["first_name"] == {
        "type": "text",
        "required": True,
        "max_length": 32,
        "default": "",
    }
    assert body["variables"]["company"]["default"] == "your team"


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda s: s["scenes"][1].update(duration=-1), "spec.scenes[1].duration"),
        (lambda s: s["scenes"][1].update(duration="3"), "spec.scenes[1].duration"),
        (lambda s: s["format"].update(width=1081), "spec.format.width"),
        (lambda s: s["format"].update(fps=0), "spec.format.fps"),
        (
            lambda s: s["scenes"][0]["layers"][0].update(box=[0.5, 0.5, 0.6, 0.1]),
            "spec.scenes[0].layers[0].box",
        ),
        (lambda s: s["scenes"][0]["layers"][0].update(color="red"), "spec.scenes[0].layers[0].color"),
        (
            lambda s: s["scenes"][0]["layers"][0].update(text="Hi {{ nickname }}"),
            "spec.scenes[0].layers[0].text",
        ),
        (
            lambda s: s["scenes"][0]["background"]["generate"].update(prompt="{{ mood }} shop"),
            "spec.scenes[0].background.generate.prompt",
        ),
        (lambda s: s["scenes"][0]["background"].update(motion="spin"), "spec.scenes[0].background.motion"),
        (
            lambda s: s["scenes"][0]["layers"].append({"type": "video", "box": [0, 0, 1, 1]}),
            "spec.scenes[0].layers[1].type",
        ),
        (lambda s: s.update(transition={"type": "fade", "duration": 5}), "spec.transition.duration"),
        (lambda s: s.update(scenes=[]), "spec.scenes"),
        (lambda s: s["variables"]["first_name"].update(max_length=0), "spec.variables.first_name.max_length"),
        (lambda s: s.update(colour="#FFFFFF"), "spec.colour"),
    ],
)
def test_bad_spec_answers_400_naming_the_path(api: APIClient, mutate, path: str) -> None:
    spec = small_spec()
    mutate(spec)
    response = api.post("/api/v1/templates/", {"name": "Bad", "spec": spec}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == spec_module.SPEC_INVALID
    assert path in body["fields"], body


def test_undeclared_merge_field_message_names_it(api: APIClient) -> None:
    spec = small_spec()
    spec["scenes"][0]["layers"][0]["text"] = "Hi {{nickname}}"
    body = api.post("/api/v1/templates/", {"name": "Bad", "spec": spec}, format="json").json()
    assert body["fields"]["spec.scenes[0].layers[0].text"] == [spec_module.UNDECLARED.format(name="nickname")]


def test_non_object_spec_and_missing_name(api: APIClient) -> None:
    response = api.post("/api/v1/templates/", {"spec": "nope"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["fields"]
    response = api.post("/api/v1/templates/", {"name": "x", "spec": [1, 2]}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"spec": ["Must be an object."]}


def test_malformed_json_is_a_400_not_a_500(api: APIClient) -> None:
    response = api.post("/api/v1/templates/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["message"]


def test_versions_are_numbered_and_old_ones_stay(api: APIClient) -> None:
    created = api.post("/api/v1/templates/", {"name": "Hello", "spec": small_spec()}, format="json").json()
    changed = small_spec()
    changed["scenes"][0]["duration"] = 2.0
    v2 = api.post(f"/api/v1/templates/{created['id']}/versions/", {"spec": changed}, format="json")
    assert v2.status_code == 201
    assert v2.json()["version"] == 2
    v1 = api.get(f"/api/v1/templates/{created['id']}/versions/1/").json()
    assert v1["spec"]["scenes"][0]["duration"] == 1.0
    latest = api.get(f"/api/v1/templates/{created['id']}/").json()
    assert latest["version"] == 2
    assert api.get(f"/api/v1/templates/{created['id']}/versions/3/").status_code == 404


def test_template_versions_cannot_be_modified(api: APIClient) -> None:
    from templates.models import TemplateVersion

    created = api.post("/api/v1/templates/", {"name": "Hello", "spec": small_spec()}, format="json").json()
    version = TemplateVersion.objects.get(template_id=created["id"], version=1)
    version.spec = {}
    with pytest.raises(ValueError, match="immutable"):
        version.save()


def test_variables_resolve_applies_defaults_and_limits() -> None:
    declared = {
        "first_name": {"type": "text", "required": True, "max_length": 5, "default": ""},
        "company": {"type": "text", "required": False, "max_length": 50, "default": "your team"},
    }
    assert variables_resolve(declared=declared, values={"first_name": "Zoë"}) == {
        "first_name": "Zoë",
        "company": "your team",
    }
    with pytest.raises(ApplicationError) as excinfo:
        variables_resolve(
            declared=declared, values={"first_name": "Bartholomew", "nickname": "x", "company": 3}
        )
    fields = excinfo.value.fields
    assert set(fields) == {"variables.first_name", "variables.nickname"}


def test_merge_is_single_pass_plain_text() -> None:
    values = {"first_name": "{{company}} %{pts} \\ ' :", "company": "Acme"}
    assert merge("Hi {{ first_name }} from {{company}}", values) == "Hi {{company}} %{pts} \\ ' : from Acme"
