"""Consent for likeness (docs/trust.md), through the API: a portrait, a voice or footage of a person needs a consent
record; a render or preview that would use one without valid consent is refused naming the field; revoking (or
expiry) cancels what still renders with it, deletes what was made with it from storage (the watch page answers
410), and leaves an audit entry for each step, in a chain `audit_verify` checks."""

from __future__ import annotations

import io
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from core.consent import CONSENT_REQUIRED, CONSENT_UNKNOWN, consents_expire
from core.models import AuditEntry, BrandAsset, Consent, Workspace
from core.storage import get_storage
from render.compose.probe import probe
from render.models import Render, RenderStatus
from tests.core.test_api_brands import create_brand, png_bytes, upload, wav_bytes
from tests.render.test_brand_video import _footage

pytestmark = pytest.mark.django_db

# A signed document's first bytes are all the check reads (core.assets: the PDF header).
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

# One scene, no generated picture: the brand's portrait in an image layer (fast to compose on CPU).
PORTRAIT_SPEC: dict[str, Any] = {
    "format": {"width": 180, "height": 320, "fps": 10},
    "variables": {"first_name": {"type": "text", "required": True, "max_length": 32}},
    "scenes": [
        {
            "duration": 1.0,
            "background": {"color": "brand.primary"},
            "layers": [
                {"type": "image", "source": "brand.portrait", "box": [0.2, 0.1, 0.6, 0.4]},
                {"type": "text", "text": "Hi {{first_name}}!", "box": [0.08, 0.6, 0.84, 0.2]},
            ],
        }
    ],
}


CLIP_SPEC: dict[str, Any] = {
    "format": {"width": 160, "height": 288, "fps": 10},
    "variables": {"first_name": {"type": "text", "required": True, "max_length": 32}},
    "scenes": [{"duration": 1.0, "background": {"video": "brand.video"}}],
}
# The brand's recorded voice as the soundtrack.
VOICE_SPEC: dict[str, Any] = {
    **PORTRAIT_SPEC,
    "scenes": [{"duration": 1.0, "background": {"color": "brand.primary"}, "layers": []}],
    "audio": {"music": "brand.voice"},
}


def _file(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def grant(api: APIClient, brands: list[str], uses: list[str], **extra: Any) -> Any:
    return api.post(
        "/api/v1/consents/",
        {
            "person_name": "Dana Presenter",
            "brands": brands,
            "uses": uses,
            "collected_by": "Sam from Legal",
            "evidence": _file(PDF, "release.pdf"),
            **extra,
        },
        format="multipart",
    )


def upload_likeness(api: APIClient, brand_id: str, kind: str, data: bytes, **fields: Any) -> Any:
    return api.post(
        f"/api/v1/brands/{brand_id}/assets/",
        {"kind": kind, "file": _file(data, f"{kind}.bin"), **fields},
        format="multipart",
    )


def portrait_setup(api: APIClient) -> tuple[str, str, str]:
    """A brand with a consented portrait and a template that shows it: (brand, template, consent)."""
    brand = create_brand(api)["id"]
    consent = grant(api, [brand], ["portrait"]).json()["id"]
    assert upload_likeness(api, brand, "portrait", png_bytes((48, 64)), consent=consent).status_code == 201
    template = api.post("/api/v1/templates/", {"name": "Presenter", "spec": PORTRAIT_SPEC}, format="json")
    assert template.status_code == 201, template.json()
    return brand, template.json()["id"], consent


def render(api: APIClient, template: str, brand: str, name: str = "Zoë") -> Any:
    return api.post(
        "/api/v1/renders/",
        {"template": template, "brand": brand, "variables": {"first_name": name}},
        format="json",
    )


def actions(workspace: Workspace) -> list[str]:
    return list(
        AuditEntry.objects.filter(workspace=workspace).order_by("seq").values_list("action", flat=True)
    )


# --- consent records --------------------------------------------------------------------------------------------


def test_a_consent_is_recorded_with_its_evidence(api: APIClient, other_api: APIClient) -> None:
    brand = create_brand(api)["id"]
    later = (timezone.now() + timedelta(days=365)).isoformat()
    created = grant(api, [brand], ["portrait", "voice"], valid_until=later)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["person_name"] == "Dana Presenter"
    assert body["brands"] == [brand]
    assert body["uses"] == ["portrait", "voice"]
    assert body["status"] == "active"
    assert body["collected_by"] == "Sam from Legal"
    evidence = body["evidence"]
    assert evidence["content_type"] == "application/pdf"
    assert evidence["size"] == len(PDF)
    assert evidence["url"]
    assert [c["id"] for c in api.get("/api/v1/consents/").json()["results"]] == [body["id"]]
    assert api.get(f"/api/v1/consents/{body['id']}/").json()["id"] == body["id"]
    assert other_api.get(f"/api/v1/consents/{body['id']}/").status_code == 404
    assert other_api.get("/api/v1/consents/").json()["results"] == []
    stored = Consent.objects.get(pk=body["id"])
    assert get_storage().exists(stored.evidence_key)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"evidence": "not a file"}, "evidence"),
        ({"uses": ["tattoo"]}, "uses"),
        ({"brands": ["00000000-0000-0000-0000-000000000000"]}, "brands[0]"),
        ({"valid_until": "2001-01-01T00:00:00Z"}, "valid_until"),
        ({"person_name": "Dana\u202eX"}, "person_name"),
    ],
)
def test_a_bad_consent_is_refused_naming_the_field(
    api: APIClient, change: dict[str, Any], field: str
) -> None:
    brand = create_brand(api)["id"]
    body = {
        "person_name": "Dana",
        "brands": [brand],
        "uses": ["portrait"],
        "evidence": _file(PDF, "release.pdf"),
        **change,
    }
    response = api.post("/api/v1/consents/", body, format="multipart")
    assert response.status_code == 400
    assert field in response.json()["fields"] or any(k.startswith(field) for k in response.json()["fields"])


def test_evidence_that_is_neither_a_document_nor_a_recording_is_refused(api: APIClient) -> None:
    brand = create_brand(api)["id"]
    response = api.post(
        "/api/v1/consents/",
        {"person_name": "Dana", "brands": [brand], "uses": ["voice"], "evidence": _file(b"hello", "x.txt")},
        format="multipart",
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["evidence"]
    # A recorded statement is evidence too.
    recorded = api.post(
        "/api/v1/consents/",
        {
            "person_name": "Dana",
            "brands": [brand],
            "uses": ["voice"],
            "evidence": _file(wav_bytes(), "me.wav"),
        },
        format="multipart",
    )
    assert recorded.status_code == 201
    assert recorded.json()["evidence"]["content_type"] == "audio/wav"


# --- likeness assets name a consent -----------------------------------------------------------------------------


def test_a_portrait_without_consent_is_refused_naming_consent(
    api: APIClient, other_api: APIClient, workspace: Workspace
) -> None:
    brand = create_brand(api)["id"]
    missing = upload_likeness(api, brand, "portrait", png_bytes())
    assert missing.status_code == 400
    assert missing.json()["fields"] == {"consent": [CONSENT_REQUIRED.format(use="portrait")]}
    foreign = grant(other_api, [create_brand(other_api)["id"]], ["portrait"]).json()["id"]
    assert upload_likeness(api, brand, "portrait", png_bytes(), consent=foreign).json()["fields"] == {
        "consent": [CONSENT_UNKNOWN]
    }
    other_brand = create_brand(api)["id"]
    elsewhere = grant(api, [other_brand], ["portrait"]).json()["id"]
    wrong_brand = upload_likeness(api, brand, "portrait", png_bytes(), consent=elsewhere).json()
    assert list(wrong_brand["fields"]) == ["consent"]
    assert "does not cover the brand" in wrong_brand["message"]
    voice_only = grant(api, [brand], ["voice"]).json()["id"]
    wrong_use = upload_likeness(api, brand, "portrait", png_bytes(), consent=voice_only).json()
    assert "does not cover use as a portrait" in wrong_use["fields"]["consent"][0]
    assert not BrandAsset.objects.filter(kind="portrait").exists()

    consent = grant(api, [brand], ["portrait"]).json()["id"]
    accepted = upload_likeness(api, brand, "portrait", png_bytes(), consent=consent)
    assert accepted.status_code == 201, accepted.json()
    assert accepted.json()["consent"] == consent
    assert "portrait" in api.get(f"/api/v1/brands/{brand}/").json()["assets"]
    assert "brand_asset.uploaded" in actions(workspace)


def test_a_voice_and_footage_of_a_person_need_consent_too(api: APIClient) -> None:
    brand = create_brand(api)["id"]
    assert list(upload_likeness(api, brand, "voice", wav_bytes()).json()["fields"]) == ["consent"]
    consent = grant(api, [brand], ["voice"]).json()["id"]
    assert upload_likeness(api, brand, "voice", wav_bytes(), consent=consent).status_code == 201
    # A plain logo naming a consent is a mistake, said so.
    assert upload(api, brand, "logo", png_bytes()).status_code == 201
    named = upload_likeness(api, brand, "logo", png_bytes(), consent=consent)
    assert named.status_code == 400
    assert list(named.json()["fields"]) == ["consent"]


def test_footage_flagged_as_showing_a_person_needs_consent(api: APIClient, tmp_path: Path) -> None:
    brand = create_brand(api)["id"]
    clip = _footage(tmp_path, "clip.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    refused = upload_likeness(api, brand, "video", clip, shows_person="true")
    assert refused.status_code == 400
    assert list(refused.json()["fields"]) == ["consent"]
    plain = upload_likeness(api, brand, "video", clip)
    assert plain.status_code == 201
    assert plain.json()["shows_person"] is False
    path = f"/api/v1/brands/{brand}/assets/{plain.json()['id']}/"
    # Saying afterwards that it shows a person needs the consent then.
    assert list(api.patch(path, {"shows_person": True}, format="json").json()["fields"]) == ["consent"]
    consent = grant(api, [brand], ["video"]).json()["id"]
    flagged = api.patch(path, {"shows_person": True, "consent": consent}, format="json")
    assert flagged.status_code == 200
    assert flagged.json()["consent"] == consent
    template = api.post("/api/v1/templates/", {"name": "Clip", "spec": CLIP_SPEC}, format="json").json()["id"]
    assert render(api, template, brand).status_code == 202
    Consent.objects.filter(pk=consent).update(revoked_at=timezone.now())
    refused_render = render(api, template, brand)
    assert refused_render.status_code == 400
    assert "spec.scenes[0].background.video" in refused_render.json()["message"]


def test_the_consent_a_render_needs_is_checked_when_it_is_requested(
    api: APIClient, workspace: Workspace
) -> None:
    brand, template, consent = portrait_setup(api)
    accepted = render(api, template, brand)
    assert accepted.status_code == 202, accepted.json()
    # The preview draws the portrait too: refused the same way once the consent has gone.
    Consent.objects.filter(pk=consent).update(valid_until=timezone.now() - timedelta(minutes=1))
    expired = render(api, template, brand)
    assert expired.status_code == 400
    assert list(expired.json()["fields"]) == ["brand"]
    assert "spec.scenes[0].layers[0].source" in expired.json()["message"]
    assert "ran out" in expired.json()["message"]
    preview = api.post(f"/api/v1/templates/{template}/preview/", {"brand": brand}, format="json")
    assert preview.status_code == 400
    assert list(preview.json()["fields"]) == ["brand"]
    # A brand without a portrait is no likeness at all: the same template renders with it.
    plain = create_brand(api)["id"]
    assert render(api, template, plain).status_code == 202


@pytest.mark.usefixtures("run_tasks_inline")  # the revoke's task, in either mode
def test_revoking_cancels_queued_renders_with_the_reason(
    api: APIClient, workspace: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    brand, template, consent = portrait_setup(api)
    queued = [render(api, template, brand, name).json()["id"] for name in ("Ann", "Bob")]  # tasks never ran
    unrelated = render(api, template, create_brand(api)["id"]).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        revoked = api.post(f"/api/v1/consents/{consent}/revoke/", {"reason": "asked by Dana"}, format="json")
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    for render_id in queued:
        body = api.get(f"/api/v1/renders/{render_id}/").json()
        assert body["status"] == "canceled"
        assert body["error"] == "Consent of 'Dana Presenter' revoked"
        assert body["outputs_erased_at"] is not None
    assert api.get(f"/api/v1/renders/{unrelated}/").json()["status"] == "queued"
    assert api.post(f"/api/v1/consents/{consent}/revoke/", {}, format="json").status_code == 409
    log = actions(workspace)
    assert log.count("render.canceled") == 2
    assert log.count("render.outputs_erased") == 2
    assert log.index("consent.revoked") < log.index("render.canceled")
    refused = render(api, template, brand)
    assert refused.status_code == 400
    assert "was revoked" in refused.json()["fields"]["brand"][0]
    call_command("audit_verify")


def test_expiry_is_carried_out_by_the_periodic_task(api: APIClient, workspace: Workspace) -> None:
    brand, template, consent = portrait_setup(api)
    queued = render(api, template, brand).json()["id"]
    assert consents_expire() == 0  # nothing has run out
    Consent.objects.filter(pk=consent).update(valid_until=timezone.now() - timedelta(seconds=1))
    assert consents_expire() == 1
    assert Render.objects.get(pk=queued).status == RenderStatus.CANCELED
    assert consents_expire() == 0  # carried out once
    assert "consent.expired" in actions(workspace)
    assert api.get(f"/api/v1/consents/{consent}/").json()["status"] == "expired"


# --- the whole way: rendered, shown, revoked, erased --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_revoking_erases_what_was_made_and_the_watch_page_answers_410(
    api: APIClient, workspace: Workspace
) -> None:
    brand, template, consent = portrait_setup(api)
    made = render(api, template, brand)
    assert made.status_code == 202, made.json()
    done = api.get(f"/api/v1/renders/{made.json()['id']}/").json()
    assert done["status"] == "succeeded", done
    row = Render.objects.get(pk=done["id"])
    keys = [row.outputs[0][k] for k in ("video_key", "poster_key", "gif_key", "captions_key")]
    storage = get_storage()  # SeaweedFS in service mode
    assert all(storage.exists(key) for key in keys)
    watch = done["watch_url"].split("://", 1)[-1].split("/", 1)[1]
    assert api.get(f"/{watch}").status_code == 200

    revoked = api.post(f"/api/v1/consents/{consent}/revoke/", {"reason": "asked"}, format="json")
    assert revoked.status_code == 200
    assert not any(storage.exists(key) for key in keys)
    after = api.get(f"/api/v1/renders/{done['id']}/").json()
    assert after["status"] == "succeeded"
    assert after["video_url"] is None
    assert after["outputs_erased_reason"] == "Consent of 'Dana Presenter' revoked"
    assert all(output["video_url"] is None for output in after["outputs"])
    assert api.get(f"/{watch}").status_code == 410

    log = actions(workspace)
    for action in ("consent.granted", "brand_asset.uploaded", "template.created", "consent.revoked"):
        assert action in log
    assert log[-1] == "render.outputs_erased"
    erased = AuditEntry.objects.get(action="render.outputs_erased")
    assert erased.object_id == done["id"]
    assert (erased.after or {})["objects_deleted"] == 4
    call_command("audit_verify")

    # An entry edited in the database breaks the chain, and the command names it.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEntry._meta.db_table} SET object_id = %s WHERE id = %s",  # noqa: S608
            ["someone-else", erased.pk],
        )
    with pytest.raises(CommandError, match=f"entry {erased.pk}"):
        call_command("audit_verify")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_a_consented_voice_is_the_soundtrack(api: APIClient) -> None:
    brand = create_brand(api)["id"]
    consent = grant(api, [brand], ["voice"]).json()["id"]
    assert upload_likeness(api, brand, "voice", wav_bytes(1.0), consent=consent).status_code == 201
    template = api.post("/api/v1/templates/", {"name": "Voice", "spec": VOICE_SPEC}, format="json")
    assert template.status_code == 201, template.json()
    made = render(api, template.json()["id"], brand).json()
    done = api.get(f"/api/v1/renders/{made['id']}/").json()
    assert done["status"] == "succeeded", done
    row = Render.objects.get(pk=done["id"])
    with tempfile.TemporaryDirectory() as tmp:
        video = get_storage().fetch(row.video_key, Path(tmp) / "video.mp4")
        assert probe(video).has_audio
