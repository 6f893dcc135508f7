"""Recipient import: CSV row numbers as a spreadsheet counts them, per-row validation, dedupe, limits."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from campaigns.csv_import import BAD_CSV, TOO_MANY_CELLS
from campaigns.models import Recipient
from campaigns.selectors import csv_cell
from tests.campaigns.helpers import make_campaign, upload_json

BAD_ROWS = {5, 17, 30, 44}  # spreadsheet row numbers (header = row 1)


def fifty_row_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["first_name", "company", "external_id", "email"])
    for row in range(2, 52):
        cells = [f"Name{row}", f"Company {row}", f"crm-{row}", f"p{row}@example.com"]
        if row == 5:
            cells[0] = ""  # required variable missing
        elif row == 17:
            cells[0] = "x" * 33  # longer than max_length 32
        elif row == 30:
            cells[3] = "not-an-email"
        elif row == 44:
            cells.append("surplus")
        writer.writerow(cells)
    return out.getvalue().encode()


def upload_csv(api: APIClient, campaign_id: str, content: bytes):
    return api.post(
        f"/api/v1/campaigns/{campaign_id}/recipients/",
        {"file": SimpleUploadedFile("people.csv", content, content_type="text/csv")},
        format="multipart",
    )


@pytest.mark.django_db
def test_fifty_row_csv_reports_exact_spreadsheet_rows(api: APIClient) -> None:
    campaign = make_campaign(api)
    response = upload_csv(api, campaign["id"], fifty_row_csv())
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["accepted"] == 46
    assert body["rejected_count"] == 4
    assert {r["row"] for r in body["rejected"]} == BAD_ROWS
    by_row = {r["row"]: r["fields"] for r in body["rejected"]}
    assert by_row[5] == {"rows[5].first_name": ["This field is required."]}
    assert list(by_row[17]) == ["rows[17].first_name"]
    assert list(by_row[30]) == ["rows[30].email"]
    assert by_row[44] == {"rows[44]": [TOO_MANY_CELLS]}
    positions = list(Recipient.objects.order_by("position").values_list("position", flat=True))
    assert positions == list(range(1, 47))
    assert api.get(f"/api/v1/campaigns/{campaign['id']}/").json()["counts"]["total"] == 46


@pytest.mark.django_db
def test_dedupe_by_external_id_else_email_within_and_across_uploads(api: APIClient) -> None:
    campaign = make_campaign(api)
    first = upload_json(
        api,
        campaign["id"],
        [
            {"first_name": "A", "external_id": "1"},
            {"first_name": "A again", "external_id": "1"},
            {"first_name": "B", "email": "B@Example.com"},
            {"first_name": "B again", "email": "b@example.com"},
            {"first_name": "C"},
            {"first_name": "C"},  # no key: not a duplicate
        ],
    )
    assert (first["accepted"], first["duplicates"]) == (4, 2)
    again = upload_json(
        api,
        campaign["id"],
        [
            {"first_name": "A", "external_id": "1"},
            {"variables": {"first_name": "D"}, "email": "b@example.com"},
        ],
    )
    assert (again["accepted"], again["duplicates"]) == (0, 2)
    assert Recipient.objects.count() == 4


@pytest.mark.django_db
def test_json_rows_are_named_by_index(api: APIClient) -> None:
    campaign = make_campaign(api)
    body = upload_json(api, campaign["id"], [{"first_name": "Ok"}, {"nick": "x"}, "nope"])
    assert body["accepted"] == 1
    fields = {r["row"]: r["fields"] for r in body["rejected"]}
    assert set(fields[1]) == {"recipients[1].nick", "recipients[1].first_name"}
    assert list(fields[2]) == ["recipients[2]"]


@pytest.mark.django_db
def test_unknown_column_and_garbage_files_answer_400_naming_them(api: APIClient) -> None:
    campaign = make_campaign(api)
    unknown = upload_csv(api, campaign["id"], b"first_name,nickname\nA,B\n")
    assert unknown.status_code == 400
    assert list(unknown.json()["fields"]) == ["columns.nickname"]
    binary = upload_csv(api, campaign["id"], b"\xff\xfe\x00garbage")
    assert binary.status_code == 400
    assert binary.json()["message"] == BAD_CSV
    nothing = api.post(f"/api/v1/campaigns/{campaign['id']}/recipients/", {}, format="json")
    assert nothing.status_code == 400
    assert Recipient.objects.count() == 0


@pytest.mark.django_db
def test_large_csv_streams_from_a_temporary_file(api: APIClient, settings: Any) -> None:
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # force Django to spool the upload to disk
    campaign = make_campaign(api)
    rows = "".join(f"Name{i},id-{i}\n" for i in range(5000))
    response = upload_csv(api, campaign["id"], ("first_name,external_id\n" + rows).encode())
    assert response.status_code == 200
    assert response.json()["accepted"] == 5000


def test_formula_injection_is_neutralised() -> None:
    assert csv_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    for dangerous in ("+1", "-1+1", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(dangerous).startswith("'")
    assert csv_cell("Zoë") == "Zoë"
    assert csv_cell(None) == ""
