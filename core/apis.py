"""HTTP interface for brands and health. Views parse, call one service or selector, and serialize."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.assets import MAX_UPLOAD_BYTES
from core.auth import request_workspace
from core.models import Brand
from core.pagination import CursorPagination
from core.selectors import brand_get_for_workspace, brand_list
from core.services import brand_asset_upload, brand_create

HEX_COLOR = r"^#[0-9A-Fa-f]{6}$"
HEX_COLOR_MESSAGE = "Must be a colour as #RRGGBB."


class ColorsSerializer(serializers.Serializer):
    primary = serializers.RegexField(HEX_COLOR, error_messages={"invalid": HEX_COLOR_MESSAGE})
    secondary = serializers.RegexField(HEX_COLOR, error_messages={"invalid": HEX_COLOR_MESSAGE})
    text = serializers.RegexField(HEX_COLOR, error_messages={"invalid": HEX_COLOR_MESSAGE})


class BrandOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    colors = ColorsSerializer()
    assets = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_assets(self, brand: Brand) -> dict[str, Any]:
        current: dict[str, Any] = {}
        for asset in sorted(brand.assets.all(), key=lambda a: a.created_at):
            current[asset.kind] = {
                "id": str(asset.id),
                "content_type": asset.content_type,
                "size": asset.size,
            }
        return current


class BrandsApi(APIView):
    class BrandCreateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        colors = ColorsSerializer()

    @extend_schema(responses=BrandOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        paginator = CursorPagination()
        brands = brand_list(workspace=request_workspace(request)).prefetch_related("assets")
        page = paginator.paginate_queryset(brands, request, view=self)
        return paginator.get_paginated_response(BrandOutputSerializer(page, many=True).data)

    @extend_schema(request=BrandCreateInputSerializer, responses={201: BrandOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.BrandCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        brand = brand_create(workspace=request_workspace(request), **serializer.validated_data)
        return Response(BrandOutputSerializer(brand).data, status=status.HTTP_201_CREATED)


class BrandDetailApi(APIView):
    @extend_schema(responses=BrandOutputSerializer)
    def get(self, request: Request, brand_id: str) -> Response:
        brand = brand_get_for_workspace(workspace=request_workspace(request), brand_id=brand_id)
        return Response(BrandOutputSerializer(brand).data)


class AssetOutputSerializer(serializers.Serializer):
    """An accepted upload (a brand's or a template's asset) as the API shows it."""

    id = serializers.UUIDField()
    kind = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    details = serializers.JSONField()


def read_upload(upload: Any) -> bytes:
    """At most one byte past the largest asset cap: an oversized upload is refused (by core.assets) without
    being read whole."""
    data: bytes = upload.read(MAX_UPLOAD_BYTES + 1)
    return data


class BrandAssetUploadApi(APIView):
    class BrandAssetInputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=["logo", "image", "font", "music"])
        file = serializers.FileField()

    @extend_schema(
        request={"multipart/form-data": BrandAssetInputSerializer},
        responses={201: AssetOutputSerializer},
    )
    def post(self, request: Request, brand_id: str) -> Response:
        brand = brand_get_for_workspace(workspace=request_workspace(request), brand_id=brand_id)
        serializer = self.BrandAssetInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        data = read_upload(upload)
        asset = brand_asset_upload(
            brand=brand, kind=serializer.validated_data["kind"], data=data, original_name=upload.name or ""
        )
        return Response(AssetOutputSerializer(asset).data, status=status.HTTP_201_CREATED)


def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure to reach the database is "unhealthy", whatever the driver raises
        return JsonResponse({"status": "unavailable", "database": str(exc)[:200]}, status=503)
    return JsonResponse({"status": "ok"})
