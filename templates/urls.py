"""The ad-template API's routes, mounted under /api/v1/ by the root URLconf (core.urls)."""

from __future__ import annotations

from django.urls import path

from templates import apis

urlpatterns = [
    path("templates/", apis.TemplatesApi.as_view(), name="templates"),
    path("templates/<str:template_id>/", apis.TemplateDetailApi.as_view(), name="template-detail"),
    path(
        "templates/<str:template_id>/assets/", apis.TemplateAssetUploadApi.as_view(), name="template-assets"
    ),
    path(
        "templates/<str:template_id>/versions/", apis.TemplateVersionsApi.as_view(), name="template-versions"
    ),
    path("moderation/", apis.ModerationApi.as_view(), name="moderation"),
    path(
        "templates/<str:template_id>/versions/<int:version>/",
        apis.TemplateVersionDetailApi.as_view(),
        name="template-version-detail",
    ),
]
