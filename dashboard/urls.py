"""The dashboard's pages. Included at the site root by core.urls (after /api/, /admin/ and the rest)."""

from __future__ import annotations

from django.urls import path
from django.views.generic import RedirectView

from dashboard.views import (
    ad_templates,
    audit,
    billing,
    brands,
    campaigns,
    consents,
    home,
    integrations,
    keys,
    moderation,
    people,
    renders,
    webhooks,
)

app_name = "dashboard"

urlpatterns = [
    path("", home.home, name="home"),
    # People
    path("login/", people.login, name="login"),
    path("logout/", people.logout, name="logout"),
    path("password-reset/", people.password_reset, name="password_reset"),
    path("password-reset/sent/", people.password_reset_done, name="password_reset_done"),
    path("reset/<uidb64>/<token>/", people.password_reset_confirm, name="password_reset_confirm"),
    path("reset/done/", people.password_reset_complete, name="password_reset_complete"),
    path("workspace/", people.workspace_switch, name="workspace_switch"),
    path("members/", people.members, name="members"),
    path("members/<str:member_id>/role/", people.member_role, name="member_role"),
    path("members/<str:member_id>/remove/", people.member_delete, name="member_remove"),
    # Brand kit
    path("brands/", brands.brands, name="brands"),
    path("brands/new/", brands.brand_new, name="brand_new"),
    path("brands/<str:brand_id>/", brands.brand, name="brand"),
    path("brands/<str:brand_id>/assets/", brands.brand_asset, name="brand_asset"),
    path("brands/<str:brand_id>/delete/", brands.brand_remove, name="brand_delete"),
    path(
        "brands/<str:brand_id>/assets/<str:asset_id>/delete/",
        brands.brand_asset_remove,
        name="brand_asset_delete",
    ),
    # Templates
    path("templates/", ad_templates.templates, name="templates"),
    path("templates/new/", ad_templates.template_new, name="template_new"),
    path("templates/<str:template_id>/", ad_templates.template, name="template"),
    path("templates/<str:template_id>/edit/", ad_templates.template_edit, name="template_edit"),
    path("templates/<str:template_id>/preview/", ad_templates.template_preview_view, name="template_preview"),
    path("templates/<str:template_id>/poster", ad_templates.template_poster, name="template_poster"),
    path("templates/<str:template_id>/sample/", ad_templates.template_sample, name="template_sample"),
    path("templates/<str:template_id>/archive/", ad_templates.template_archive, name="template_archive"),
    # Campaigns
    path("campaigns/", campaigns.campaigns, name="campaigns"),
    path("campaigns/new/", campaigns.campaign_new, name="campaign_new"),
    path("campaigns/<str:campaign_id>/", campaigns.campaign, name="campaign"),
    path("campaigns/<str:campaign_id>/live/", campaigns.campaign_live, name="campaign_live"),
    path(
        "campaigns/<str:campaign_id>/recipients/", campaigns.campaign_recipients, name="campaign_recipients"
    ),
    path(
        "campaigns/<str:campaign_id>/recipients/mapping/",
        campaigns.campaign_recipients_map,
        name="campaign_recipients_map",
    ),
    path("campaigns/<str:campaign_id>/samples/", campaigns.campaign_samples, name="campaign_samples"),
    path("campaigns/<str:campaign_id>/approve/", campaigns.campaign_approve, name="campaign_approve"),
    path(
        "campaigns/<str:campaign_id>/request-changes/",
        campaigns.campaign_request_changes,
        name="campaign_request_changes",
    ),
    path("campaigns/<str:campaign_id>/launch/", campaigns.campaign_launch, name="campaign_launch"),
    path("campaigns/<str:campaign_id>/pause/", campaigns.campaign_pause, name="campaign_pause"),
    path("campaigns/<str:campaign_id>/resume/", campaigns.campaign_resume, name="campaign_resume"),
    path("campaigns/<str:campaign_id>/cancel/", campaigns.campaign_cancel, name="campaign_cancel"),
    path("campaigns/<str:campaign_id>/results.csv", campaigns.campaign_results_csv, name="campaign_results"),
    path(
        "campaigns/<str:campaign_id>/recipients/<str:recipient_id>/erase/",
        campaigns.campaign_recipient_erase,
        name="campaign_recipient_erase",
    ),
    # Renders
    path("renders/", renders.renders, name="renders"),
    path("renders/<str:render_id>/", renders.render_detail, name="render"),
    path("renders/<str:render_id>/cancel/", renders.render_cancel_view, name="render_cancel"),
    # Webhooks
    path("webhooks/", webhooks.webhooks, name="webhooks"),
    path("webhooks/<str:endpoint_id>/", webhooks.webhook, name="webhook"),
    path("webhooks/<str:endpoint_id>/toggle/", webhooks.webhook_toggle, name="webhook_toggle"),
    path("webhooks/<str:endpoint_id>/delete/", webhooks.webhook_delete, name="webhook_delete"),
    path("webhooks/<str:endpoint_id>/rotate-secret/", webhooks.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<str:endpoint_id>/test/", webhooks.webhook_test, name="webhook_test"),
    path(
        "webhooks/<str:endpoint_id>/deliveries/<str:delivery_id>/replay/",
        webhooks.webhook_replay,
        name="webhook_replay",
    ),
    # CRM integrations
    path("integrations/", integrations.integrations, name="integrations"),
    path(
        "integrations/<str:integration_id>/delete/",
        integrations.integration_delete,
        name="integration_delete",
    ),
    # Moderation lists (editors read, owners change)
    path("moderation/", moderation.moderation, name="moderation"),
    # Consents for likeness (editors) and the audit log (owners): docs/trust.md
    path("consents/", consents.consents, name="consents"),
    path("consents/<str:consent_id>/revoke/", consents.consent_revoke_view, name="consent_revoke"),
    path("audit/", audit.audit, name="audit"),
    path("audit.csv", audit.audit_csv_view, name="audit_csv"),
    path("audit/verify/", audit.audit_verify_view, name="audit_verify"),
    # API keys and billing (owners)
    path("api-keys/", keys.api_keys, name="api_keys"),
    path("api-keys/<str:api_key_id>/revoke/", keys.api_key_revoke_view, name="api_key_revoke"),
    # No trailing slash: the address Stripe sends people back to (REELSMITH_BILLING_RETURN_URL).
    path("billing", billing.billing, name="billing"),
    path("billing/", RedirectView.as_view(pattern_name="dashboard:billing", query_string=True)),
    path("billing/checkout", billing.billing_checkout, name="billing_checkout"),
    path("billing/portal", billing.billing_portal, name="billing_portal"),
]
