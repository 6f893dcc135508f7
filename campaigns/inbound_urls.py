"""The CRM's workflow calls, mounted at /inbound/ by the root URLconf (core.urls): authenticated by the
integration's signature, not an API key (campaigns.crm), so outside /api/v1/."""

from __future__ import annotations

from django.urls import path

from campaigns import apis

urlpatterns = [
    path("<str:integration_id>/", apis.InboundApi.as_view(), name="inbound"),
]
