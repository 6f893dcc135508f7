"""The root URLconf. Each app owns its routes in its own `urls.py`, included here by dotted string, so core
imports no product app (docs/architecture.md). Core's own routes (brands, API keys, members, health, metrics, Stripe's webhook,
the admin, embedded media) are listed here."""

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from core import apis, health, trust_apis
from core.billing.webhooks import stripe_webhook
from core.media import media_serve
from core.metrics import metrics_view

# Every API route, under /api/v1/. No app_name: URL names stay global ("renders", "campaign-detail", ...).
api_v1: list[URLPattern | URLResolver] = [
    path("brands/", apis.BrandsApi.as_view(), name="brands"),
    path("brands/<str:brand_id>/", apis.BrandDetailApi.as_view(), name="brand-detail"),
    path("brands/<str:brand_id>/assets/", apis.BrandAssetUploadApi.as_view(), name="brand-assets"),
    path(
        "brands/<str:brand_id>/assets/<str:asset_id>/",
        apis.BrandAssetDetailApi.as_view(),
        name="brand-asset-detail",
    ),
    path("api-keys/", apis.ApiKeysApi.as_view(), name="api-keys"),
    path("api-keys/<str:api_key_id>/revoke/", apis.ApiKeyRevokeApi.as_view(), name="api-key-revoke"),
    path("members/", apis.MembersApi.as_view(), name="members"),
    path("members/<str:member_id>/", apis.MemberDetailApi.as_view(), name="member-detail"),
    path("audit/", trust_apis.AuditApi.as_view(), name="audit"),
    path("audit.csv", trust_apis.AuditCsvApi.as_view(), name="audit-csv"),
    path("consents/", trust_apis.ConsentsApi.as_view(), name="consents"),
    path("consents/<str:consent_id>/", trust_apis.ConsentDetailApi.as_view(), name="consent-detail"),
    path("consents/<str:consent_id>/revoke/", trust_apis.ConsentRevokeApi.as_view(), name="consent-revoke"),
    path("workspace/delete/", trust_apis.WorkspaceDeleteApi.as_view(), name="workspace-delete"),
    path("", include("templates.urls")),
    path("", include("render.urls")),
    path("", include("core.billing.urls")),
    path("", include("campaigns.urls")),
    path(
        "schema/", SpectacularAPIView.as_view(permission_classes=[], authentication_classes=[]), name="schema"
    ),
]

# A URL no route matches: the error shape under /api/ and the other programs' routes (core.exceptions).
handler404 = "core.exceptions.page_not_found"

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # CRM workflow calls: authenticated by the integration's signature, not an API key (campaigns.crm).
    path("inbound/", include("campaigns.inbound_urls")),
    # A render's public watch page: no key, no session, the token is the secret (render.watch).
    path("w/", include("render.watch_urls")),
    path("stripe/webhook/", stripe_webhook, name="stripe-webhook"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("", include("dashboard.urls")),
]

if not settings.AWS_STORAGE_BUCKET_NAME:
    # Embedded mode: Django serves render outputs and uploaded assets itself, only through the signed,
    # expiring URLs `core.storage.LocalStorage.url` hands out (core.media); generated pictures never.
    urlpatterns.append(re_path(r"^media/(?P<path>.*)$", media_serve, name="media"))
