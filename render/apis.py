"""HTTP interface for renders: request, read, list, cancel."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.apis import read_upload
from core.auth import request_workspace
from core.errors import ApplicationError, NotFoundError
from core.inputs import InputSerializer
from core.models import Membership, Workspace
from core.outbound import url_validate
from core.pagination import CursorPagination
from core.parsers import MultiPartParser
from core.schema import error_responses
from core.selectors import brand_get_for_workspace
from render.models import Render, RenderStatus
from render.pricing import template_cost
from render.selectors import render_get_for_workspace, render_list, render_output_urls, render_urls
from render.services import render_cancel, render_request
from render.services.images import uploaded_image_store
from render.services.preview import preview_brand_get, template_preview
from render.watch.selectors import render_engagement, render_watch_links
from render.watch.services import watch_page_revoke
from templates.apis import AuthorSerializer
from templates.selectors import template_get_for_workspace, template_usable_check, template_version_get

NO_SUCH_TEMPLATE = "No such template."
NO_SUCH_BRAND = "No such brand."
BAD_IDEMPOTENCY_KEY = "Idempotency-Key must be 1 to 255 printable characters."


class RenderFormatOutputSerializer(serializers.Serializer):
    """One output format of a render (`spec.formats`): its video and what goes beside it."""

    format = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    duration = serializers.FloatField()
    video_url = serializers.CharField(allow_null=True)
    poster_url = serializers.CharField(allow_null=True)
    gif_url = serializers.CharField(allow_null=True)
    captions_url = serializers.CharField(allow_null=True)


class RenderWatchOutputSerializer(serializers.Serializer):
    """Links that never expire, for an email: the watch page's poster and GIF (redirects to fresh storage
    URLs), and the GIF (else poster) linking to the page as HTML."""

    poster_url = serializers.CharField(allow_null=True)
    gif_url = serializers.CharField(allow_null=True)
    email_html = serializers.CharField(allow_null=True)


class RenderEngagementOutputSerializer(serializers.Serializer):
    """What viewers did on the render's watch page (docs/watch-pages.md)."""

    views = serializers.IntegerField()
    unique_viewers = serializers.IntegerField(help_text="Distinct viewers per day, summed over days.")
    plays = serializers.IntegerField()
    play_rate = serializers.FloatField(help_text="plays / views")
    avg_watch_percent = serializers.FloatField(help_text="How far plays got, in quarters of the video.")
    completions = serializers.IntegerField()
    completion_rate = serializers.FloatField(help_text="completions / plays")
    cta_clicks = serializers.IntegerField()
    click_rate = serializers.FloatField(help_text="cta_clicks / views")
    bot_hits = serializers.IntegerField(
        help_text="Fetches by bots, link unfurlers and prefetches: not views."
    )
    first_viewed_at = serializers.DateTimeField(allow_null=True)
    last_event_at = serializers.DateTimeField(allow_null=True)


class _GroupIdField(serializers.UUIDField):
    """The id of the group a render belongs to (its campaign), annotated by the app that grouped it
    (render.selectors.render_group_register); null on a render read without that annotation."""

    def get_attribute(self, instance: Any) -> Any:
        return getattr(instance, str(self.source), None)


class RenderOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=RenderStatus.choices)
    video_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    duration = serializers.FloatField(allow_null=True)
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    template = serializers.UUIDField(source="template_version.template_id")
    version = serializers.IntegerField(source="template_version.version")
    brand = serializers.UUIDField(source="brand_id")
    campaign = _GroupIdField(source="campaign_id", allow_null=True)
    external_id = serializers.CharField()
    variables = serializers.JSONField()
    credits = AuthorSerializer(
        source="template_version.authors", many=True, help_text="The template version's authors and roles."
    )
    outputs = serializers.SerializerMethodField()
    watch_url = serializers.SerializerMethodField(
        help_text="The render's watch page: a link that never expires."
    )
    watch = serializers.SerializerMethodField()
    engagement = serializers.SerializerMethodField()
    outputs_erased_at = serializers.DateTimeField(
        allow_null=True, help_text="When its files were deleted (a consent withdrawn, a recipient erased)."
    )
    outputs_erased_reason = serializers.CharField()

    def to_representation(self, instance: Render) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        # A canceled render says why when something other than a person canceled it (a withdrawn consent).
        shown = (RenderStatus.FAILED, RenderStatus.CANCELED)
        data["error"] = instance.error or None if instance.status in shown else None
        return data

    def get_video_url(self, render: Render) -> str | None:
        return render_urls(render)["video_url"]

    def get_thumbnail_url(self, render: Render) -> str | None:
        return render_urls(render)["thumbnail_url"]

    @extend_schema_field(RenderFormatOutputSerializer(many=True))
    def get_outputs(self, render: Render) -> list[dict[str, Any]]:
        return RenderFormatOutputSerializer(render_output_urls(render), many=True).data  # type: ignore[return-value]

    def get_watch_url(self, render: Render) -> str | None:
        return render_watch_links(render)["watch_url"]

    @extend_schema_field(RenderWatchOutputSerializer(allow_null=True))
    def get_watch(self, render: Render) -> dict[str, Any] | None:
        links = render_watch_links(render)
        if links["watch_url"] is None:
            return None
        return {key: links[key] for key in ("poster_url", "gif_url", "email_html")}

    @extend_schema_field(RenderEngagementOutputSerializer(allow_null=True))
    def get_engagement(self, render: Render) -> dict[str, Any] | None:
        engagement = render_engagement(render)
        return RenderEngagementOutputSerializer(engagement).data if engagement is not None else None


def resolve_template_and_brand(
    *, workspace: Workspace, template_id: Any, version: int | None, brand_id: Any
) -> tuple[Any, Any]:
    """Body references to another workspace's objects read exactly like ids that do not exist."""
    try:
        template = template_get_for_workspace(workspace=workspace, template_id=template_id)
    except NotFoundError:
        raise ApplicationError(NO_SUCH_TEMPLATE, fields={"template": NO_SUCH_TEMPLATE}) from None
    template_usable_check(template=template)
    template_version = template_version_get(template=template, version=version)
    try:
        brand = brand_get_for_workspace(workspace=workspace, brand_id=brand_id)
    except NotFoundError:
        raise ApplicationError(NO_SUCH_BRAND, fields={"brand": NO_SUCH_BRAND}) from None
    return template_version, brand


class RendersApi(APIView):
    class RenderCreateInputSerializer(InputSerializer):
        template = serializers.UUIDField()
        version = serializers.IntegerField(required=False, min_value=1)
        brand = serializers.UUIDField()
        variables = serializers.DictField(child=serializers.JSONField(), required=False, default=dict)
        callback_url = serializers.URLField(required=False, default="", max_length=2000)
        external_id = serializers.CharField(required=False, default="", max_length=200, allow_blank=True)

        def validate_callback_url(self, value: str) -> str:
            # Refused now, not retried for days: resolved and checked, never connected to (R10).
            if value:
                url_validate(value, field="callback_url")
            return value

    class RenderListFilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=RenderStatus.choices, required=False)
        campaign = serializers.UUIDField(required=False)
        external_id = serializers.CharField(required=False, max_length=200)

    @extend_schema(parameters=[RenderListFilterSerializer], responses=RenderOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        filters = self.RenderListFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        renders = render_list(
            workspace=request_workspace(request),
            status=filters.validated_data.get("status"),
            external_id=filters.validated_data.get("external_id"),
            groups={"campaign": filters.validated_data.get("campaign")},
        )
        paginator = CursorPagination()
        page = paginator.paginate_queryset(renders, request, view=self)
        return paginator.get_paginated_response(RenderOutputSerializer(page, many=True).data)

    @extend_schema(
        request=RenderCreateInputSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, location=OpenApiParameter.HEADER)],
        responses={202: RenderOutputSerializer, **error_responses(402)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.RenderCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key is not None and not (
            0 < len(idempotency_key) <= 255 and idempotency_key.isprintable()
        ):
            raise ApplicationError(BAD_IDEMPOTENCY_KEY, fields={"Idempotency-Key": BAD_IDEMPOTENCY_KEY})
        workspace = request_workspace(request)
        template_version, brand = resolve_template_and_brand(
            workspace=workspace,
            template_id=data["template"],
            version=data.get("version"),
            brand_id=data["brand"],
        )
        render, _created = render_request(
            workspace=workspace,
            template_version=template_version,
            brand=brand,
            variables=data["variables"],
            callback_url=data["callback_url"],
            external_id=data["external_id"],
            idempotency_key=idempotency_key,
        )
        render.refresh_from_db()
        return Response(RenderOutputSerializer(render).data, status=status.HTTP_202_ACCEPTED)


class RenderDetailApi(APIView):
    @extend_schema(responses=RenderOutputSerializer)
    def get(self, request: Request, render_id: str) -> Response:
        render = render_get_for_workspace(workspace=request_workspace(request), render_id=render_id)
        return Response(RenderOutputSerializer(render).data)


class RenderCancelApi(APIView):
    @extend_schema(request=None, responses={202: RenderOutputSerializer})
    def post(self, request: Request, render_id: str) -> Response:
        render = render_get_for_workspace(workspace=request_workspace(request), render_id=render_id)
        render = render_cancel(render=render)
        return Response(RenderOutputSerializer(render).data, status=status.HTTP_202_ACCEPTED)


class RenderWatchRevokeApi(APIView):
    @extend_schema(request=None, responses=RenderOutputSerializer)
    def post(self, request: Request, render_id: str) -> Response:
        """The render's watch page stops answering for good (404); the render and its files stay."""
        render = render_get_for_workspace(workspace=request_workspace(request), render_id=render_id)
        watch_page_revoke(render=render)
        render = render_get_for_workspace(workspace=request_workspace(request), render_id=render_id)
        return Response(RenderOutputSerializer(render).data)


class TemplatePreviewApi(APIView):
    """`templates/{id}/preview/` is render's (templates sits below render and cannot draw a frame)."""

    # A read that happens to need a body: free, changes nothing but a cache, so viewers may ask for it too.
    write_role = Membership.Role.VIEWER

    class TemplatePreviewInputSerializer(InputSerializer):
        version = serializers.IntegerField(required=False, min_value=1, help_text="Default: the latest.")
        values = serializers.DictField(
            child=serializers.CharField(allow_blank=True, max_length=10_000),
            required=False,
            help_text="Sample values; a variable not given shows its default, else its name.",
        )
        format = serializers.CharField(required=False, max_length=64, help_text="One format; default: all.")
        brand = serializers.UUIDField(required=False, help_text="Default: the workspace's newest brand.")

    class TemplatePreviewOutputSerializer(serializers.Serializer):
        class StillOutputSerializer(serializers.Serializer):
            format = serializers.CharField()
            width = serializers.IntegerField()
            height = serializers.IntegerField()
            scene = serializers.IntegerField(help_text="The scene's index in the spec.")
            url = serializers.CharField(help_text="The PNG (a presigned, short-lived URL in service mode).")
            note = serializers.CharField(
                help_text='"background not generated yet" when the picture is not cached.'
            )

        version = serializers.IntegerField()
        values = serializers.DictField(child=serializers.CharField())
        stills = StillOutputSerializer(many=True)
        cost = serializers.JSONField(
            required=False,  # not the preview's own: the view adds it (template_cost)
            help_text="What each recipient costs beyond what recipients share (render.pricing.template_cost): "
            "each scene's seconds, whether it is personal and over a still or a moving background, the "
            "personal seconds, and `relative_cost` (a moving personal second counts twice a still one).",
        )

    @extend_schema(request=TemplatePreviewInputSerializer, responses=TemplatePreviewOutputSerializer)
    def post(self, request: Request, template_id: str) -> Response:
        """A still of every scene (its middle frame) in every format, in seconds and free: generated backgrounds
        come from the cache when made already, else the scene's colour stands in (never diffusion)."""
        workspace = request_workspace(request)
        template = template_get_for_workspace(workspace=workspace, template_id=template_id)
        serializer = self.TemplatePreviewInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        version = template_version_get(template=template, version=data.get("version"))
        preview = template_preview(
            template_version=version,
            brand=preview_brand_get(workspace=workspace, brand_id=data.get("brand")),
            values=data.get("values"),
            format_name=data.get("format"),
        )
        body = {
            **self.TemplatePreviewOutputSerializer(preview).data,
            "cost": template_cost(spec=version.spec),
        }
        return Response(body)


class ImageUploadApi(APIView):
    """A recipient's picture uploaded for an `image` variable: the answer's `reference` is the value to
    give the variable (in a render's `variables`, or a campaign recipient's)."""

    parser_classes = [MultiPartParser]

    class ImageInputSerializer(InputSerializer):
        file = serializers.FileField(help_text="A PNG or JPEG, at most 10 MiB and 4096x4096 pixels.")

    class ImageOutputSerializer(serializers.Serializer):
        reference = serializers.CharField(help_text="`upload:<sha256>.png|jpg`: an image variable's value.")

    @extend_schema(
        request={"multipart/form-data": ImageInputSerializer},
        responses={201: ImageOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.ImageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = read_upload(serializer.validated_data["file"])
        reference = uploaded_image_store(workspace_id=request_workspace(request).pk, data=data)
        return Response({"reference": reference}, status=status.HTTP_201_CREATED)
