"""HTTP interface for brands, API keys, members and health. Views parse, call one service or selector, and
serialize. Owners alone manage API keys and members (`read_role`/`write_role`, checked by core.auth)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.assets import MAX_UPLOAD_BYTES
from core.auth import request_workspace
from core.inputs import InputSerializer
from core.models import ApiKey, Brand, BrandAsset, Membership
from core.pagination import CursorPagination
from core.parsers import MultiPartParser
from core.selectors import (
    api_key_get_for_workspace,
    api_key_list,
    brand_asset_get,
    brand_get_for_workspace,
    brand_list,
    member_get_for_workspace,
    member_list,
)
from core.services import (
    api_key_create,
    api_key_revoke,
    brand_asset_delete,
    brand_asset_update,
    brand_asset_upload,
    brand_create,
    brand_delete,
    brand_update,
    member_invite,
    member_password_set_path,
    member_remove,
    member_role_change,
)

OWNER = Membership.Role.OWNER

HEX_COLOR = r"^#[0-9A-Fa-f]{6}$"
HEX_COLOR_MESSAGE = "Must be a colour as #RRGGBB."


class SecretField(serializers.CharField):
    """A signing secret: shown to editors, owners and API keys; blank to a viewer (`core.auth.secrets_context`)."""

    def to_representation(self, value: Any) -> str:
        if self.context.get("hide_secrets"):
            return ""
        return str(super().to_representation(value))


class ColorsSerializer(InputSerializer):
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
    class BrandCreateInputSerializer(InputSerializer):
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
    class BrandUpdateInputSerializer(InputSerializer):
        class ColorsUpdateSerializer(InputSerializer):
            primary = serializers.RegexField(
                HEX_COLOR, required=False, error_messages={"invalid": HEX_COLOR_MESSAGE}
            )
            secondary = serializers.RegexField(
                HEX_COLOR, required=False, error_messages={"invalid": HEX_COLOR_MESSAGE}
            )
            text = serializers.RegexField(
                HEX_COLOR, required=False, error_messages={"invalid": HEX_COLOR_MESSAGE}
            )

        name = serializers.CharField(max_length=100, required=False)
        colors = ColorsUpdateSerializer(required=False)

    @extend_schema(responses=BrandOutputSerializer)
    def get(self, request: Request, brand_id: str) -> Response:
        brand = brand_get_for_workspace(workspace=request_workspace(request), brand_id=brand_id)
        return Response(BrandOutputSerializer(brand).data)

    @extend_schema(request=BrandUpdateInputSerializer, responses=BrandOutputSerializer)
    def patch(self, request: Request, brand_id: str) -> Response:
        brand = brand_get_for_workspace(workspace=request_workspace(request), brand_id=brand_id)
        serializer = self.BrandUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        brand = brand_update(brand=brand, **serializer.validated_data)
        return Response(BrandOutputSerializer(brand).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, brand_id: str) -> Response:
        """Refused (409, with the reason) while an unfinished campaign or a CRM integration uses the brand."""
        brand = brand_get_for_workspace(workspace=request_workspace(request), brand_id=brand_id)
        brand_delete(brand=brand)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AssetOutputSerializer(serializers.Serializer):
    """An accepted upload (a brand's or a template's asset) as the API shows it."""

    id = serializers.UUIDField()
    kind = serializers.CharField()
    name = serializers.CharField(source="original_name", help_text="The uploaded file's name.")
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    details = serializers.JSONField()


class BrandAssetOutputSerializer(AssetOutputSerializer):
    shows_person = serializers.BooleanField(
        help_text="Footage that shows a real person (needs their consent)."
    )
    consent = serializers.UUIDField(
        source="consent_id",
        allow_null=True,
        help_text="The consent a portrait, voice or footage of a person names.",
    )


def read_upload(upload: Any) -> bytes:
    """At most one byte past the largest asset cap: an oversized upload is refused (by core.assets) without
    being read whole."""
    data: bytes = upload.read(MAX_UPLOAD_BYTES + 1)
    return data


class BrandAssetUploadApi(APIView):
    parser_classes = [MultiPartParser]

    class BrandAssetInputSerializer(InputSerializer):
        kind = serializers.ChoiceField(choices=BrandAsset.Kind.values)
        file = serializers.FileField()
        shows_person = serializers.BooleanField(
            required=False, default=False, help_text="Footage (kind video) that shows a real person."
        )
        consent = serializers.CharField(
            required=False,
            default="",
            allow_blank=True,
            max_length=100,
            help_text="A consent id: required for a portrait, a voice, and footage that shows a person.",
        )

    @extend_schema(
        request={"multipart/form-data": BrandAssetInputSerializer},
        responses={201: BrandAssetOutputSerializer},
    )
    def post(self, request: Request, brand_id: str) -> Response:
        brand = brand_get_for_workspace(workspace=request_workspace(request), brand_id=brand_id)
        serializer = self.BrandAssetInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data["file"]
        asset = brand_asset_upload(
            brand=brand,
            kind=data["kind"],
            data=read_upload(upload),
            original_name=upload.name or "",
            shows_person=data["shows_person"],
            consent_id=data["consent"] or None,
        )
        return Response(BrandAssetOutputSerializer(asset).data, status=status.HTTP_201_CREATED)


class BrandAssetDetailApi(APIView):
    class BrandAssetUpdateInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=255, required=False)
        shows_person = serializers.BooleanField(required=False)
        consent = serializers.UUIDField(required=False)

    @extend_schema(responses=BrandAssetOutputSerializer)
    def get(self, request: Request, brand_id: str, asset_id: str) -> Response:
        brand = brand_get_for_workspace(workspace=request_workspace(request), brand_id=brand_id)
        return Response(BrandAssetOutputSerializer(brand_asset_get(brand=brand, asset_id=asset_id)).data)

    @extend_schema(request=BrandAssetUpdateInputSerializer, responses=BrandAssetOutputSerializer)
    def patch(self, request: Request, brand_id: str, asset_id: str) -> Response:
        """Rename it, or say whether footage shows a person and name the consent it then needs."""
        brand = brand_get_for_workspace(workspace=request_workspace(request), brand_id=brand_id)
        asset = brand_asset_get(brand=brand, asset_id=asset_id)
        serializer = self.BrandAssetUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        asset = brand_asset_update(
            asset=asset,
            name=data.get("name"),
            shows_person=data.get("shows_person"),
            consent_id=data.get("consent"),
        )
        return Response(BrandAssetOutputSerializer(asset).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, brand_id: str, asset_id: str) -> Response:
        """The brand's previous upload of that kind becomes its current one again (or none)."""
        brand = brand_get_for_workspace(workspace=request_workspace(request), brand_id=brand_id)
        brand_asset_delete(asset=brand_asset_get(brand=brand, asset_id=asset_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- API keys and members (owners) ----------------------------------------------------------------------------


class ApiKeyOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField(
        help_text="The key starts `rsk_<prefix>_`; only this part is kept readable."
    )
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class ApiKeysApi(APIView):
    read_role = write_role = OWNER

    class ApiKeyCreateInputSerializer(InputSerializer):
        name = serializers.CharField(max_length=100)

    class ApiKeyCreateOutputSerializer(ApiKeyOutputSerializer):
        key = serializers.CharField(
            help_text="The whole key, shown in this answer only (it is stored hashed)."
        )

    @extend_schema(responses=ApiKeyOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        paginator = CursorPagination()
        page = paginator.paginate_queryset(
            api_key_list(workspace=request_workspace(request)), request, view=self
        )
        return paginator.get_paginated_response(ApiKeyOutputSerializer(page, many=True).data)

    @extend_schema(request=ApiKeyCreateInputSerializer, responses={201: ApiKeyCreateOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.ApiKeyCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key, raw_key = api_key_create(
            workspace=request_workspace(request), name=serializer.validated_data["name"]
        )
        body = {**ApiKeyOutputSerializer(api_key).data, "key": raw_key}
        # The raw key must not stay in a cache.
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class ApiKeyRevokeApi(APIView):
    read_role = write_role = OWNER

    @extend_schema(request=None, responses=ApiKeyOutputSerializer)
    def post(self, request: Request, api_key_id: str) -> Response:
        api_key: ApiKey = api_key_get_for_workspace(
            workspace=request_workspace(request), api_key_id=api_key_id
        )
        api_key_revoke(api_key=api_key)
        api_key.refresh_from_db()
        return Response(ApiKeyOutputSerializer(api_key).data)


class MemberOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField(source="user.username")
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    created_at = serializers.DateTimeField()


class MembersApi(APIView):
    read_role = write_role = OWNER

    class MemberInviteInputSerializer(InputSerializer):
        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.EDITOR)

    class MemberInviteOutputSerializer(MemberOutputSerializer):
        set_password_url = serializers.URLField(
            help_text="A one-time link for the new member to set their password (it stops working once used)."
        )

    @extend_schema(responses=MemberOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        paginator = CursorPagination()
        page = paginator.paginate_queryset(
            member_list(workspace=request_workspace(request)), request, view=self
        )
        return paginator.get_paginated_response(MemberOutputSerializer(page, many=True).data)

    @extend_schema(request=MemberInviteInputSerializer, responses={201: MemberInviteOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.MemberInviteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member = member_invite(workspace=request_workspace(request), **serializer.validated_data)
        link = request.build_absolute_uri(member_password_set_path(member=member))
        body = {**MemberOutputSerializer(member).data, "set_password_url": link}
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class MemberDetailApi(APIView):
    read_role = write_role = OWNER

    class MemberRoleInputSerializer(InputSerializer):
        role = serializers.ChoiceField(choices=Membership.Role.choices)

    @extend_schema(responses=MemberOutputSerializer)
    def get(self, request: Request, member_id: str) -> Response:
        member = member_get_for_workspace(workspace=request_workspace(request), member_id=member_id)
        return Response(MemberOutputSerializer(member).data)

    @extend_schema(request=MemberRoleInputSerializer, responses=MemberOutputSerializer)
    def patch(self, request: Request, member_id: str) -> Response:
        """Refused (409) when it would leave the workspace without an owner."""
        member = member_get_for_workspace(workspace=request_workspace(request), member_id=member_id)
        serializer = self.MemberRoleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member = member_role_change(member=member, role=serializer.validated_data["role"])
        return Response(MemberOutputSerializer(member).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, member_id: str) -> Response:
        """Refused (409) for the workspace's last owner."""
        member = member_get_for_workspace(workspace=request_workspace(request), member_id=member_id)
        member_remove(member=member)
        return Response(status=status.HTTP_204_NO_CONTENT)
