"""HTTP interface for ad templates and their versions."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.apis import AssetOutputSerializer, read_upload
from core.auth import request_workspace
from core.pagination import CursorPagination
from templates.models import AdTemplate, TemplateVersion
from templates.selectors import template_get_for_workspace, template_list, template_version_get
from templates.services import template_asset_upload, template_create, template_version_create


class TemplateOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="template.id")
    name = serializers.CharField(source="template.name")
    version = serializers.IntegerField()
    variables = serializers.JSONField()
    spec = serializers.JSONField()
    created_at = serializers.DateTimeField(source="template.created_at")


class TemplateSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    latest_version = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class TemplatesApi(APIView):
    class TemplateCreateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        spec = serializers.JSONField()

    @extend_schema(responses=TemplateSummarySerializer(many=True))
    def get(self, request: Request) -> Response:
        paginator = CursorPagination()
        page = paginator.paginate_queryset(
            template_list(workspace=request_workspace(request)), request, view=self
        )
        return paginator.get_paginated_response(TemplateSummarySerializer(page, many=True).data)

    @extend_schema(request=TemplateCreateInputSerializer, responses={201: TemplateOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.TemplateCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = template_create(workspace=request_workspace(request), **serializer.validated_data)
        return Response(TemplateOutputSerializer(version).data, status=status.HTTP_201_CREATED)


class TemplateDetailApi(APIView):
    @extend_schema(responses=TemplateOutputSerializer)
    def get(self, request: Request, template_id: str) -> Response:
        template: AdTemplate = template_get_for_workspace(
            workspace=request_workspace(request), template_id=template_id
        )
        return Response(TemplateOutputSerializer(template_version_get(template=template, version=None)).data)


class TemplateVersionsApi(APIView):
    class TemplateVersionCreateInputSerializer(serializers.Serializer):
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
    class TemplateAssetInputSerializer(serializers.Serializer):
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
