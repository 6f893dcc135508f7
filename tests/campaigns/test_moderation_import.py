"""Moderation of a campaign's recipients as they are imported: a row whose value is refused is a rejected row
in the import's report (named by its row and column, with the rule), never a failed render later; the other
rows are accepted."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from campaigns.models import Recipient
from tests.campaigns.helpers import make_campaign, upload_json
from tests.campaigns.test_recipients import upload_csv

pytestmark = pytest.mark.django_db

EN = "Refused by moderation (blocked_word: built-in list (en))."


def test_a_csv_with_one_refused_row_rejects_exactly_that_row(api: APIClient) -> None:
    campaign = make_campaign(api)
    content = (
        "first_name,company,email\n"
        "Zoë,Acme,zoe@example.com\n"
        "Sh1thead,Bobco,bob@example.com\n"  # row 3: a built-in list's word, spelt with a look-alike
        "Ana,Scunthorpe United,ana@example.com\n"  # a word inside a word is no word
    ).encode()
    response = upload_csv(api, campaign["id"], content)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["accepted"], body["rejected_count"]) == (2, 1)
    assert body["rejected"] == [
        {
            "row": 3,
            "fields": {"rows[3].first_name": [EN]},
            "cells": ["Sh1thead", "Bobco", "bob@example.com"],
        }
    ]
    assert sorted(Recipient.objects.values_list("email", flat=True)) == ["ana@example.com", "zoe@example.com"]


def test_the_workspace_lists_apply_to_json_rows_too(api: APIClient) -> None:
    campaign = make_campaign(api)
    assert (
        api.put("/api/v1/moderation/", {"block": ["Voldemort"], "allow": ["Dick"]}, format="json").status_code
        == 200
    )
    body = upload_json(
        api,
        campaign["id"],
        [
            {"first_name": "Dick", "company": "Acme"},  # allowed by the workspace
            {"first_name": "Tom", "company": "Voldemort Ltd"},
        ],
    )
    assert (body["accepted"], body["rejected_count"]) == (1, 1)
    assert body["rejected"][0]["fields"] == {
        "recipients[1].company": ["Refused by moderation (blocked_word: workspace block list)."]
    }


def test_a_word_made_by_a_value_and_the_text_around_it_rejects_the_row(api: APIClient) -> None:
    campaign = make_campaign(api)  # its second text: "{{company}}, let's talk."
    assert api.put("/api/v1/moderation/", {"block": ["shady, let's talk"]}, format="json").status_code == 200
    body = upload_json(api, campaign["id"], [{"first_name": "Zoë", "company": "Shady"}])
    assert body["rejected_count"] == 1
    assert body["rejected"][0]["fields"] == {
        "recipients[0]": [
            "Refused by moderation (blocked_word: workspace block list) in spec.scenes[1].layers[1].text, "
            "with this row's values."
        ]
    }
    # The template's own words blocked later are not a row's fault: its renders are refused instead.
    assert api.put("/api/v1/moderation/", {"block": ["talk"]}, format="json").status_code == 200
    assert upload_json(api, campaign["id"], [{"first_name": "Zoë", "company": "Acme"}])["accepted"] == 1
