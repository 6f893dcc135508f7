"""Pictures uploaded for an image variable (issue 15): `POST /api/v1/images/` answers a reference that a
render's variable takes; the picture appears in the frame; a reference from another workspace, or one never
uploaded, is a 400 naming the variable; a file that is not a picture is a 400 naming `file`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from core.storage import get_storage
from render.compose.probe import decode_frame
from render.models import Render, RenderStatus
from tests.render.test_api_renders import make_brand, make_template, request_render
from tests.render.test_recipient_images import SPEC

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("run_tasks_inline")]


def png(color: tuple[int, int, int], size: tuple[int, int] = (64, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(api: APIClient, data: bytes, name: str = "logo.png") -> Any:
    return api.post("/api/v1/images/", {"file": SimpleUploadedFile(name, data)}, format="multipart")


def test_an_uploaded_picture_is_in_the_frame(api: APIClient, tmp_path: Path) -> None:
    answer = upload(api, png((0, 0, 230)))
    assert answer.status_code == 201, answer.json()
    reference = answer.json()["reference"]
    assert reference.startswith("upload:")
    assert reference.endswith(".png")
    assert upload(api, png((0, 0, 230))).json()["reference"] == reference  # the same bytes, one object
    template, brand = make_template(api, SPEC), make_brand(api)
    response = request_render(api, template, brand, {"company_logo": reference})
    assert response.status_code == 202, response.json()
    render = Render.objects.get(pk=response.json()["id"])
    assert render.status == RenderStatus.SUCCEEDED, render.error
    video = get_storage().fetch(render.outputs[0]["video_key"], tmp_path / "video.mp4")
    frame = np.asarray(decode_frame(video, 0), dtype=np.float64)
    top = frame[10:130, 10:150].reshape(-1, 3).mean(axis=0)  # the covered box: the blue picture
    assert top[2] > 150
    assert max(top[0], top[1]) < 60


def test_a_reference_not_uploaded_here_is_a_400_naming_the_variable(
    api: APIClient, other_api: APIClient
) -> None:
    theirs = upload(other_api, png((10, 200, 10))).json()["reference"]
    template, brand = make_template(api, SPEC), make_brand(api)
    for reference in (theirs, "upload:" + "0" * 64 + ".png"):
        response = request_render(api, template, brand, {"company_logo": reference})
        assert response.status_code == 400, response.json()
        assert list(response.json()["fields"]) == ["variables.company_logo"]
    assert not Render.objects.exists()


@pytest.mark.parametrize(
    "data", [b"%PDF-1.7 not a picture", b"", png((1, 2, 3), size=(5000, 4000))], ids=["pdf", "empty", "huge"]
)
def test_a_file_that_is_not_a_usable_picture_is_a_400_naming_file(api: APIClient, data: bytes) -> None:
    response = upload(api, data)
    assert response.status_code == 400, response.json()
    assert list(response.json()["fields"]) == ["file"]


def test_a_reference_whose_picture_was_deleted_fails_the_recipient_with_the_reason(api: APIClient) -> None:
    reference = upload(api, png((200, 0, 0))).json()["reference"]
    template, brand = make_template(api, SPEC), make_brand(api)
    workspace_id = api.workspace.pk  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as patch:
        # Accepted while the picture was there; gone (erased) before the render composed.
        patch.setattr("render.services.requests.uploaded_images_check", lambda **_: None)
        get_storage().delete(f"uploads/{workspace_id}/images/{reference.removeprefix('upload:')}")
        response = request_render(api, template, brand, {"company_logo": reference})
    assert response.status_code == 202, response.json()
    render = Render.objects.get(pk=response.json()["id"])
    assert render.status == RenderStatus.FAILED
    assert "company_logo" in render.error
