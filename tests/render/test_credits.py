"""Credit for the people who made a template: a version's authors shown by the render API and named, with
the models that drew the pictures, in the C2PA manifest of each output, read back with c2pa-python."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.storage import get_storage
from render.models import Render, RenderStatus
from tests.factories import small_spec
from tests.render.test_api_renders import make_brand, request_render
from tests.render.test_watch_pages import BROWSER

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("run_tasks_inline")]

AUTHORS = [{"name": "Ana Ruiz", "role": "designer"}, {"name": "Kenji Sato", "role": "copywriter"}]


@pytest.fixture
def c2pa_signing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Signing on, with a throwaway certificate chain, as tests/render/test_template_features.py does."""
    from render.compose import provenance
    from tests.compose.test_styles import write_credentials

    cert, key = write_credentials(tmp_path / "c2pa")
    monkeypatch.setenv(provenance.CERT_ENV, str(cert))
    monkeypatch.setenv(provenance.KEY_ENV, str(key))
    monkeypatch.delenv(provenance.SIGN_ENV, raising=False)
    provenance.c2pa_credentials.cache_clear()
    yield provenance
    provenance.c2pa_credentials.cache_clear()


def _assertion(manifest: dict[str, Any], label: str) -> dict[str, Any]:
    found = [a["data"] for a in manifest["assertions"] if a["label"].split(".v")[0] == label]
    assert len(found) == 1, [a["label"] for a in manifest["assertions"]]
    data: dict[str, Any] = found[0]
    return data


def test_the_manifest_names_the_authors_and_the_models(
    api: APIClient, tmp_path: Path, c2pa_signing: Any
) -> None:
    created = api.post(
        "/api/v1/templates/", {"name": "Credited", "spec": small_spec(), "authors": AUTHORS}, format="json"
    )
    assert created.status_code == 201, created.json()
    response = request_render(api, created.json()["id"], make_brand(api), {"first_name": "Zoë"})
    assert response.status_code == 202, response.json()
    render = Render.objects.get(pk=response.json()["id"])
    assert render.status == RenderStatus.SUCCEEDED, render.error
    answer = api.get(f"/api/v1/renders/{render.pk}/").json()
    assert answer["credits"] == AUTHORS
    # The watch page credits them under the video.
    page = Client(HTTP_USER_AGENT=BROWSER).get(urlsplit(answer["watch_url"]).path)
    assert page.status_code == 200
    assert "Made by Ana Ruiz (designer), Kenji Sato (copywriter)" in page.content.decode()

    video = get_storage().fetch(render.outputs[0]["video_key"], tmp_path / "out.mp4")
    manifest, state = c2pa_signing.c2pa_read(video)
    assert state == "Valid"  # signature and hashes check out (the test root is, rightly, not trusted)
    assert manifest is not None

    # The models that drew the generated parts, and that the video mixes them with parts people made (its
    # texts and logo): IPTC's composite with trained algorithmic media.
    [created_action] = _assertion(manifest, "c2pa.actions")["actions"]
    assert created_action["action"] == "c2pa.created"
    assert created_action["parameters"]["models"] == ["tiny-sd"]
    assert created_action["digitalSourceType"] == c2pa_signing.AI_COMPOSITE

    # The template's authors as the creative work's authors, with their roles.
    work = _assertion(manifest, "stds.schema-org.CreativeWork")
    assert work["@type"] == "CreativeWork"
    assert [(p["@type"], p["name"], p["jobTitle"]) for p in work["author"]] == [
        ("Person", "Ana Ruiz", "designer"),
        ("Person", "Kenji Sato", "copywriter"),
    ]
    metadata = _assertion(manifest, "cawg.metadata")
    assert metadata["dc:creator"] == ["Ana Ruiz", "Kenji Sato"]
    assert [(c["Iptc4xmpExt:Name"], c["Iptc4xmpExt:Role"]) for c in metadata["Iptc4xmpExt:Contributor"]] == [
        ("Ana Ruiz", ["designer"]),
        ("Kenji Sato", ["copywriter"]),
    ]


def test_without_authors_or_models_the_manifest_says_so(
    api: APIClient, tmp_path: Path, c2pa_signing: Any
) -> None:
    spec = small_spec()
    spec["scenes"][0]["background"] = {"color": "brand.secondary"}  # nothing generated
    created = api.post("/api/v1/templates/", {"name": "Plain", "spec": spec}, format="json")
    response = request_render(api, created.json()["id"], make_brand(api), {"first_name": "Zoë"})
    render = Render.objects.get(pk=response.json()["id"])
    assert render.status == RenderStatus.SUCCEEDED, render.error
    answer = api.get(f"/api/v1/renders/{render.pk}/").json()
    assert answer["credits"] == []
    assert (
        "Made by"
        not in Client(HTTP_USER_AGENT=BROWSER).get(urlsplit(answer["watch_url"]).path).content.decode()
    )

    video = get_storage().fetch(render.outputs[0]["video_key"], tmp_path / "out.mp4")
    manifest, state = c2pa_signing.c2pa_read(video)
    assert state == "Valid"
    assert manifest is not None
    [created_action] = _assertion(manifest, "c2pa.actions")["actions"]
    assert created_action["digitalSourceType"] == c2pa_signing.SOFTWARE_MADE
    assert "parameters" not in created_action
    labels = {a["label"] for a in manifest["assertions"]}
    assert not labels & {"stds.schema-org.CreativeWork", "cawg.metadata"}
