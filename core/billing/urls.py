"""The billing API's routes, mounted under /api/v1/ by the root URLconf (core.urls). Stripe's webhook is not
an API route (signed by Stripe, no API key): the root URLconf mounts it at /stripe/webhook/."""

from __future__ import annotations

from django.urls import path

from core.billing import apis

urlpatterns = [
    path("billing/", apis.BillingApi.as_view(), name="billing"),
    path("billing/checkout/", apis.BillingCheckoutApi.as_view(), name="billing-checkout"),
    path("billing/portal/", apis.BillingPortalApi.as_view(), name="billing-portal"),
]
