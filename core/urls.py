from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView

from core import apis
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
    path(
        "schema/", SpectacularAPIView.as_view(permission_classes=[], authentication_classes=[]), name="schema"
    ),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("healthz", apis.healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
]

if not settings.AWS_STORAGE_BUCKET_NAME:
    # Embedded mode: Django serves the media folder itself (django.views.static.serve refuses paths that escape it).
    urlpatterns.append(re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}))
