"""URL names and paths stay as they were when each app took over its own routes (core.urls includes them)."""

from __future__ import annotations

import pytest
from django.urls import resolve, reverse

X = "00000000-0000-0000-0000-000000000001"

NAMES = [
    ("brands", [], "/api/v1/brands/"),
    ("brand-assets", [X], f"/api/v1/brands/{X}/assets/"),
    ("templates", [], "/api/v1/templates/"),
    ("template-version-detail", [X, 3], f"/api/v1/templates/{X}/versions/3/"),
    ("renders", [], "/api/v1/renders/"),
    ("render-cancel", [X], f"/api/v1/renders/{X}/cancel/"),
    ("billing", [], "/api/v1/billing/"),
    ("billing-portal", [], "/api/v1/billing/portal/"),
    ("campaigns", [], "/api/v1/campaigns/"),
    ("campaign-results", [X], f"/api/v1/campaigns/{X}/results.csv"),
    ("webhook-callback-secret", [], "/api/v1/webhooks/callback-secret/"),
    ("webhook-delivery-replay", [X, X], f"/api/v1/webhooks/{X}/deliveries/{X}/replay/"),
    ("integration-detail", [X], f"/api/v1/integrations/{X}/"),
    ("schema", [], "/api/v1/schema/"),
    ("inbound", [X], f"/inbound/{X}/"),
    ("stripe-webhook", [], "/stripe/webhook/"),
    ("healthz", [], "/healthz"),
    ("metrics", [], "/metrics"),
    ("admin:index", [], "/admin/"),
]


@pytest.mark.parametrize(("name", "args", "path"), NAMES)
def test_url_names_give_the_same_paths(name: str, args: list[object], path: str) -> None:
    assert reverse(name, args=args) == path
    assert resolve(path).view_name == name
