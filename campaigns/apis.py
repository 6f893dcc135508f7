"""HTTP interface for campaigns, outbound webhooks and CRM integrations. One class per URL; no logic."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import crm, erasure, recipients, selectors, services, webhooks
from campaigns.models import Campaign, Integration, WebhookDelivery, WebhookEvent
from core.apis import SecretField
from core.auth import request_actor, request_workspace, secrets_context
from core.errors import ApplicationError, NotFoundError
from core.inputs import InputSerializer
from core.models import Membership
from core.pagination import CursorPagination
from core.parsers import JSONParser, MultiPartParser
from core.schema import error_responses
from core.selectors import brand_get_for_workspace
from render.apis import RenderOutputSerializer, resolve_template_and_brand
from templates.selectors import template_get_for_workspace, template_usable_check

NO_SUCH_TEMPLATE = "No such template."
NO_SUCH_BRAND = "No such brand."
# The first recipients rendered for review when `count` is not given (docs/api.md).
DEFAULT_SAMPLES = 3
# A review batch, not a campaign: more than this is what launch is for.
MAX_SAMPLES = 20


# --- campaigns ----------------------------------------------------------------------------------------------


class CampaignScheduleSerializer(InputSerializer):
    cron = serializers.CharField(max_length=100)
    timezone = serializers.CharField(max_length=64, required=False, default="UTC")


class CampaignOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=Campaign.Status.choices)
    status_reason = serializers.CharField()
    template = serializers.UUIDField(source="template_version.template_id")
    version = serializers.IntegerField(source="template_version.version")
    brand = serializers.UUIDField(source="brand_id")
    schedule = serializers.SerializerMethodField()
    recurring = serializers.BooleanField()
    sample_count = serializers.IntegerField()
    approved_by = serializers.CharField()
    approved_at = serializers.DateTimeField(allow_null=True)
    launched_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    watch_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="When the renders' watch pages stop answering (410); null: never."
    )
    created_at = serializers.DateTimeField()

    def get_schedule(self, campaign: Campaign) -> dict[str, str] | None:
        if not campaign.schedule_cron:
            return None
        return {"cron": campaign.schedule_cron, "timezone": campaign.schedule_timezone}


class CampaignCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="Recipients whose render has not been requested yet.")
    queued = serializers.IntegerField()
    generating = serializers.IntegerField()
    composing = serializers.IntegerField()
    uploading = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    canceled = serializers.IntegerField()


class CampaignDetailOutputSerializer(CampaignOutputSerializer):
    counts = CampaignCountsSerializer()
    eta_seconds = serializers.FloatField(allow_null=True)


def _campaign_detail(campaign: Campaign) -> dict[str, Any]:
    campaign.refresh_from_db()
    return {**CampaignOutputSerializer(campaign).data, **selectors.campaign_progress(campaign=campaign)}


class CampaignsApi(APIView):
    class CampaignCreateInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=100)
        template = serializers.UUIDField()
        version = serializers.IntegerField(required=False, min_value=1)
        brand = serializers.UUIDField()
        schedule = CampaignScheduleSerializer(required=False, allow_null=True)
        recurring = serializers.BooleanField(required=False, default=False)
        watch_expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    @extend_schema(responses=CampaignOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        paginator = CursorPagination()
        campaigns = selectors.campaign_list(workspace=request_workspace(request)).select_related(
            "template_version"
        )
        page = paginator.paginate_queryset(campaigns, request, view=self)
        return paginator.get_paginated_response(CampaignOutputSerializer(page, many=True).data)

    @extend_schema(request=CampaignCreateInputSerializer, responses={201: CampaignDetailOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.CampaignCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workspace = request_workspace(request)
        template_version, brand = resolve_template_and_brand(
            workspace=workspace,
            template_id=data["template"],
            version=data.get("version"),
            brand_id=data["brand"],
        )
        schedule = data.get("schedule") or {}
        campaign = services.campaign_create(
            workspace=workspace,
            name=data["name"],
            template_version=template_version,
            brand=brand,
            schedule_cron=schedule.get("cron", ""),
            schedule_timezone=schedule.get("timezone", ""),
            recurring=data["recurring"],
        )
        if data["watch_expires_at"] is not None:
            services.campaign_watch_expiry_set(campaign=campaign, expires_at=data["watch_expires_at"])
        return Response(_campaign_detail(campaign), status=status.HTTP_201_CREATED)


class CampaignDetailApi(APIView):
    @extend_schema(responses=CampaignDetailOutputSerializer)
    def get(self, request: Request, campaign_id: str) -> Response:
        campaign = selectors.campaign_get_for_workspace(
            workspace=request_workspace(request), campaign_id=campaign_id
        )
        return Response(_campaign_detail(campaign))

    class CampaignUpdateInputSerializer(InputSerializer):
        watch_expires_at = serializers.DateTimeField(
            allow_null=True, help_text="When the watch pages stop answering (410); null: never."
        )

    @extend_schema(request=CampaignUpdateInputSerializer, responses=CampaignDetailOutputSerializer)
    def patch(self, request: Request, campaign_id: str) -> Response:
        """Change what may change after creation: the watch pages' expiry (pages made already included)."""
        campaign = selectors.campaign_get_for_workspace(
            workspace=request_workspace(request), campaign_id=campaign_id
        )
        serializer = self.CampaignUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = services.campaign_watch_expiry_set(
            campaign=campaign, expires_at=serializer.validated_data["watch_expires_at"]
        )
        return Response(_campaign_detail(campaign))


class CampaignEngagementSerializer(serializers.Serializer):
    views = serializers.IntegerField(help_text="Watch pages shown to a person (bots and unfurlers are not).")
    unique_viewers = serializers.IntegerField(help_text="Distinct viewers per page and day, summed.")
    plays = serializers.IntegerField()
    play_rate = serializers.FloatField(help_text="plays / views")
    avg_watch_percent = serializers.FloatField(help_text="How far plays got, in quarters of the video.")
    completions = serializers.IntegerField(help_text="Plays that reached the end.")
    completion_rate = serializers.FloatField(help_text="completions / plays")
    cta_clicks = serializers.IntegerField()
    click_rate = serializers.FloatField(help_text="cta_clicks / views")
    bot_hits = serializers.IntegerField(help_text="Fetches by bots, link unfurlers and prefetches.")


class CampaignFunnelSerializer(serializers.Serializer):
    sent = serializers.IntegerField(help_text="Recipients with a watch page (their render succeeded).")
    viewed = serializers.IntegerField()
    played = serializers.IntegerField()
    completed = serializers.IntegerField()
    clicked = serializers.IntegerField()


class CampaignEngagementDaySerializer(CampaignEngagementSerializer):
    day = serializers.DateField()


class CampaignAnalyticsApi(APIView):
    class AnalyticsOutputSerializer(CampaignEngagementSerializer):
        campaign = serializers.UUIDField()
        funnel = CampaignFunnelSerializer()
        days = CampaignEngagementDaySerializer(
            many=True, help_text="One entry per UTC day with any activity, oldest first."
        )

    @extend_schema(responses=AnalyticsOutputSerializer)
    def get(self, request: Request, campaign_id: str) -> Response:
        """Engagement with the campaign's watch pages: totals, the funnel in recipients, and per UTC day."""
        campaign = selectors.campaign_get_for_workspace(
            workspace=request_workspace(request), campaign_id=campaign_id
        )
        return Response(self.AnalyticsOutputSerializer(selectors.campaign_analytics(campaign=campaign)).data)


class CampaignRecipientsApi(APIView):
    parser_classes = [JSONParser, MultiPartParser]

    class RecipientsInputSerializer(InputSerializer):
        recipients = serializers.ListField(child=serializers.JSONField())

    class RecipientsCsvInputSerializer(InputSerializer):
        file = serializers.FileField(
            help_text="A CSV with a header row: UTF-8 (a BOM is fine) or Windows-1252, `,` or `;` between "
            "cells; headers such as “First Name” are matched to `first_name` (docs/campaigns.md)."
        )
        mapping = serializers.JSONField(
            binary=True,
            required=False,
            help_text="JSON object: a CSV column's header → a template variable, `email`, `external_id`, "
            "`keep` (kept with the recipient) or `ignore`. Columns not named are matched by their header.",
        )

    class RecipientsOutputSerializer(serializers.Serializer):
        accepted = serializers.IntegerField()
        duplicates = serializers.IntegerField()
        rejected_count = serializers.IntegerField()
        rejected = serializers.ListField(child=serializers.DictField())

    @extend_schema(
        request={
            "application/json": RecipientsInputSerializer,
            "multipart/form-data": RecipientsCsvInputSerializer,
        },
        responses=RecipientsOutputSerializer,
    )
    def post(self, request: Request, campaign_id: str) -> Response:
        campaign = selectors.campaign_get_for_workspace(
            workspace=request_workspace(request), campaign_id=campaign_id
        )
        if request.content_type.startswith("multipart/"):
            csv_input = self.RecipientsCsvInputSerializer(data=request.data)
            csv_input.is_valid(raise_exception=True)
            upload = csv_input.validated_data["file"]
            upload.seek(0)
            report = recipients.recipients_import(
                campaign=campaign, file=upload.file, mapping=csv_input.validated_data.get("mapping")
            )
        else:
            if not request.data:
                raise ApplicationError(
                    recipients.RECIPIENTS_REQUIRED, fields={"recipients": recipients.RECIPIENTS_REQUIRED}
                )
            json_input = self.RecipientsInputSerializer(data=request.data)
            json_input.is_valid(raise_exception=True)
            report = recipients.recipients_import(
                campaign=campaign, recipients=json_input.validated_data["recipients"]
            )
        return Response(
            {
                "accepted": report.accepted,
                "duplicates": report.duplicates,
                "rejected_count": report.rejected_count,
                "rejected": report.rejected,
            }
        )


class CampaignRecipientDetailApi(APIView):
    @extend_schema(request=None, responses={202: None})
    def delete(self, request: Request, campaign_id: str, recipient_id: str) -> Response:
        """Erase the recipient (docs/trust.md): their values, their renders' files, their watch page and its
        events, in one task (done by the time this answers in embedded mode); an audit entry says it was done."""
        campaign = selectors.campaign_get_for_workspace(
            workspace=request_workspace(request), campaign_id=campaign_id
        )
        recipient = selectors.recipient_get_for_campaign(campaign=campaign, recipient_id=recipient_id)
        erasure.recipient_erase_request(recipient=recipient)
        return Response(status=status.HTTP_202_ACCEPTED)


class CampaignSamplesApi(APIView):
    class SamplesInputSerializer(InputSerializer):
        count = serializers.IntegerField(
            required=False, default=DEFAULT_SAMPLES, min_value=1, max_value=MAX_SAMPLES
        )

    class SamplesOutputSerializer(CampaignDetailOutputSerializer):
        samples = RenderOutputSerializer(many=True)

    @extend_schema(
        request=SamplesInputSerializer, responses={202: SamplesOutputSerializer, **error_responses(402)}
    )
    def post(self, request: Request, campaign_id: str) -> Response:
        campaign = selectors.campaign_get_for_workspace(
            workspace=request_workspace(request), campaign_id=campaign_id
        )
        serializer = self.SamplesInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = services.campaign_samples(campaign=campaign, count=serializer.validated_data["count"])
        body = _campaign_detail(campaign)
        samples = selectors.campaign_sample_renders(campaign=campaign)
        body["samples"] = RenderOutputSerializer(samples, many=True).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class CampaignApproveApi(APIView):
    @extend_schema(request=None, responses=CampaignDetailOutputSerializer)
    def post(self, request: Request, campaign_id: str) -> Response:
        campaign = selectors.campaign_get_for_workspace(
            workspace=request_workspace(request), campaign_id=campaign_id
        )
        campaign = services.campaign_approve(campaign=campaign, actor=request_actor(request))
        return Response(_campaign_detail(campaign))


class CampaignLaunchApi(APIView):
    @extend_schema(request=None, responses={202: CampaignDetailOutputSerializer})
    def post(self, request: Request, campaign_id: str) -> Response:
        campaign = selectors.campaign_get_for_workspace(
            workspace=request_workspace(request), campaign_id=campaign_id
        )
        campaign = services.campaign_launch(campaign=campaign)
        return Response(_campaign_detail(campaign), status=status.HTTP_202_ACCEPTED)


class CampaignPauseApi(APIView):
    @extend_schema(request=None, responses={202: CampaignDetailOutputSerializer})
    def post(self, request: Request, campaign_id: str) -> Response:
        campaign = selectors.campaign_get_for_workspace(
            workspace=request_workspace(request), campaign_id=campaign_id
        )
        campaign = services.campaign_pause(campaign=campaign)
        return Response(_campaign_detail(campaign), status=status.HTTP_202_ACCEPTED)


class CampaignResumeApi(APIView):
    @extend_schema(request=None, responses={202: CampaignDetailOutputSerializer})
    def post(self, request: Request, campaign_id: str) -> Response:
        campaign = selectors.campaign_get_for_workspace(
            workspace=request_workspace(request), campaign_id=campaign_id
        )
        campaign = services.campaign_resume(campaign=campaign)
        return Response(_campaign_detail(campaign), status=status.HTTP_202_ACCEPTED)


class CampaignCancelApi(APIView):
    @extend_schema(request=None, responses={202: CampaignDetailOutputSerializer})
    def post(self, request: Request, campaign_id: str) -> Response:
        campaign = selectors.campaign_get_for_workspace(
            workspace=request_workspace(request), campaign_id=campaign_id
        )
        campaign = services.campaign_cancel(campaign=campaign)
        return Response(_campaign_detail(campaign), status=status.HTTP_202_ACCEPTED)


class CampaignResultsCsvApi(APIView):
    @extend_schema(responses={(200, "text/csv"): str})
    def get(self, request: Request, campaign_id: str) -> StreamingHttpResponse:
        campaign = selectors.campaign_get_for_workspace(
            workspace=request_workspace(request), campaign_id=campaign_id
        )
        response = StreamingHttpResponse(
            selectors.campaign_results_csv(campaign=campaign), content_type="text/csv"
        )
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-results.csv"'
        return response


# --- webhooks -------------------------------------------------------------------------------------------------


class WebhookEndpointOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.CharField())
    secret = SecretField(help_text="Standard Webhooks signing secret (whsec_…); blank for a viewer.")
    disabled_at = serializers.DateTimeField(allow_null=True)
    disabled_reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class WebhookDeliveryOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    event = serializers.CharField()
    message_id = serializers.CharField(help_text="The `webhook-id` header of every attempt.")
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    payload = serializers.JSONField()


class WebhooksApi(APIView):
    class WebhookCreateInputSerializer(InputSerializer):
        url = serializers.URLField(max_length=2000)
        events = serializers.ListField(child=serializers.CharField(max_length=64), allow_empty=True)

    @extend_schema(responses=WebhookEndpointOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        paginator = CursorPagination()
        page = paginator.paginate_queryset(
            selectors.webhook_endpoint_list(workspace=request_workspace(request)), request, view=self
        )
        return paginator.get_paginated_response(
            WebhookEndpointOutputSerializer(page, many=True, context=secrets_context(request)).data
        )

    @extend_schema(
        request=WebhookCreateInputSerializer,
        responses={201: WebhookEndpointOutputSerializer},
        description="Events: " + ", ".join(WebhookEvent.values),
    )
    def post(self, request: Request) -> Response:
        serializer = self.WebhookCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = webhooks.webhook_endpoint_create(
            workspace=request_workspace(request),
            url=serializer.validated_data["url"],
            events=serializer.validated_data["events"],
        )
        return Response(WebhookEndpointOutputSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookCallbackSecretApi(APIView):
    read_role = Membership.Role.EDITOR  # a secret: editors and owners (and API keys) read it

    class CallbackSecretOutputSerializer(serializers.Serializer):
        secret = serializers.CharField(help_text="Signs deliveries to renders' callback_url (whsec_…).")

    @extend_schema(responses=CallbackSecretOutputSerializer)
    def get(self, request: Request) -> Response:
        return Response({"secret": webhooks.callback_secret_get(workspace=request_workspace(request))})


class WebhookDetailApi(APIView):
    class WebhookUpdateInputSerializer(InputSerializer):
        url = serializers.URLField(max_length=2000, required=False)
        events = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
        enabled = serializers.BooleanField(required=False)

    @extend_schema(responses=WebhookEndpointOutputSerializer)
    def get(self, request: Request, endpoint_id: str) -> Response:
        endpoint = selectors.webhook_endpoint_get_for_workspace(
            workspace=request_workspace(request), endpoint_id=endpoint_id
        )
        return Response(WebhookEndpointOutputSerializer(endpoint, context=secrets_context(request)).data)

    @extend_schema(
        request=WebhookUpdateInputSerializer,
        responses=WebhookEndpointOutputSerializer,
        description="Change the URL, the events (" + ", ".join(WebhookEvent.values) + "), or switch the "
        "endpoint on or off (`enabled`); what is not given stays.",
    )
    def patch(self, request: Request, endpoint_id: str) -> Response:
        endpoint = selectors.webhook_endpoint_get_for_workspace(
            workspace=request_workspace(request), endpoint_id=endpoint_id
        )
        serializer = self.WebhookUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = webhooks.webhook_endpoint_update(endpoint=endpoint, **serializer.validated_data)
        return Response(WebhookEndpointOutputSerializer(endpoint).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, endpoint_id: str) -> Response:
        """The endpoint and its delivery log; nothing more is sent to it."""
        endpoint = selectors.webhook_endpoint_get_for_workspace(
            workspace=request_workspace(request), endpoint_id=endpoint_id
        )
        webhooks.webhook_endpoint_delete(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretApi(APIView):
    @extend_schema(request=None, responses=WebhookEndpointOutputSerializer)
    def post(self, request: Request, endpoint_id: str) -> Response:
        """A new signing secret, in this answer; every attempt from now on is signed with it."""
        endpoint = selectors.webhook_endpoint_get_for_workspace(
            workspace=request_workspace(request), endpoint_id=endpoint_id
        )
        endpoint = webhooks.webhook_endpoint_rotate_secret(endpoint=endpoint)
        return Response(WebhookEndpointOutputSerializer(endpoint).data, headers={"Cache-Control": "no-store"})


class WebhookTestApi(APIView):
    @extend_schema(request=None, responses={202: WebhookDeliveryOutputSerializer})
    def post(self, request: Request, endpoint_id: str) -> Response:
        """Sends a signed `ping` event through the normal delivery machinery (it appears in the delivery log);
        409 while the endpoint is disabled."""
        endpoint = selectors.webhook_endpoint_get_for_workspace(
            workspace=request_workspace(request), endpoint_id=endpoint_id
        )
        delivery = webhooks.webhook_endpoint_test(endpoint=endpoint)
        delivery.refresh_from_db()
        return Response(WebhookDeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveriesApi(APIView):
    @extend_schema(responses=WebhookDeliveryOutputSerializer(many=True))
    def get(self, request: Request, endpoint_id: str) -> Response:
        endpoint = selectors.webhook_endpoint_get_for_workspace(
            workspace=request_workspace(request), endpoint_id=endpoint_id
        )
        paginator = CursorPagination()
        page = paginator.paginate_queryset(
            selectors.webhook_delivery_list(endpoint=endpoint), request, view=self
        )
        return paginator.get_paginated_response(WebhookDeliveryOutputSerializer(page, many=True).data)


class WebhookDeliveryReplayApi(APIView):
    @extend_schema(request=None, responses={202: WebhookDeliveryOutputSerializer})
    def post(self, request: Request, endpoint_id: str, delivery_id: str) -> Response:
        endpoint = selectors.webhook_endpoint_get_for_workspace(
            workspace=request_workspace(request), endpoint_id=endpoint_id
        )
        delivery = selectors.webhook_delivery_get(endpoint=endpoint, delivery_id=delivery_id)
        delivery = webhooks.webhook_delivery_replay(delivery=delivery)
        return Response(WebhookDeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


# --- integrations ---------------------------------------------------------------------------------------------


class IntegrationOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=Integration.Kind.choices)
    name = serializers.CharField()
    template = serializers.UUIDField(source="template_id")
    version = serializers.IntegerField(allow_null=True)
    brand = serializers.UUIDField(source="brand_id")
    field_map = serializers.DictField(child=serializers.CharField())
    secret = SecretField(help_text="Signs the CRM's calls; blank for a viewer.")
    callback_url = serializers.CharField()
    writeback = serializers.SerializerMethodField()
    inbound_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_writeback(self, integration: Integration) -> dict[str, Any]:
        return {
            "enabled": integration.writeback_enabled,
            "field": integration.writeback_field,
            "base_url": integration.writeback_base_url,
            "salesforce_object": integration.salesforce_object,
            "views_field": integration.writeback_views_field,
            "clicks_field": integration.writeback_clicks_field,
        }

    def get_inbound_url(self, integration: Integration) -> str:
        return crm.inbound_url(integration)


class IntegrationWritebackSerializer(InputSerializer):
    enabled = serializers.BooleanField(default=False)
    field = serializers.CharField(max_length=100, required=False, default="")
    token = serializers.CharField(max_length=500, required=False, default="", write_only=True)
    base_url = serializers.URLField(max_length=300, required=False, default="")
    salesforce_object = serializers.RegexField(
        r"^[A-Za-z][A-Za-z0-9_]*$", max_length=100, required=False, default=""
    )
    views_field = serializers.CharField(
        max_length=100,
        required=False,
        default="",
        help_text="A number property/field that gets the watch page's view count (blank: not written).",
    )
    clicks_field = serializers.CharField(
        max_length=100,
        required=False,
        default="",
        help_text="A number property/field that gets the watch page's CTA-click count (blank: not written).",
    )


class IntegrationsApi(APIView):
    class IntegrationCreateInputSerializer(InputSerializer):
        kind = serializers.ChoiceField(choices=Integration.Kind.choices)
        name = serializers.CharField(max_length=100, required=False, default="")
        template = serializers.UUIDField()
        version = serializers.IntegerField(required=False, min_value=1, allow_null=True, default=None)
        brand = serializers.UUIDField()
        field_map = serializers.DictField(child=serializers.CharField(max_length=100), allow_empty=False)
        secret = serializers.CharField(max_length=200, required=False, default="")
        callback_url = serializers.URLField(max_length=2000, required=False, default="")
        writeback = IntegrationWritebackSerializer(required=False)

    @extend_schema(responses=IntegrationOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        paginator = CursorPagination()
        page = paginator.paginate_queryset(
            selectors.integration_list(workspace=request_workspace(request)), request, view=self
        )
        return paginator.get_paginated_response(
            IntegrationOutputSerializer(page, many=True, context=secrets_context(request)).data
        )

    @extend_schema(request=IntegrationCreateInputSerializer, responses={201: IntegrationOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.IntegrationCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workspace = request_workspace(request)
        try:
            template = template_get_for_workspace(workspace=workspace, template_id=data["template"])
        except NotFoundError:
            raise ApplicationError(NO_SUCH_TEMPLATE, fields={"template": NO_SUCH_TEMPLATE}) from None
        template_usable_check(template=template)
        try:
            brand = brand_get_for_workspace(workspace=workspace, brand_id=data["brand"])
        except NotFoundError:
            raise ApplicationError(NO_SUCH_BRAND, fields={"brand": NO_SUCH_BRAND}) from None
        integration = crm.integration_create(
            workspace=workspace,
            kind=data["kind"],
            template=template,
            version=data["version"],
            brand=brand,
            field_map=data["field_map"],
            secret=data["secret"],
            name=data["name"],
            callback_url=data["callback_url"],
            writeback=data.get("writeback"),
        )
        return Response(IntegrationOutputSerializer(integration).data, status=status.HTTP_201_CREATED)


class IntegrationDetailApi(APIView):
    @extend_schema(responses=IntegrationOutputSerializer)
    def get(self, request: Request, integration_id: str) -> Response:
        integration = selectors.integration_get_for_workspace(
            workspace=request_workspace(request), integration_id=integration_id
        )
        return Response(IntegrationOutputSerializer(integration, context=secrets_context(request)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, integration_id: str) -> Response:
        """Its inbound URL stops answering; renders it requested stay."""
        integration = selectors.integration_get_for_workspace(
            workspace=request_workspace(request), integration_id=integration_id
        )
        crm.integration_delete(integration=integration)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InboundApi(APIView):
    """`POST /inbound/{integration_id}/`: a CRM workflow call, authenticated by its signature, not an API key."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("Idempotency-Key", str, location=OpenApiParameter.HEADER),
            OpenApiParameter("X-Reelsmith-Timestamp", str, location=OpenApiParameter.HEADER),
            OpenApiParameter("X-Reelsmith-Signature", str, location=OpenApiParameter.HEADER),
            OpenApiParameter("X-HubSpot-Request-Timestamp", str, location=OpenApiParameter.HEADER),
            OpenApiParameter("X-HubSpot-Signature-v3", str, location=OpenApiParameter.HEADER),
        ],
        responses={202: RenderOutputSerializer, **error_responses(402)},
        description='Signed as docs/campaigns.md "CRM inbound" says; a replay inside the 5-minute window '
        "answers the render the first call made, outside it 401.",
    )
    def post(self, request: Request, integration_id: str) -> Response:
        integration = selectors.integration_get_inbound(integration_id=integration_id)
        body = request.body
        idempotency_key = crm.inbound_verify(
            integration=integration,
            method=request.method or "POST",
            uri=request.build_absolute_uri(),
            path=request.get_full_path(),
            body=body,
            headers=request.headers,
        )
        render, _created = crm.inbound_render(
            integration=integration, body=body, idempotency_key=idempotency_key
        )
        render.refresh_from_db()
        return Response(RenderOutputSerializer(render).data, status=status.HTTP_202_ACCEPTED)
