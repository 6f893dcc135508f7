"""A workspace's data as a whole (docs/trust.md): exported (a zip of JSON and files) and deleted.

Core knows only its own rows and files; every app above registers, at `ready()`, how to export its part and how
to purge it (the inverted link of docs/architecture.md, as `brand_delete_check_register`). A purge deletes the
app's stored objects and the rows that protect lower ones (a render protects its template version); purges run
from the highest layer down (`height`: campaigns 3, render 2, templates 1), then core deletes its files and the
workspace row, whose cascade takes the rest. The deletion leaves one entry in the system audit chain (the
workspace's own chain goes with it: core.audit keeps one chain per workspace for this reason).
"""

from __future__ import annotations

import json
import logging
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.audit import audit_context, audit_record
from core.billing.models import BillingAccount, CreditEntry
from core.errors import ApplicationError, ConflictError
from core.models import ApiKey, AuditChain, AuditEntry, Brand, BrandAsset, Consent, Membership, Workspace
from core.queue import enqueue
from core.storage import get_storage

logger = logging.getLogger(__name__)

TASK_DELETE = "workspaces.delete"
CONFIRM_MISMATCH = "Type the workspace's name exactly to confirm."
SUBSCRIPTION_LIVE = "The workspace still has a {status} subscription; cancel it in the billing portal first."
# Stripe statuses that still bill (docs/billing.md): deleting the workspace would leave them running.
LIVE_SUBSCRIPTIONS = ("active", "trialing", "past_due", "unpaid", "incomplete")


@dataclass
class ExportPart:
    """One app's part of an export: JSON tables by name, and stored files as (storage key, name in the zip)."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files: list[tuple[str, str]] = field(default_factory=list)


Exporter = Callable[[Workspace], ExportPart]
Purger = Callable[[Workspace], int]
_EXPORTERS: dict[str, Exporter] = {}
_PURGERS: dict[str, tuple[int, Purger]] = {}


def workspace_data_register(*, name: str, height: int, export: Exporter, purge: Purger) -> None:
    """An app's part of a workspace: `export` returns it, `purge` deletes its files and the rows that protect
    lower layers' rows, returning the objects it deleted from storage. `height`: the app's layer above core."""
    _EXPORTERS[name] = export
    _PURGERS[name] = (height, purge)


def rows(queryset: QuerySet[Any], *fields: str) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (ids, dates and decimals as text)."""
    return [json.loads(json.dumps(row, default=str)) for row in queryset.values(*fields)]


def _core_part(workspace: Workspace) -> ExportPart:
    assets = BrandAsset.objects.filter(brand__workspace=workspace)
    consents = Consent.objects.filter(workspace=workspace)
    part = ExportPart(
        tables={
            "workspace": rows(Workspace.objects.filter(pk=workspace.pk), "id", "name", "created_at"),
            "members": rows(
                Membership.objects.filter(workspace=workspace), "id", "user__username", "role", "created_at"
            ),
            "api_keys": rows(
                ApiKey.objects.filter(workspace=workspace), "id", "name", "prefix", "created_at", "revoked_at"
            ),
            "brands": rows(
                Brand.objects.filter(workspace=workspace),
                "id",
                "name",
                "color_primary",
                "color_secondary",
                "color_text",
                "created_at",
                "deleted_at",
            ),
            "brand_assets": rows(
                assets,
                "id",
                "brand_id",
                "kind",
                "storage_key",
                "content_type",
                "size",
                "sha256",
                "original_name",
                "details",
                "shows_person",
                "consent_id",
                "created_at",
            ),
            "consents": [
                {
                    **row,
                    "brands": [
                        str(pk)
                        for pk in Consent.objects.get(pk=row["id"]).brands.values_list("pk", flat=True)
                    ],
                }
                for row in rows(
                    consents,
                    "id",
                    "person_name",
                    "uses",
                    "valid_until",
                    "evidence_key",
                    "evidence_content_type",
                    "evidence_sha256",
                    "evidence_name",
                    "collected_by",
                    "granted_at",
                    "revoked_at",
                    "revoked_reason",
                )
            ],
            "audit": rows(
                AuditEntry.objects.filter(workspace=workspace).order_by("seq"),
                "id",
                "seq",
                "created_at",
                "actor",
                "action",
                "object_type",
                "object_id",
                "ip_hash",
                "before",
                "after",
                "prev_hash",
                "hash",
            ),
            "credit_entries": rows(
                CreditEntry.objects.filter(account__workspace=workspace),
                "id",
                "kind",
                "delta",
                "reference",
                "note",
                "created_at",
            ),
        },
    )
    part.files += [(key, f"files/{key}") for key in assets.values_list("storage_key", flat=True)]
    part.files += [(key, f"files/{key}") for key in consents.values_list("evidence_key", flat=True)]
    return part


def workspace_export(*, workspace: Workspace, dest: Path) -> dict[str, int]:
    """Write the workspace's data to the zip `dest`: `<part>/<table>.json` and `files/<storage key>`. Audited.
    Returns the rows and files written."""
    parts = {"core": _core_part(workspace)} | {name: export(workspace) for name, export in _EXPORTERS.items()}
    storage = get_storage()
    counts = {"rows": 0, "files": 0}
    with (
        zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        tempfile.TemporaryDirectory(prefix="reelsmith-export-") as tmp,
    ):
        for name, part in parts.items():
            for table, table_rows in part.tables.items():
                archive.writestr(f"{name}/{table}.json", json.dumps(table_rows, indent=1, ensure_ascii=False))
                counts["rows"] += len(table_rows)
            for key, arcname in dict.fromkeys(part.files):
                if not storage.exists(key):
                    continue
                local = storage.fetch(key, Path(tmp) / "file")
                archive.write(local, arcname)
                local.unlink()
                counts["files"] += 1
    audit_record(
        "workspace.exported",
        workspace=workspace,
        object_type="workspace",
        object_id=workspace.pk,
        after=counts,
    )
    return counts


def _delete_check(workspace: Workspace, confirm: str) -> None:
    if confirm != workspace.name:
        raise ApplicationError(CONFIRM_MISMATCH, fields={"confirm": CONFIRM_MISMATCH})
    account = BillingAccount.objects.filter(workspace=workspace).first()
    if account is not None and account.subscription_status in LIVE_SUBSCRIPTIONS:
        raise ConflictError(SUBSCRIPTION_LIVE.format(status=account.subscription_status))


def workspace_delete_request(*, workspace: Workspace, confirm: str) -> None:
    """The owner's API: checked now (400 naming `confirm`, 409 while a subscription bills), deleted by a task
    sent on commit (done before the answer in embedded sync mode), acting for whoever asked."""
    _delete_check(workspace, confirm)
    enqueue(TASK_DELETE, str(workspace.pk), audit_context().actor)


def workspace_delete(*, workspace: Workspace, confirm: str, actor: str | None = None) -> dict[str, int]:
    """Delete the workspace whole: every app's files and rows, then its own, then the workspace. Refused unless
    `confirm` is its name (400 naming `confirm`), and while a Stripe subscription still bills (409)."""
    _delete_check(workspace, confirm)
    deleted = 0
    for _height, purge in sorted(_PURGERS.values(), key=lambda item: -item[0]):
        deleted += purge(workspace)
    storage = get_storage()
    for prefix in (f"brands/{workspace.pk}", f"consents/{workspace.pk}", f"exports/{workspace.pk}"):
        deleted += storage.delete_prefix(prefix)
    with transaction.atomic():
        workspace_id, name = workspace.pk, workspace.name
        Workspace.objects.filter(pk=workspace_id).delete()
        AuditChain.objects.filter(key=str(workspace_id)).delete()
        audit_record(
            "workspace.deleted",
            workspace=None,
            object_type="workspace",
            object_id=workspace_id,
            after={"name": name, "objects_deleted": deleted, "at": timezone.now().isoformat()},
            actor=actor,
        )
    logger.info("workspace deleted", extra={"workspace_id": str(workspace_id), "objects_deleted": deleted})
    return {"objects_deleted": deleted}
