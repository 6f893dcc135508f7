"""HTTP interface for the audit log and consent records (docs/trust.md). Views parse, call one service or
selector, and serialize.

The audit log is read by owners and API keys (a key acts for its workspace); nobody writes it through the API.
Consents are read and recorded by editors and owners: they name people and hold signed documents."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.apis import read_upload
from core.audit import audit_context, audit_csv, audit_list
from core.auth import request_workspace
from core.consent import (
    consent_create,
    consent_evidence_url,
    consent_get_for_workspace,
    consent_holds,
    consent_list,
    consent_revoke,
)
from core.inputs import InputSerializer
from core.models import Consent, Membership
from core.pagination import CursorPagination
from core.parsers import MultiPartParser
from core.workspace_data import workspace_delete_request

OWNER = Membership.Role.OWNER
EDITOR = Membership.Role.EDITOR


# --- audit log --------------------------------------------------------------------------------------------------


class AuditEntryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor = serializers.CharField(
        help_text="`user:<username>`, `api-key:<prefix>`, `support:<name>` or `system`."
    )
    action = serializers.CharField(help_text="Dotted: `campaign.approved`, `consent.revoked`, ...")
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    ip_hash = serializers.CharField(help_text="A keyed hash of the client's address (never the address).")
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    seq = serializers.IntegerField(help_text="Its place in the workspace's chain.")
    prev_hash = serializers.CharField()
    hash = serializers.CharField(help_text="SHA-256 of the entry's canonical JSON and `prev_hash`.")


class AuditFilterSerializer(serializers.Serializer):
    actor = serializers.CharField(required=False, max_length=200)
    action = serializers.CharField(
        required=False, max_length=64, help_text="An action, or a family ending in `.` (`campaign.`)."
    )
    object_type = serializers.CharField(required=False, max_length=64)
    object_id = serializers.CharField(required=False, max_length=100)
    since = serializers.DateTimeField(required=False, help_text="Entries at or after this time.")
    until = serializers.DateTimeField(required=False, help_text="Entries before this time.")


def _audit_entries(request: Request) -> Any:
    filters = AuditFilterSerializer(data=request.query_params.dict())
    filters.is_valid(raise_exception=True)
    return audit_list(workspace=request_workspace(request), **filters.validated_data)


class AuditApi(APIView):
    read_role = write_role = OWNER

    @extend_schema(parameters=[AuditFilterSerializer], responses=AuditEntryOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        paginator = CursorPagination()
        page = paginator.paginate_queryset(_audit_entries(request), request, view=self)
        return paginator.get_paginated_response(AuditEntryOutputSerializer(page, many=True).data)


class AuditCsvApi(APIView):
    read_role = write_role = OWNER

    @extend_schema(parameters=[AuditFilterSerializer], responses={(200, "text/csv"): str})
    def get(self, request: Request) -> StreamingHttpResponse:
        entries = _audit_entries(request)
        response = StreamingHttpResponse(audit_csv(entries), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        return response


# --- consents ---------------------------------------------------------------------------------------------------


class ConsentOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    person_name = serializers.CharField()
    brands = serializers.SerializerMethodField()
    uses = serializers.ListField(child=serializers.ChoiceField(choices=Consent.Use.choices))
    valid_until = serializers.DateTimeField(allow_null=True)
    collected_by = serializers.CharField()
    granted_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    revoked_reason = serializers.CharField()
    status = serializers.SerializerMethodField(help_text="`active`, `revoked` or `expired`.")
    evidence = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_brands(self, consent: Consent) -> list[str]:
        return sorted(str(brand.pk) for brand in consent.brands.all())

    def get_status(self, consent: Consent) -> str:
        if consent.revoked_at is not None:
            return "revoked"
        return "active" if consent_holds(consent) else "expired"

    def get_evidence(self, consent: Consent) -> dict[str, Any]:
        return {
            "name": consent.evidence_name,
            "content_type": consent.evidence_content_type,
            "size": consent.evidence_size,
            "sha256": consent.evidence_sha256,
            "url": consent_evidence_url(consent=consent),  # short-lived
        }


class ConsentsApi(APIView):
    read_role = EDITOR
    parser_classes = [MultiPartParser]

    class ConsentCreateInputSerializer(InputSerializer):
        person_name = serializers.CharField(max_length=200)
        brands = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=100)
        uses = serializers.ListField(
            child=serializers.ChoiceField(choices=Consent.Use.choices), min_length=1, max_length=3
        )
        valid_until = serializers.DateTimeField(required=False, allow_null=True, default=None)
        collected_by = serializers.CharField(
            max_length=200, required=False, help_text="Who collected it (default: whoever records it)."
        )
        evidence = serializers.FileField(
            help_text="The signed document (PDF, PNG, JPEG) or recorded statement."
        )

    @extend_schema(responses=ConsentOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        paginator = CursorPagination()
        page = paginator.paginate_queryset(
            consent_list(workspace=request_workspace(request)), request, view=self
        )
        return paginator.get_paginated_response(ConsentOutputSerializer(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": ConsentCreateInputSerializer},
        responses={201: ConsentOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.ConsentCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data["evidence"]
        consent = consent_create(
            workspace=request_workspace(request),
            person_name=data["person_name"],
            brand_ids=data["brands"],
            uses=data["uses"],
            valid_until=data["valid_until"],
            evidence=read_upload(upload),
            evidence_name=upload.name or "",
            collected_by=data.get("collected_by") or audit_context().actor,
        )
        return Response(ConsentOutputSerializer(consent).data, status=status.HTTP_201_CREATED)


class ConsentDetailApi(APIView):
    read_role = EDITOR

    @extend_schema(responses=ConsentOutputSerializer)
    def get(self, request: Request, consent_id: str) -> Response:
        consent = consent_get_for_workspace(workspace=request_workspace(request), consent_id=consent_id)
        return Response(ConsentOutputSerializer(consent).data)


class ConsentRevokeApi(APIView):
    read_role = EDITOR

    class ConsentRevokeInputSerializer(InputSerializer):
        reason = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)

    @extend_schema(request=ConsentRevokeInputSerializer, responses=ConsentOutputSerializer)
    def post(self, request: Request, consent_id: str) -> Response:
        """Renders still in progress with its likeness are canceled and what was made with it is erased, by a
        task that starts at once (its effects are in the render API and the audit log)."""
        consent = consent_get_for_workspace(workspace=request_workspace(request), consent_id=consent_id)
        serializer = self.ConsentRevokeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        consent = consent_revoke(consent=consent, reason=serializer.validated_data["reason"])
        return Response(ConsentOutputSerializer(consent).data)


# --- the workspace as a whole -----------------------------------------------------------------------------------


class WorkspaceDeleteApi(APIView):
    read_role = write_role = OWNER

    class WorkspaceDeleteInputSerializer(InputSerializer):
        confirm = serializers.CharField(max_length=100, help_text="The workspace's name, typed again.")

    @extend_schema(request=WorkspaceDeleteInputSerializer, responses={202: None})
    def post(self, request: Request) -> Response:
        """Delete this workspace whole: every template, brand, campaign, render and their files, its members'
        access and API keys (this one too). Refused while a Stripe subscription still bills (409)."""
        serializer = self.WorkspaceDeleteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        workspace_delete_request(
            workspace=request_workspace(request), confirm=serializer.validated_data["confirm"]
        )
        return Response(status=status.HTTP_202_ACCEPTED)
