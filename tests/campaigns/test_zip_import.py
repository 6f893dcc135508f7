"""Recipients with their pictures (issue 15): a zip of a CSV and the picture files its image column names.
Each picture is stored once however many rows name it, the cell becomes the picture's reference, a row
naming a missing or unusable file is rejected naming the column, and a zip without one CSV is a 400."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from campaigns.models import Recipient
from core.storage import get_storage
from render.compose.probe import decode_frame
from render.models import Render, RenderStatus
from tests.campaigns.helpers import make_campaign
from tests.render.test_api_renders import make_template
from tests.render.test_image_uploads import png
from tests.render.test_recipient_images import SPEC

SPEC_WITH_NAME: dict[str, Any] = {
    **SPEC,
    "variables": {**SPEC["variables"], "first_name": {"required": True}},
}


def make_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def post_zip(api: APIClient, campaign_id: str, data: bytes) -> Any:
    return api.post(
        f"/api/v1/campaigns/{campaign_id}/recipients/",
        {"file": SimpleUploadedFile("recipients.zip", data, content_type="application/zip")},
        format="multipart",
    )


@pytest.mark.django_db
def test_a_zip_of_a_csv_and_its_pictures_imports_each_picture_once(api: APIClient) -> None:
    campaign = make_campaign(api, template=make_template(api, SPEC_WITH_NAME))
    rows = [
        "first_name,email,company_logo",
        "Zoë,zoe@example.com,logos/acme.png",
        "Li,li@example.com,logos/acme.png",
        "Ana,ana@example.com,./logos/leer.jpg",
        "Bo,bo@example.com,logos/missing.png",
        "Cy,cy@example.com,notes.txt",
        "Di,di@example.com,",
    ]
    jpeg = io.BytesIO()
    Image.new("RGB", (40, 40), (250, 250, 0)).save(jpeg, format="JPEG")
    data = make_zip(
        {
            "export/recipients.csv": "\n".join(rows).encode(),
            "export/logos/acme.png": png((0, 0, 230)),
            "export/logos/leer.jpg": jpeg.getvalue(),
            "export/notes.txt": b"not a picture",
        }
    )
    response = post_zip(api, campaign["id"], data)
    assert response.status_code == 200, response.json()
    report = response.json()
    assert report["accepted"] == 3
    assert {r["row"]: list(r["fields"]) for r in report["rejected"]} == {
        5: ["rows[5].company_logo"],
        6: ["rows[6].company_logo"],
        7: ["rows[7].company_logo"],
    }
    assert "missing.png" in str(report["rejected"][0]["fields"])
    logos = dict(Recipient.objects.values_list("email", "variables__company_logo"))
    assert logos["zoe@example.com"] == logos["li@example.com"]
    assert logos["zoe@example.com"].startswith("upload:")
    assert logos["ana@example.com"].endswith(".jpg")
    workspace_id = api.workspace.pk  # type: ignore[attr-defined]
    stored = {f"uploads/{workspace_id}/images/{ref.removeprefix('upload:')}" for ref in logos.values()}
    assert len(stored) == 2  # acme.png once for its two rows (content-addressed), and leer.jpg
    assert all(get_storage().exists(key) for key in stored)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"logos/acme.png": b"x"}, "exactly one .csv"),
        ({"a.csv": b"first_name\nA\n", "b.csv": b"first_name\nB\n"}, "exactly one .csv"),
    ],
)
def test_a_zip_without_exactly_one_csv_is_a_400_naming_file(
    api: APIClient, files: dict[str, bytes], message: str
) -> None:
    campaign = make_campaign(api, template=make_template(api, SPEC_WITH_NAME))
    response = post_zip(api, campaign["id"], make_zip(files))
    assert response.status_code == 400, response.json()
    assert list(response.json()["fields"]) == ["file"]
    assert message in response.json()["message"]


@pytest.mark.django_db
def test_a_broken_zip_is_a_400_naming_file(api: APIClient) -> None:
    campaign = make_campaign(api, template=make_template(api, SPEC_WITH_NAME))
    response = post_zip(api, campaign["id"], make_zip({"r.csv": b"first_name\nA\n"})[:40])
    assert response.status_code == 400, response.json()
    assert list(response.json()["fields"]) == ["file"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_a_zipped_picture_is_in_the_recipients_frame(api: APIClient, tmp_path: Path) -> None:
    campaign = make_campaign(api, template=make_template(api, SPEC_WITH_NAME))
    data = make_zip({"r.csv": b"first_name,company_logo\nZoe,acme.png\n", "acme.png": png((0, 210, 0))})
    assert post_zip(api, campaign["id"], data).json()["accepted"] == 1
    samples = api.post(f"/api/v1/campaigns/{campaign['id']}/samples/", {}, format="json")
    assert samples.status_code == 202, samples.json()
    render = Render.objects.get(campaign_link__campaign_id=campaign["id"])
    assert render.status == RenderStatus.SUCCEEDED, render.error
    video = get_storage().fetch(render.outputs[0]["video_key"], tmp_path / "video.mp4")
    frame = np.asarray(decode_frame(video, 0), dtype=np.float64)
    top = frame[10:130, 10:150].reshape(-1, 3).mean(axis=0)
    assert top[1] > 150
    assert max(top[0], top[2]) < 60


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("run_tasks_inline")
def test_erasing_a_recipient_keeps_a_picture_others_name_and_deletes_their_own(api: APIClient) -> None:
    campaign = make_campaign(api, template=make_template(api, SPEC_WITH_NAME))
    data = make_zip(
        {
            "r.csv": b"first_name,email,company_logo\nZoe,zoe@x.com,acme.png\nLi,li@x.com,acme.png\n"
            b"Ana,ana@x.com,own.png\n",
            "acme.png": png((0, 210, 0)),
            "own.png": png((210, 0, 0)),
        }
    )
    assert post_zip(api, campaign["id"], data).json()["accepted"] == 3
    people = {r.email: r for r in Recipient.objects.filter(campaign_id=campaign["id"])}
    workspace_id = api.workspace.pk  # type: ignore[attr-defined]

    def stored(email: str) -> bool:
        reference = people[email].variables["company_logo"].removeprefix("upload:")
        return get_storage().exists(f"uploads/{workspace_id}/images/{reference}")

    # Zoë's sample is rendered; then Zoë (rendered) and Ana (never rendered) are erased: what only Ana named
    # goes, the logo Li still names stays.
    assert (
        api.post(f"/api/v1/campaigns/{campaign['id']}/samples/", {"count": 1}, format="json").status_code
        == 202
    )
    assert Render.objects.get(campaign_link__recipient=people["zoe@x.com"]).status == RenderStatus.SUCCEEDED
    for email in ("zoe@x.com", "ana@x.com"):
        path = f"/api/v1/campaigns/{campaign['id']}/recipients/{people[email].pk}/"
        assert api.delete(path).status_code == 202
    assert stored("li@x.com")
    assert not stored("ana@x.com")
    # Li still renders with the shared logo.
    assert api.post(f"/api/v1/campaigns/{campaign['id']}/approve/").status_code == 200
    assert api.post(f"/api/v1/campaigns/{campaign['id']}/launch/").status_code == 202
    render = Render.objects.get(campaign_link__recipient=people["li@x.com"])
    assert render.status == RenderStatus.SUCCEEDED, render.error
    # Once Li is erased too (after rendering), nobody names it: gone.
    assert (
        api.delete(f"/api/v1/campaigns/{campaign['id']}/recipients/{people['li@x.com'].pk}/").status_code
        == 202
    )
    assert not stored("li@x.com")
