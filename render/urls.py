"""The render API's routes, mounted under /api/v1/ by the root URLconf (core.urls)."""

from __future__ import annotations

from django.urls import path

from render import apis

urlpatterns = [
    path("renders/", apis.RendersApi.as_view(), name="renders"),
    path("renders/<str:render_id>/", apis.RenderDetailApi.as_view(), name="render-detail"),
    path("renders/<str:render_id>/cancel/", apis.RenderCancelApi.as_view(), name="render-cancel"),
    path(
        "renders/<str:render_id>/watch/revoke/",
        apis.RenderWatchRevokeApi.as_view(),
        name="render-watch-revoke",
    ),
    path("images/", apis.ImageUploadApi.as_view(), name="images"),
    # A template's preview is drawn by render's compositor (templates sits below render).
    path("templates/<str:template_id>/preview/", apis.TemplatePreviewApi.as_view(), name="template-preview"),
]
