from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView

from campaigns import apis as campaign_apis
from core import apis
from core.billing import apis as billing_apis
from core.billing.webhooks import stripe_webhook
from core.metrics import metrics_view
from render import apis as render_apis
from templates import apis as template_apis

api_v1 = [
    path("brands/", apis.BrandsApi.as_view(), name="brands"),
    path("brands/<str:brand_id>/", apis.BrandDetailApi.as_view(), name="brand-detail"),
    path("brands/<str:brand_id>/assets/", apis.BrandAssetUploadApi.as_view(), name="brand-assets"),
    path("templates/", template_apis.TemplatesApi.as_view(), name="templates"),
    path("templates/<str:template_id>/", template_apis.TemplateDetailApi.as_view(), name="template-detail"),
    path(
        "templates/<str:template_id>/assets/",
        template_apis.TemplateAssetUploadApi.as_view(),
        name="template-assets",
    ),
    path(
        "templates/<str:template_id>/versions/",
        template_apis.TemplateVersionsApi.as_view(),
        name="template-versions",
    ),
    path(
        "templates/<str:template_id>/versions/<int:version>/",
        template_apis.TemplateVersionDetailApi.as_view(),
        name="template-version-detail",
    ),
    path("renders/", render_apis.RendersApi.as_view(), name="renders"),
    path("renders/<str:render_id>/", render_apis.RenderDetailApi.as_view(), name="render-detail"),
    path("renders/<str:render_id>/cancel/", render_apis.RenderCancelApi.as_view(), name="render-cancel"),
    path("billing/", billing_apis.BillingApi.as_view(), name="billing"),
    path("billing/checkout/", billing_apis.BillingCheckoutApi.as_view(), name="billing-checkout"),
    path("billing/portal/", billing_apis.BillingPortalApi.as_view(), name="billing-portal"),
    path("campaigns/", campaign_apis.CampaignsApi.as_view(), name="campaigns"),
    path("campaigns/<str:campaign_id>/", campaign_apis.CampaignDetailApi.as_view(), name="campaign-detail"),
    path(
        "campaigns/<str:campaign_id>/recipients/",
        campaign_apis.CampaignRecipientsApi.as_view(),
        name="campaign-recipients",
    ),
    path(
        "campaigns/<str:campaign_id>/samples/",
        campaign_apis.CampaignSamplesApi.as_view(),
        name="campaign-samples",
    ),
    path(
        "campaigns/<str:campaign_id>/approve/",
        campaign_apis.CampaignApproveApi.as_view(),
        name="campaign-approve",
    ),
    path(
        "campaigns/<str:campaign_id>/launch/",
        campaign_apis.CampaignLaunchApi.as_view(),
        name="campaign-launch",
    ),
    path(
        "campaigns/<str:campaign_id>/pause/", campaign_apis.CampaignPauseApi.as_view(), name="campaign-pause"
    ),
    path(
        "campaigns/<str:campaign_id>/resume/",
        campaign_apis.CampaignResumeApi.as_view(),
        name="campaign-resume",
    ),
    path(
        "campaigns/<str:campaign_id>/cancel/",
        campaign_apis.CampaignCancelApi.as_view(),
        name="campaign-cancel",
    ),
    path(
        "campaigns/<str:campaign_id>/results.csv",
        campaign_apis.CampaignResultsCsvApi.as_view(),
        name="campaign-results",
    ),
    path("webhooks/", campaign_apis.WebhooksApi.as_view(), name="webhooks"),
    path(
        "webhooks/callback-secret/",
        campaign_apis.WebhookCallbackSecretApi.as_view(),
        name="webhook-callback-secret",
    ),
    path("webhooks/<str:endpoint_id>/", campaign_apis.WebhookDetailApi.as_view(), name="webhook-detail"),
    path(
        "webhooks/<str:endpoint_id>/deliveries/",
        campaign_apis.WebhookDeliveriesApi.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhooks/<str:endpoint_id>/deliveries/<str:delivery_id>/replay/",
        campaign_apis.WebhookDeliveryReplayApi.as_view(),
        name="webhook-delivery-replay",
    ),
    path("integrations/", campaign_apis.IntegrationsApi.as_view(), name="integrations"),
    path(
        "integrations/<str:integration_id>/",
        campaign_apis.IntegrationDetailApi.as_view(),
        name="integration-detail",
    ),
    path(
        "schema/", SpectacularAPIView.as_view(permission_classes=[], authentication_classes=[]), name="schema"
    ),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("healthz", apis.healthz, name="healthz"),
    # CRM workflow calls: authenticated by the integration's signature, not an API key (campaigns.crm).
    path("inbound/<str:integration_id>/", campaign_apis.InboundApi.as_view(), name="inbound"),
    path("stripe/webhook/", stripe_webhook, name="stripe-webhook"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
]

if not settings.AWS_STORAGE_BUCKET_NAME:
    # Embedded mode: Django serves the media folder itself (django.views.static.serve refuses paths that escape it).
    urlpatterns.append(re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}))
