"""HTTP interface for billing: the workspace's billing state, Stripe Checkout and Customer Portal sessions."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.auth import request_workspace
from core.billing.selectors import billing_summary
from core.billing.stripe_sync import billing_checkout_start, billing_portal_start
from core.inputs import InputSerializer
from core.models import Membership


class BillingPlanOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    credits_per_period = serializers.IntegerField()
    renders_in_flight = serializers.IntegerField()
    max_format_pixels = serializers.IntegerField()


class BillingSubscriptionOutputSerializer(serializers.Serializer):
    status = serializers.CharField(allow_null=True)
    current_period_start = serializers.DateTimeField(allow_null=True)
    current_period_end = serializers.DateTimeField(allow_null=True)
    past_due_since = serializers.DateTimeField(allow_null=True)


class BillingCreditsOutputSerializer(serializers.Serializer):
    balance = serializers.IntegerField(
        help_text="Credits available now (the ledger's sum; reservations taken)."
    )
    reserved = serializers.IntegerField(help_text="Credits held by renders still in flight.")
    used_this_period = serializers.IntegerField(help_text="Credits captured by renders finished this period.")


class BillingPeriodOutputSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class BillingOutputSerializer(serializers.Serializer):
    billing_enabled = serializers.BooleanField()
    plan = BillingPlanOutputSerializer()
    subscription = BillingSubscriptionOutputSerializer()
    credits = BillingCreditsOutputSerializer()
    period = BillingPeriodOutputSerializer()
    renders_refused = serializers.CharField(allow_null=True)


class BillingSessionOutputSerializer(serializers.Serializer):
    url = serializers.URLField()


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="The same key, the same session.",
)


def _operation_key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    return key[:200] if key else None


class BillingApi(APIView):
    # A signed-in person needs the owner role (owners manage billing); API keys act for the workspace.
    read_role = write_role = Membership.Role.OWNER

    @extend_schema(responses=BillingOutputSerializer)
    def get(self, request: Request) -> Response:
        return Response(BillingOutputSerializer(billing_summary(workspace=request_workspace(request))).data)


class BillingCheckoutApi(APIView):
    # A signed-in person needs the owner role (owners manage billing); API keys act for the workspace.
    read_role = write_role = Membership.Role.OWNER

    class BillingCheckoutInputSerializer(InputSerializer):
        plan = serializers.CharField(max_length=50)

    @extend_schema(
        request=BillingCheckoutInputSerializer,
        responses={200: BillingSessionOutputSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request) -> Response:
        serializer = self.BillingCheckoutInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        url = billing_checkout_start(
            workspace=request_workspace(request),
            plan=serializer.validated_data["plan"],
            operation_key=_operation_key(request),
        )
        return Response(BillingSessionOutputSerializer({"url": url}).data)


class BillingPortalApi(APIView):
    # A signed-in person needs the owner role (owners manage billing); API keys act for the workspace.
    read_role = write_role = Membership.Role.OWNER

    @extend_schema(
        request=None, responses={200: BillingSessionOutputSerializer}, parameters=[IDEMPOTENCY_HEADER]
    )
    def post(self, request: Request) -> Response:
        url = billing_portal_start(
            workspace=request_workspace(request), operation_key=_operation_key(request)
        )
        return Response(BillingSessionOutputSerializer({"url": url}).data)
