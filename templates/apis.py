"""HTTP interface for ad templates and their versions. The preview (`templates/{id}/preview/`) is render's:
render.apis.TemplatePreviewApi."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.apis import AssetOutputSerializer, read_upload
from core.auth import request_workspace
from core.inputs import InputSerializer
from core.models import Membership
from core.pagination import CursorPagination
from core.parsers import MultiPartParser
from templates.models import AdTemplate, TemplateVersion
from templates.moderator import BUILTIN_LANGUAGES, DEFAULT_LANGUAGES
from templates.selectors import (
    moderation_lists_get,
    template_get_for_workspace,
    template_list,
    template_version_get,
)
from templates.services import (
    AUTHOR_FIELDS,
    MAX_AUTHORS,
    moderation_lists_replace,
    template_asset_upload,
    template_create,
    template_update,
    template_version_create,
)


class AuthorSerializer(InputSerializer):
    """One person credited for a version (docs/template-spec.md "Authors")."""

    name = serializers.CharField(max_length=AUTHOR_FIELDS["name"], help_text="As they are credited.")
    role = serializers.CharField(
        max_length=AUTHOR_FIELDS["role"], help_text="What they did: designer, copywriter, voice, ..."
    )


@extend_schema_field(AuthorSerializer(many=True))
class AuthorsField(serializers.JSONField):
    """[{"name", "role"}], checked by the service (`authors_check`), which names a bad entry as
    `authors[0].name` like every other path in a body."""


def authors_field() -> AuthorsField:
    return AuthorsField(
        required=False,
        help_text=f"The people who made this version (at most {MAX_AUTHORS}); credited in the API and in each "
        "output's C2PA manifest.",
    )


class TemplateOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="template.id")
    name = serializers.CharField(source="template.name")
    version = serializers.IntegerField()
    variables = serializers.JSONField()
    spec = serializers.JSONField()
    authors = AuthorSerializer(many=True)
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
        authors = authors_field()

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
        authors = authors_field()

    class TemplateVersionCreateOutputSerializer(serializers.Serializer):
        id = serializers.UUIDField(source="template.id")
        version = serializers.IntegerField()
        variables = serializers.JSONField()
        authors = AuthorSerializer(many=True)
        created_at = serializers.DateTimeField()

    @extend_schema(
        request=TemplateVersionCreateInputSerializer, responses={201: TemplateVersionCreateOutputSerializer}
    )
    def post(self, request: Request, template_id: str) -> Response:
        template = template_get_for_workspace(workspace=request_workspace(request), template_id=template_id)
        serializer = self.TemplateVersionCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version: TemplateVersion = template_version_create(template=template, **serializer.validated_data)
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


class ModerationApi(APIView):
    """The workspace's moderation choices (templates/moderation.py). Editors read them (they write the texts
    it checks); owners, and API keys, replace them."""

    read_role = Membership.Role.EDITOR
    write_role = Membership.Role.OWNER

    class ModerationInputSerializer(InputSerializer):
        languages = serializers.ListField(
            child=serializers.CharField(),
            required=False,
            default=lambda: list(DEFAULT_LANGUAGES),
            help_text="The built-in word lists that apply, by language (ISO 639-1). Default: en.",
        )
        block = serializers.ListField(
            child=serializers.CharField(trim_whitespace=False),
            required=False,
            default=list,
            help_text="Words and phrases refused on top of the built-in lists (at most 1000, 100 characters each).",
        )
        allow = serializers.ListField(
            child=serializers.CharField(trim_whitespace=False),
            required=False,
            default=list,
            help_text="Words and phrases the built-in lists do not refuse where they occur (at most 1000).",
        )

    class ModerationOutputSerializer(serializers.Serializer):
        languages = serializers.ListField(child=serializers.CharField())
        block = serializers.ListField(child=serializers.CharField())
        allow = serializers.ListField(child=serializers.CharField())
        available_languages = serializers.SerializerMethodField()
        updated_at = serializers.DateTimeField(allow_null=True)

        def get_available_languages(self, _: object) -> list[str]:
            return list(BUILTIN_LANGUAGES)

    @extend_schema(responses=ModerationOutputSerializer)
    def get(self, request: Request) -> Response:
        moderation = moderation_lists_get(workspace=request_workspace(request))
        return Response(self.ModerationOutputSerializer(moderation).data)

    @extend_schema(request=ModerationInputSerializer, responses=ModerationOutputSerializer)
    def put(self, request: Request) -> Response:
        serializer = self.ModerationInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        moderation = moderation_lists_replace(
            workspace=request_workspace(request), **serializer.validated_data
        )
        return Response(self.ModerationOutputSerializer(moderation).data)
