"""The campaign page's engagement: the funnel (sent → viewed → played → completed → clicked) drawn on the
server, from the same analytics the API answers."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.campaigns.test_analytics import EVERYTHING, sampled_campaign
from tests.render.test_watch_events import beacon

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("run_tasks_inline")]


def funnel_rows(html: str) -> list[tuple[str, str, str]]:
    """(label, bar width, count) per step, as the page draws them."""
    return re.findall(
        r'<span class="funnel-label">([^<]+)</span>\s*<span class="funnel-track" aria-hidden="true">'
        r'<span class="funnel-bar" style="width: (\d+)%"></span></span>\s*<span class="funnel-count">(\d+) ',
        html,
    )


def test_the_campaign_page_draws_the_funnel(api: APIClient, viewer: Client) -> None:
    campaign_id, pages = sampled_campaign(api, recipients=2)
    empty = viewer.get(f"/campaigns/{campaign_id}/").content.decode()
    assert [(label, count) for label, _w, count in funnel_rows(empty)] == [
        ("Sent (watch link ready)", "2"),
        ("Viewed", "0"),
        ("Played", "0"),
        ("Watched to the end", "0"),
        ("Clicked the button", "0"),
    ]
    for kind in EVERYTHING:
        beacon(pages["p0@example.com"], kind)
    beacon(pages["p1@example.com"], "view", session="second-person-0001")
    html = viewer.get(f"/campaigns/{campaign_id}/").content.decode()
    assert funnel_rows(html) == [
        ("Sent (watch link ready)", "100", "2"),
        ("Viewed", "100", "2"),
        ("Played", "50", "1"),
        ("Watched to the end", "50", "1"),
        ("Clicked the button", "50", "1"),
    ]
    assert "2 views · 1 play · watched 100.0 % on average · 1 click" in html
