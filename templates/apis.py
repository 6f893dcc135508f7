"""HTTP interface for ad templates and their versions. The preview (`templates/{id}/preview/`) is render's:
render.apis.TemplatePreviewApi."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.apis import AssetOutputSerializer, read_upload
from core.auth import request_workspace
from core.inputs import InputSerializer
from core.pagination import CursorPagination
from core.parsers import MultiPartParser
from templates.models import AdTemplate, TemplateVersion
from templates.selectors import template_get_for_workspace, template_list, template_version_get
from templates.services import (
    template_asset_upload,
    template_create,
    template_update,
    template_version_create,
)


class TemplateOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="template.id")
    name = serializers.CharField(source="template.name")
    version = serializers.IntegerField()
    variables = serializers.JSONField()
    spec = serializers.JSONField()
    created_at = serializers.DateTimeField(source="template.created_at")
    archived_at = serializers.DateTimeField(source="template.archived_at", allow_null=True)


class TemplateSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    latest_version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    archived_at = serializers.DateTimeField(allow_null=True)


class TemplatesApi(APIView):
    class TemplateCreateInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=100)
        spec = serializers.JSONField()

    class TemplateListFilterSerializer(serializers.Serializer):
        archived = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "archived", bool, description="true: the archived templates instead of those in use."
            )
        ],
        responses=TemplateSummarySerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        filters = self.TemplateListFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        paginator = CursorPagination()
        page = paginator.paginate_queryset(
            template_list(workspace=request_workspace(request), archived=filters.validated_data["archived"]),
            request,
            view=self,
        )
        return paginator.get_paginated_response(TemplateSummarySerializer(page, many=True).data)

    @extend_schema(request=TemplateCreateInputSerializer, responses={201: TemplateOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.TemplateCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = template_create(workspace=request_workspace(request), **serializer.validated_data)
        return Response(TemplateOutputSerializer(version).data, status=status.HTTP_201_CREATED)


class TemplateDetailApi(APIView):
    class TemplateUpdateInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=100, required=False)
        archived = serializers.BooleanField(
            required=False,
            help_text="true archives the template (hidden from lists, refused for new renders and "
            "campaigns; what was made with it keeps it); false restores it.",
        )

    @extend_schema(responses=TemplateOutputSerializer)
    def get(self, request: Request, template_id: str) -> Response:
        template: AdTemplate = template_get_for_workspace(
            workspace=request_workspace(request), template_id=template_id
        )
        return Response(TemplateOutputSerializer(template_version_get(template=template, version=None)).data)

    @extend_schema(request=TemplateUpdateInputSerializer, responses=TemplateOutputSerializer)
    def patch(self, request: Request, template_id: str) -> Response:
        template = template_get_for_workspace(workspace=request_workspace(request), template_id=template_id)
        serializer = self.TemplateUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = template_update(template=template, **serializer.validated_data)
        return Response(TemplateOutputSerializer(template_version_get(template=template, version=None)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, template_id: str) -> Response:
        """Archives the template (templates are never removed: renders and campaigns point at their versions)."""
        template = template_get_for_workspace(workspace=request_workspace(request), template_id=template_id)
        template_update(template=template, archived=True)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplateVersionsApi(APIView):
    class TemplateVersionCreateInputSerializer(InputSerializer):
        spec = serializers.JSONField()

    class TemplateVersionCreateOutputSerializer(serializers.Serializer):
        id = serializers.UUIDField(source="template.id")
        version = serializers.IntegerField()
        variables = serializers.JSONField()
        created_at = serializers.DateTimeField()

    @extend_schema(
        request=TemplateVersionCreateInputSerializer, responses={201: TemplateVersionCreateOutputSerializer}
    )
    def post(self, request: Request, template_id: str) -> Response:
        template = template_get_for_workspace(workspace=request_workspace(request), template_id=template_id)
        serializer = self.TemplateVersionCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version: TemplateVersion = template_version_create(
            template=template, spec=serializer.validated_data["spec"]
        )
        return Response(
            self.TemplateVersionCreateOutputSerializer(version).data, status=status.HTTP_201_CREATED
        )


class TemplateAssetUploadApi(APIView):
    parser_classes = [MultiPartParser]

    class TemplateAssetInputSerializer(InputSerializer):
        kind = serializers.ChoiceField(choices=["music"])
        file = serializers.FileField()

    @extend_schema(
        request={"multipart/form-data": TemplateAssetInputSerializer},
        responses={201: AssetOutputSerializer},
    )
    def post(self, request: Request, template_id: str) -> Response:
        template = template_get_for_workspace(workspace=request_workspace(request), template_id=template_id)
        serializer = self.TemplateAssetInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        data = read_upload(upload)
        asset = template_asset_upload(
            template=template,
            kind=serializer.validated_data["kind"],
            data=data,
            original_name=upload.name or "",
        )
        return Response(AssetOutputSerializer(asset).data, status=status.HTTP_201_CREATED)


class TemplateVersionDetailApi(APIView):
    @extend_schema(responses=TemplateOutputSerializer)
    def get(self, request: Request, template_id: str, version: int) -> Response:
        template = template_get_for_workspace(workspace=request_workspace(request), template_id=template_id)
        return Response(
            TemplateOutputSerializer(
                template_version_get(template=template, version=version, field=None)
            ).data
        )
