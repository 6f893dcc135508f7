"""Builders for campaign tests, through the public API."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from tests.factories import small_spec
from tests.render.test_api_renders import make_brand, make_template


def flat_spec() -> dict[str, Any]:
    """The small test template without its generated background: campaign and webhook tests exercise the
    fan-out and deliveries, not diffusion (ffmpeg composition still runs for real)."""
    spec = small_spec()
    spec["scenes"][0]["background"] = {"color": "brand.secondary", "motion": "none"}
    return spec


def make_flat_template(api: APIClient) -> str:
    return make_template(api, flat_spec())


def make_campaign(api: APIClient, **extra: Any) -> dict[str, Any]:
    response = api.post(
        "/api/v1/campaigns/",
        {"name": "Spring", "template": make_flat_template(api), "brand": make_brand(api), **extra},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body: dict[str, Any] = response.json()
    return body


def upload_json(api: APIClient, campaign_id: str, recipients: list[Any]) -> dict[str, Any]:
    response = api.post(
        f"/api/v1/campaigns/{campaign_id}/recipients/", {"recipients": recipients}, format="json"
    )
    assert response.status_code == 200, response.json()
    body: dict[str, Any] = response.json()
    return body
