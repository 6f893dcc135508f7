"""The support admin: every registered page answers, lists cost the same queries however many rows they
show (no query per row), and revoking API keys goes through the service (the key then answers 401)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignRun, Integration, WebhookDelivery, WebhookEndpoint
from core.billing.ledger import billing_account_get_or_create, credits_grant
from core.billing.models import BillingAccount, CreditEntry
from core.models import ApiKey, Brand, BrandAsset, Membership, Workspace
from core.services import api_key_create
from render.models import Generation, Render, RenderGeneration
from templates.models import AdTemplate, TemplateAsset, TemplateVersion
from tests.factories import BrandFactory, WorkspaceFactory, small_spec

# The apps whose models support looks at (Django's own and django-celery-beat's pages are theirs to test).
OUR_APPS = {"core", "ad_templates", "render", "campaigns"}


def _world() -> dict[type[Any], Any]:
    """One row of every model the admin shows, as the services would leave them."""
    workspace = WorkspaceFactory.create()
    user = get_user_model().objects.create_user(username=f"member-{uuid.uuid4().hex[:8]}")
    Membership.objects.create(workspace=workspace, user=user, role=Membership.Role.OWNER)
    api_key, _raw = api_key_create(workspace=workspace, name="ci")
    brand = BrandFactory.create(workspace=workspace)
    BrandAsset.objects.create(
        brand=brand, kind="logo", storage_key="k", content_type="image/png", size=1, sha256="0" * 64
    )
    template = AdTemplate.objects.create(workspace=workspace, name="T", latest_version=1)
    TemplateAsset.objects.create(
        template=template, kind="music", storage_key="k", content_type="audio/mpeg", size=1, sha256="0" * 64
    )
    version = TemplateVersion.objects.create(template=template, version=1, spec=small_spec(), variables={})
    render = Render.objects.create(
        workspace=workspace, template_version=version, brand=brand, variables={}, error="boom"
    )
    base = Generation.objects.create(
        key=uuid.uuid4().hex * 2,
        model="tiny-sd",
        prompt="p",
        seed=1,
        width=64,
        height=64,
        steps=1,
        guidance=0.0,
        shape_key="s",
    )
    variant = Generation.objects.create(
        key=uuid.uuid4().hex * 2,
        model="tiny-sd",
        prompt="p",
        seed=1,
        width=64,
        height=64,
        steps=1,
        guidance=0.0,
        shape_key="s",
        base=base,
        strength=0.5,
    )
    RenderGeneration.objects.create(render=render, generation=variant)
    account = billing_account_get_or_create(workspace=workspace)
    entry = credits_grant(workspace=workspace, amount=10, note="support test")
    campaign = Campaign.objects.create(workspace=workspace, name="C", template_version=version, brand=brand)
    CampaignRun.objects.create(campaign=campaign, slot="2025-01-01T00:00:00Z", from_position=1, to_position=1)
    endpoint = WebhookEndpoint.objects.create(
        workspace=workspace, url="https://example.com/h", secret="whsec_NEVER_SHOWN"
    )
    delivery = WebhookDelivery.objects.create(
        workspace=workspace,
        endpoint=endpoint,
        url=endpoint.url,
        event="render.succeeded",
        message_id=uuid.uuid4().hex,
        dedupe_key=uuid.uuid4().hex,
        payload={},
    )
    integration = Integration.objects.create(
        workspace=workspace,
        kind="generic",
        template=template,
        brand=brand,
        secret="NEVER_SHOWN_EITHER",
        writeback_token="NOR_THIS",
    )
    return {
        Workspace: workspace,
        Membership: Membership.objects.get(user=user),
        ApiKey: api_key,
        Brand: brand,
        AdTemplate: template,
        TemplateVersion: version,
        Render: render,
        Generation: base,
        BillingAccount: account,
        CreditEntry: entry,
        Campaign: campaign,
        CampaignRun: campaign.runs.get(),
        WebhookEndpoint: endpoint,
        WebhookDelivery: delivery,
        Integration: integration,
    }


def _our_models() -> list[type[Any]]:
    return [model for model in admin.site._registry if model._meta.app_label in OUR_APPS]


@pytest.fixture
def staff(db: Any) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser(username="support", password="x"))
    return client


def _changelist(model: type[Any]) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def test_every_support_page_answers(staff: Client) -> None:
    rows = _world()
    models = _our_models()
    expected = {
        "Workspace",
        "Membership",
        "ApiKey",
        "Brand",
        "AdTemplate",
        "TemplateVersion",
        "Render",
        "Generation",
        "BillingAccount",
        "CreditEntry",
        "Campaign",
        "CampaignRun",
        "WebhookEndpoint",
        "WebhookDelivery",
        "Integration",
    }
    assert expected <= {model.__name__ for model in models}
    for model in models:
        response = staff.get(_changelist(model))
        assert response.status_code == 200, model
    for shown, obj in rows.items():
        url = reverse(f"admin:{shown._meta.app_label}_{shown._meta.model_name}_change", args=[obj.pk])
        assert staff.get(url).status_code == 200, shown
    # Read-only: no add page, and a change page offers no save.
    assert staff.get(reverse("admin:render_render_add")).status_code == 403
    render_page = staff.get(reverse("admin:render_render_change", args=[rows[Render].pk]))
    assert b'name="_save"' not in render_page.content
    assert b"boom" in render_page.content  # the render's error
    # Secrets are never shown.
    for model, secret in (
        (WebhookEndpoint, b"whsec_NEVER"),
        (Integration, b"NEVER_SHOWN"),
        (Integration, b"NOR_THIS"),
    ):
        url = reverse(f"admin:campaigns_{model._meta.model_name}_change", args=[rows[model].pk])
        assert secret not in staff.get(url).content
    key_page = staff.get(reverse("admin:core_apikey_change", args=[rows[ApiKey].pk]))
    assert rows[ApiKey].key_hash.encode() not in key_page.content


def test_lists_cost_the_same_queries_for_one_row_or_three(staff: Client) -> None:
    _world()
    one = {}
    for model in _our_models():
        with CaptureQueriesContext(connection) as queries:
            assert staff.get(_changelist(model)).status_code == 200
        one[model] = len(queries)
    _world()
    _world()
    for model in _our_models():
        with CaptureQueriesContext(connection) as queries:
            assert staff.get(_changelist(model)).status_code == 200
        assert len(queries) == one[model], f"{model.__name__}: a query per row"


def test_revoking_a_key_in_the_admin_locks_it_out_of_the_api(staff: Client) -> None:
    workspace = WorkspaceFactory.create()
    api_key, raw = api_key_create(workspace=workspace, name="leaked")
    _kept, kept_raw = api_key_create(workspace=workspace, name="kept")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/brands/").status_code == 200

    response = staff.post(
        _changelist(ApiKey), {"action": "revoke_selected", "_selected_action": [str(api_key.pk)]}
    )
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert api.get("/api/v1/brands/").status_code == 401
    kept = APIClient()
    kept.credentials(HTTP_AUTHORIZATION=f"Bearer {kept_raw}")
    assert kept.get("/api/v1/brands/").status_code == 200


def test_only_staff_allowed_to_change_keys_may_revoke_them(db: Any) -> None:
    viewer = get_user_model().objects.create_user(username="viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_apikey"))
    client = Client()
    client.force_login(viewer)
    response = client.get(_changelist(ApiKey))
    assert response.status_code == 200
    assert b"revoke_selected" not in response.content
    viewer.user_permissions.add(Permission.objects.get(codename="change_apikey"))
    viewer = get_user_model().objects.get(pk=viewer.pk)  # permissions are cached per user object
    client.force_login(viewer)
    assert b"revoke_selected" in client.get(_changelist(ApiKey)).content
