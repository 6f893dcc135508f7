"""The campaign, webhook and integration API's routes, mounted under /api/v1/ by the root URLconf
(core.urls). The CRM's inbound calls are not API routes: campaigns.inbound_urls."""

from __future__ import annotations

from django.urls import path

from campaigns import apis

urlpatterns = [
    path("campaigns/", apis.CampaignsApi.as_view(), name="campaigns"),
    path("campaigns/<str:campaign_id>/", apis.CampaignDetailApi.as_view(), name="campaign-detail"),
    path(
        "campaigns/<str:campaign_id>/recipients/",
        apis.CampaignRecipientsApi.as_view(),
        name="campaign-recipients",
    ),
    path(
        "campaigns/<str:campaign_id>/recipients/<str:recipient_id>/",
        apis.CampaignRecipientDetailApi.as_view(),
        name="campaign-recipient-detail",
    ),
    path("campaigns/<str:campaign_id>/samples/", apis.CampaignSamplesApi.as_view(), name="campaign-samples"),
    path("campaigns/<str:campaign_id>/approve/", apis.CampaignApproveApi.as_view(), name="campaign-approve"),
    path("campaigns/<str:campaign_id>/launch/", apis.CampaignLaunchApi.as_view(), name="campaign-launch"),
    path("campaigns/<str:campaign_id>/pause/", apis.CampaignPauseApi.as_view(), name="campaign-pause"),
    path("campaigns/<str:campaign_id>/resume/", apis.CampaignResumeApi.as_view(), name="campaign-resume"),
    path("campaigns/<str:campaign_id>/cancel/", apis.CampaignCancelApi.as_view(), name="campaign-cancel"),
    path(
        "campaigns/<str:campaign_id>/analytics/",
        apis.CampaignAnalyticsApi.as_view(),
        name="campaign-analytics",
    ),
    path(
        "campaigns/<str:campaign_id>/results.csv",
        apis.CampaignResultsCsvApi.as_view(),
        name="campaign-results",
    ),
    path("webhooks/", apis.WebhooksApi.as_view(), name="webhooks"),
    path(
        "webhooks/callback-secret/", apis.WebhookCallbackSecretApi.as_view(), name="webhook-callback-secret"
    ),
    path("webhooks/<str:endpoint_id>/", apis.WebhookDetailApi.as_view(), name="webhook-detail"),
    path(
        "webhooks/<str:endpoint_id>/rotate-secret/",
        apis.WebhookRotateSecretApi.as_view(),
        name="webhook-rotate-secret",
    ),
    path("webhooks/<str:endpoint_id>/test/", apis.WebhookTestApi.as_view(), name="webhook-test"),
    path(
        "webhooks/<str:endpoint_id>/deliveries/",
        apis.WebhookDeliveriesApi.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhooks/<str:endpoint_id>/deliveries/<str:delivery_id>/replay/",
        apis.WebhookDeliveryReplayApi.as_view(),
        name="webhook-delivery-replay",
    ),
    path("integrations/", apis.IntegrationsApi.as_view(), name="integrations"),
    path(
        "integrations/<str:integration_id>/", apis.IntegrationDetailApi.as_view(), name="integration-detail"
    ),
]
