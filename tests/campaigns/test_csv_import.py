"""Recipients CSVs as people export them: UTF-8 with or without a BOM, Windows-1252, `;` or `,`, headers
written as people write them, a mapping that ignores or keeps extra columns, and the rejected rows as a CSV."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from campaigns.csv_import import (
    BAD_CSV,
    IGNORE,
    KEEP,
    NO_SUCH_COLUMN,
    csv_layout,
    csv_mapping_guess,
    csv_mapping_resolve,
    csv_rejected_rows,
)
from campaigns.models import Recipient
from campaigns.recipients import recipients_import
from campaigns.services import campaign_create
from core.errors import ApplicationError
from core.models import Workspace
from templates.services import template_create
from tests.campaigns.helpers import make_campaign
from tests.factories import BrandFactory, small_spec

DECLARED: dict[str, dict[str, str]] = {"first_name": {}, "company": {}, "industry": {}}


@pytest.mark.parametrize(
    ("data", "encoding", "delimiter"),
    [
        ("first_name,company\nZoë,Acme\n".encode(), "utf-8-sig", ","),
        ("\ufefffirst_name;company\nZoë;Acme\n".encode(), "utf-8-sig", ";"),
        ("first_name;company\nZoë;Ärger GmbH\n".encode("cp1252"), "cp1252", ";"),
    ],
)
def test_encoding_and_delimiter_are_found(data: bytes, encoding: str, delimiter: str) -> None:
    layout = csv_layout(io.BytesIO(data))
    assert (layout.encoding, layout.delimiter, layout.header) == (
        encoding,
        delimiter,
        ["first_name", "company"],
    )
    assert layout.samples[0][0] == "Zoë"


@pytest.mark.parametrize("data", [b"", b"\xff\xfe\x00f\x00i", "a,b\n".encode("utf-16")])
def test_empty_and_binary_files_are_not_csv(data: bytes) -> None:
    with pytest.raises(ApplicationError) as refused:
        csv_layout(io.BytesIO(data))
    assert refused.value.message == BAD_CSV


def test_headers_are_matched_as_people_write_them() -> None:
    guess = csv_mapping_guess(["First Name", "COMPANY", "E-mail", "External ID", "Shoe size"], DECLARED)
    assert guess == {
        "First Name": "first_name",
        "COMPANY": "company",
        "E-mail": "email",
        "External ID": "external_id",
        "Shoe size": None,
    }
    assert csv_mapping_guess(["FirstName", "first name"], DECLARED) == {
        "FirstName": "first_name",
        "first name": None,  # one column per target: the second is the person's to map
    }


def test_a_mapping_overrides_the_guess_and_names_its_problems() -> None:
    header = ["Vorname", "Firma", "Notes"]
    targets = csv_mapping_resolve(
        header, DECLARED, {"Vorname": "first_name", "Firma": "company", "Notes": KEEP}
    )
    assert targets == ["first_name", "company", KEEP]
    with pytest.raises(ApplicationError) as refused:
        csv_mapping_resolve(header, DECLARED, {"Vorname": "first_name", "Nope": IGNORE, "Firma": "shoe"})
    assert set(refused.value.fields) == {"mapping.Nope", "mapping.Firma", "columns.Notes"}
    assert refused.value.fields["mapping.Nope"] == [NO_SUCH_COLUMN]
    with pytest.raises(ApplicationError) as twice:
        csv_mapping_resolve(["a", "b"], DECLARED, {"a": "first_name", "b": "first_name"})
    assert list(twice.value.fields) == ["columns.b"]


@pytest.mark.django_db
def test_a_mapped_windows_file_imports_keeps_fields_and_reports_rejected_rows(workspace: Workspace) -> None:
    version = template_create(workspace=workspace, name="T", spec=small_spec())
    campaign = campaign_create(
        workspace=workspace,
        name="C",
        template_version=version,
        brand=BrandFactory.create(workspace=workspace),
    )
    data = (
        "Vorname;Firma;E-Mail;Notiz;Intern\n"
        "Jürgen;Müller AG;j@example.com;VIP;x\n"
        ";Leer GmbH;leer@example.com;;y\n"
        "=Bob;Bobco;not-an-email;;z\n"
    ).encode("cp1252")
    report = recipients_import(
        campaign=campaign,
        file=io.BytesIO(data),
        mapping={"Vorname": "first_name", "Firma": "company", "Notiz": KEEP, "Intern": IGNORE},
    )
    assert (report.accepted, report.rejected_count) == (1, 2)
    recipient = Recipient.objects.get()
    assert recipient.variables["first_name"] == "Jürgen"
    assert recipient.variables["company"] == "Müller AG"
    assert (recipient.email, recipient.fields) == ("j@example.com", {"Notiz": "VIP"})
    assert report.columns == ["Vorname", "Firma", "E-Mail", "Notiz", "Intern"]
    assert [item["row"] for item in report.rejected] == [3, 4]
    rows = list(csv.reader(io.StringIO(csv_rejected_rows(header=report.columns, rejected=report.rejected))))
    assert rows[0] == ["Vorname", "Firma", "E-Mail", "Notiz", "Intern", "row", "problems"]
    assert rows[1][:2] == ["", "Leer GmbH"]
    assert rows[1][5:] == ["3", "first_name: This field is required."]
    assert rows[2][0] == "'=Bob"  # a formula stays text
    assert rows[2][5:] == ["4", "email: Enter a valid email address."]


@pytest.mark.django_db
def test_the_api_takes_a_mapping_beside_the_file(api: APIClient) -> None:
    campaign = make_campaign(api)
    content = "Vorname;Notiz;Intern\nJürgen;VIP;x\n".encode("cp1252")
    unknown = api.post(
        f"/api/v1/campaigns/{campaign['id']}/recipients/",
        {"file": SimpleUploadedFile("p.csv", content, content_type="text/csv")},
        format="multipart",
    )
    assert unknown.status_code == 400
    assert set(unknown.json()["fields"]) == {"columns.Vorname", "columns.Notiz", "columns.Intern"}
    mapped = api.post(
        f"/api/v1/campaigns/{campaign['id']}/recipients/",
        {
            "file": SimpleUploadedFile("p.csv", content, content_type="text/csv"),
            "mapping": json.dumps({"Vorname": "first_name", "Notiz": "keep", "Intern": "ignore"}),
        },
        format="multipart",
    )
    assert mapped.status_code == 200, mapped.json()
    assert mapped.json()["accepted"] == 1
    assert Recipient.objects.get().fields == {"Notiz": "VIP"}
    bad = api.post(
        f"/api/v1/campaigns/{campaign['id']}/recipients/",
        {"file": SimpleUploadedFile("p.csv", content, content_type="text/csv"), "mapping": "[1]"},
        format="multipart",
    )
    assert bad.status_code == 400
    assert list(bad.json()["fields"]) == ["mapping"]
