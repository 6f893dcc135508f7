"""Nothing silently corrupted, and a bad recipient fails alone (docs/reliability.md R18). Each test is a
reproduction of a defect: a renamed integration, merged CSV rows, a row reported on the wrong line, an
external id stored as a Python repr, one recipient that stopped its whole chunk."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.csv_import import NOT_UTF8_ROW, UNTERMINATED_QUOTE
from campaigns.models import Campaign, Integration, Recipient
from campaigns.recipients import NOT_AN_IDENTIFIER
from campaigns.services import campaign_fanout
from render.models import Render, RenderStatus
from tests.campaigns.helpers import make_campaign, make_flat_template, upload_json
from tests.campaigns.test_recipients import upload_csv
from tests.conftest import SERVICES
from tests.render.test_api_renders import make_brand

pytestmark = pytest.mark.django_db


def test_an_integration_with_write_back_keeps_its_name(api: APIClient) -> None:
    for kind, writeback in (
        ("hubspot", {"enabled": True, "field": "video", "token": "pat-1"}),
        (
            "salesforce",
            {"enabled": True, "field": "Video__c", "token": "00D", "base_url": "http://127.0.0.1:9"},
        ),
    ):
        response = api.post(
            "/api/v1/integrations/",
            {
                "kind": kind,
                "name": "Spring promo",
                "template": make_flat_template(api),
                "brand": make_brand(api),
                "field_map": {"firstname": "first_name"},
                "writeback": writeback,
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["name"] == "Spring promo"
        assert Integration.objects.get(pk=response.json()["id"]).name == "Spring promo"


class TestCsv:
    def test_an_unterminated_quote_rejects_its_row_and_reads_the_rows_after_it(self, api: APIClient) -> None:
        campaign = make_campaign(api)
        content = b'first_name,company\nAnn,Acme\nBob,"Beta\nCarl,Gamma\nDora,Delta\n'
        body = upload_csv(api, campaign["id"], content).json()
        assert body["accepted"] == 3
        assert body["rejected"] == [{"row": 3, "fields": {"rows[3]": [UNTERMINATED_QUOTE]}, "cells": []}]
        names = sorted(Recipient.objects.values_list("variables__first_name", flat=True))
        assert names == ["Ann", "Carl", "Dora"]
        assert not any("\n" in str(r.variables) for r in Recipient.objects.all())

    def test_a_quote_closed_in_the_middle_of_a_cell_is_that_rows_problem(self, api: APIClient) -> None:
        campaign = make_campaign(api)
        content = b'first_name,company\nAnn,"Acme"s\nBob,Beta\n'
        body = upload_csv(api, campaign["id"], content).json()
        assert body["accepted"] == 1
        assert [item["row"] for item in body["rejected"]] == [2]

    def test_invalid_utf8_on_line_1502_is_reported_on_row_1502(self, api: APIClient) -> None:
        campaign = make_campaign(api)
        lines = ["first_name,company,external_id"]
        lines += [f"Zoë {row},Acme,c-{row}" for row in range(2, 2001)]
        content = "\n".join(lines).encode()
        content = content.replace(b"Zo\xc3\xab 1502,", b"Zo\xff 1502,")
        body = upload_csv(api, campaign["id"], content).json()
        assert body["rejected_count"] == 1
        assert body["rejected"][0]["row"] == 1502
        assert body["rejected"][0]["fields"] == {"rows[1502]": [NOT_UTF8_ROW]}
        assert body["rejected"][0]["cells"][0] == "Zo\ufffd 1502"
        assert body["accepted"] == 1998
        # The rest is still read as UTF-8: no mojibake from falling back to Windows-1252.
        assert Recipient.objects.get(external_id="c-2").variables["first_name"] == "Zoë 2"


class TestJsonIdentities:
    def test_whole_numbers_are_their_decimal_text_anything_else_is_refused(self, api: APIClient) -> None:
        campaign = make_campaign(api)
        body = upload_json(
            api,
            campaign["id"],
            [
                {"first_name": "Ann", "external_id": 9001},
                {"first_name": "Bob", "external_id": {"id": 1}},
                {"first_name": "Cy", "external_id": 1.5},
                {"first_name": "Di", "external_id": True},
                {"first_name": "Ed", "external_id": ["x"], "email": 7},
            ],
        )
        assert body["accepted"] == 1
        assert Recipient.objects.get().external_id == "9001"
        rejected = {item["row"]: item["fields"] for item in body["rejected"]}
        assert rejected[1] == {"recipients[1].external_id": [NOT_AN_IDENTIFIER]}
        assert rejected[2] == {"recipients[2].external_id": [NOT_AN_IDENTIFIER]}
        assert rejected[3] == {"recipients[3].external_id": [NOT_AN_IDENTIFIER]}
        assert rejected[4] == {"recipients[4].external_id": [NOT_AN_IDENTIFIER]}
        assert not Recipient.objects.filter(external_id__startswith="{").exists()


# --- one bad recipient --------------------------------------------------------------------------------------

BAD_VALUES = ["x" * 100] + ([] if SERVICES else ["Zo\ud800"])  # PostgreSQL cannot even store the surrogate


def _campaign_with(api: APIClient, bad: str) -> tuple[Campaign, list[Recipient]]:
    """Three recipients; the middle one's value was stored before the edge refused such values."""
    body = make_campaign(api)
    upload_json(api, body["id"], [{"first_name": "Ann"}, {"first_name": "Bob"}, {"first_name": "Cy"}])
    campaign = Campaign.objects.get(pk=body["id"])
    Recipient.objects.filter(campaign=campaign, position=2).update(
        variables={"first_name": bad, "company": "A"}
    )
    return campaign, list(Recipient.objects.filter(campaign=campaign).order_by("position"))


@pytest.mark.parametrize("bad", BAD_VALUES)
def test_a_bad_sample_fails_alone_with_its_reason(api: APIClient, bad: str) -> None:
    campaign, recipients = _campaign_with(api, bad)
    # It once answered 500, and kept the campaign in draft, so it did again on every try.
    response = api.post(f"/api/v1/campaigns/{campaign.pk}/samples/", {"count": 3}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["counts"]["failed"] == 1
    statuses = {s["external_id"] or s["id"]: s["status"] for s in response.json()["samples"]}
    assert sorted(statuses.values()) == ["failed", "queued", "queued"]
    failed = Render.objects.get(campaign_link__recipient=recipients[1])
    assert failed.status == RenderStatus.FAILED
    assert "variables.first_name" in failed.error
    assert failed.variables == {}
    assert api.post(f"/api/v1/campaigns/{campaign.pk}/approve/").status_code == 409


@pytest.mark.parametrize("bad", BAD_VALUES)
def test_a_bad_recipient_never_rolls_back_its_chunk(api: APIClient, bad: str) -> None:
    campaign, recipients = _campaign_with(api, bad)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING, launched_at=timezone.now())
    assert campaign_fanout(campaign_id=campaign.pk) == 3
    by_recipient: dict[Any, Any] = {
        r.pk: Render.objects.get(campaign_link__recipient=r).status for r in recipients
    }
    assert [by_recipient[r.pk] for r in recipients] == ["queued", "failed", "queued"]
    campaign.refresh_from_db()
    assert campaign.fanout_cursor == 3
    assert campaign.status == Campaign.Status.RUNNING
    progress = api.get(f"/api/v1/campaigns/{campaign.pk}/").json()["counts"]
    assert (progress["pending"], progress["queued"], progress["failed"]) == (0, 2, 1)
    csv_answer: Any = api.get(f"/api/v1/campaigns/{campaign.pk}/results.csv")
    results = b"".join(csv_answer.streaming_content).decode()
    assert results.count(",failed,") == 1
