"""Importing a campaign's recipients: a JSON list, a CSV file (campaigns.csv_import reads the file: encoding,
delimiter, header mapping), or a zip of a CSV and the pictures its image columns name
(campaigns/zip_import.py). Every row is checked against the template version's declared variables; the
accepted rows commit together, each rejected row is reported with its number, field and reason
(docs/campaigns.md "Recipients"). A bad row never takes its neighbours with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from campaigns.csv_import import RESERVED_COLUMNS, csv_layout, csv_mapping_resolve, csv_records
from campaigns.models import Campaign, Recipient
from campaigns.services import TASK_FANOUT, Status
from campaigns.zip_import import RecipientsZip, zip_is
from core.errors import ApplicationError, ConflictError
from core.queue import enqueue
from render.services.images import uploaded_images_check
from templates.merge import variables_resolve
from templates.moderation import VersionModeration

UPLOAD_CLOSED = "Recipients cannot be added to a finished campaign."
BAD_EMAIL = "Enter a valid email address."
EXTERNAL_ID_TOO_LONG = "At most 200 characters."
NOT_AN_IDENTIFIER = "Must be text or a whole number."
NOT_A_RECIPIENT = "Each recipient must be an object."
RECIPIENTS_REQUIRED = "Send `recipients` (a list) as JSON, or a CSV `file`."
RECIPIENTS_REJECTED = "Some rows were rejected."

# Rows validated and inserted per database round trip during an import.
IMPORT_BATCH = 1000
# At most this many rejected rows are listed in an import's answer (the count is always exact).
REJECTED_REPORT_LIMIT = 1000


@dataclass
class ImportReport:
    accepted: int = 0
    duplicates: int = 0
    rejected_count: int = 0
    # {"row", "fields": {path: [messages]}} and, from a CSV, "cells": the row as it was in the file.
    rejected: list[dict[str, Any]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # a CSV's header, for the rejected rows' download


@dataclass(frozen=True)
class _Row:
    number: int  # spreadsheet row (CSV) or list index (JSON)
    path: str  # `rows[17]` or `recipients[3]`
    values: dict[str, Any]
    external_id: str
    email: str
    errors: dict[str, list[str]] = field(default_factory=dict)  # found while parsing, before validation
    kept: dict[str, str] = field(default_factory=dict)  # CSV columns kept as recipient fields
    cells: list[str] | None = None  # the CSV row as it was, for the rejected rows' download


def _dedupe_key(row: _Row) -> str | None:
    if row.external_id:
        return f"x:{row.external_id}"
    if row.email:
        return f"e:{row.email}"
    return None


class _Importer:
    """Validates and inserts rows in batches; memory holds one batch plus the keys seen in this upload."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.declared = campaign.template_version.variables
        self.report = ImportReport()
        self.seen: set[str] = set()
        self.position = campaign.recipient_count
        self.uploads_known: dict[str, bool] = {}  # upload reference → in the workspace's storage
        # Each row's values are moderated as its render will be (templates/moderation.py): a refused value
        # is a rejected row, named by its row and column, not a failed render later.
        self.moderation = VersionModeration(
            workspace=campaign.workspace, spec=campaign.template_version.spec, declared=self.declared
        )

    def reject(self, row: _Row, fields: dict[str, list[str]]) -> None:
        self.report.rejected_count += 1
        if len(self.report.rejected) < REJECTED_REPORT_LIMIT:
            item: dict[str, Any] = {"row": row.number, "fields": fields}
            if row.cells is not None:
                item["cells"] = row.cells
            self.report.rejected.append(item)

    def run(self, rows: Iterable[_Row]) -> None:
        batch: list[_Row] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= IMPORT_BATCH:
                self._flush(batch)
                batch = []
        self._flush(batch)

    def _flush(self, rows: list[_Row]) -> None:
        valid: list[tuple[_Row, dict[str, str]]] = []
        for row in rows:
            if row.errors:
                self.reject(row, row.errors)
                continue
            errors: dict[str, list[str]] = {}
            resolved: dict[str, str] = {}
            try:
                resolved = variables_resolve(declared=self.declared, values=row.values, path=row.path)
                uploaded_images_check(
                    workspace_id=self.campaign.workspace_id,
                    declared=self.declared,
                    values=resolved,
                    path=row.path,
                    known=self.uploads_known,
                )
            except ApplicationError as exc:
                errors.update(exc.fields)
            else:
                errors.update(self.moderation.values_errors(resolved, path=row.path, row=True))
            if len(row.external_id) > 200:
                errors[f"{row.path}.external_id"] = [EXTERNAL_ID_TOO_LONG]
            if row.email:
                try:
                    validate_email(row.email)
                except ValidationError:
                    errors[f"{row.path}.email"] = [BAD_EMAIL]
            if errors:
                self.reject(row, errors)
            else:
                valid.append((row, resolved))
        if not valid:
            return
        existing_ids = set(
            Recipient.objects.filter(
                campaign=self.campaign, external_id__in=[r.external_id for r, _ in valid if r.external_id]
            ).values_list("external_id", flat=True)
        )
        existing_emails = set(
            Recipient.objects.filter(
                campaign=self.campaign, email__in=[r.email for r, _ in valid if r.email and not r.external_id]
            ).values_list("email", flat=True)
        )
        new: list[Recipient] = []
        for row, resolved in valid:
            key = _dedupe_key(row)
            if key is not None and (
                key in self.seen
                or (row.external_id and row.external_id in existing_ids)
                or (not row.external_id and row.email in existing_emails)
            ):
                self.report.duplicates += 1
                continue
            if key is not None:
                self.seen.add(key)
            self.position += 1
            new.append(
                Recipient(
                    campaign=self.campaign,
                    variables=resolved,
                    external_id=row.external_id,
                    email=row.email,
                    fields=row.kept,
                    position=self.position,
                )
            )
        Recipient.objects.bulk_create(new)
        self.report.accepted += len(new)


def _identity_text(value: Any) -> str | None:
    """An `external_id` or `email` as text: a string, or an integer as its decimal digits (CRMs number
    their records); None for anything else (a float, a boolean, an object: it was once stored as its
    Python repr). docs/campaigns.md "Recipients"."""
    if value is None or isinstance(value, str):
        return (value or "").strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _row(number: int, path: str, values: dict[str, Any]) -> _Row:
    errors: dict[str, list[str]] = {}
    external_id = _identity_text(values.pop("external_id", ""))
    if external_id is None:
        errors[f"{path}.external_id"] = [NOT_AN_IDENTIFIER]
    email = _identity_text(values.pop("email", ""))
    if email is None:
        errors[f"{path}.email"] = [BAD_EMAIL]
    return _Row(number, path, values, external_id or "", (email or "").lower(), errors)


def _json_rows(recipients: list[Any]) -> Iterator[_Row]:
    for index, item in enumerate(recipients):
        path = f"recipients[{index}]"
        if not isinstance(item, dict):
            yield _Row(index, path, {}, "", "", {path: [NOT_A_RECIPIENT]})
            continue
        values = dict(item)
        if isinstance(values.get("variables"), dict):
            nested = values.pop("variables")
            values = {**nested, **{k: v for k, v in values.items() if k in RESERVED_COLUMNS}}
        yield _row(index, path, values)


def _csv_rows(
    file: IO[bytes],
    declared: dict[str, Any],
    mapping: dict[str, str] | None,
    report: ImportReport,
    pictures: RecipientsZip | None = None,
) -> Iterator[_Row]:
    """A CSV's rows (campaigns.csv_import: encoding, delimiter, header mapping), numbered as a spreadsheet
    numbers them: the header is row 1 (docs/api.md)."""
    layout = csv_layout(file)
    targets = csv_mapping_resolve(layout.header, declared, mapping)
    report.columns = layout.header
    for record in csv_records(file, layout, targets):
        path = f"rows[{record.number}]"
        if record.problem:
            yield _Row(record.number, path, {}, "", "", {path: [record.problem]}, cells=record.cells)
            continue
        row = _row(record.number, path, dict(record.values))
        if pictures is not None:  # image cells naming files in the uploaded zip (campaigns/zip_import.py)
            missing = pictures.rewrite(declared=declared, values=row.values, path=path)
            row = replace(row, errors={**row.errors, **missing})
        yield replace(row, kept=record.kept, cells=record.cells)


def recipients_import(
    *,
    campaign: Campaign,
    recipients: list[Any] | None = None,
    file: IO[bytes] | None = None,
    mapping: dict[str, str] | None = None,
) -> ImportReport:
    """Add recipients from a JSON list or a CSV file; all accepted rows commit together. `mapping` (CSV
    header → a variable, `email`, `external_id`, `ignore` or `keep`) overrides the columns' guessed
    targets (campaigns.csv_import)."""
    if recipients is None and file is None:
        raise ApplicationError(RECIPIENTS_REQUIRED, fields={"recipients": RECIPIENTS_REQUIRED})
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().select_related("template_version").get(pk=campaign.pk)
        if locked.status == Status.CANCELED or (locked.status == Status.COMPLETED and not locked.recurring):
            raise ConflictError(UPLOAD_CLOSED)
        importer = _Importer(locked)
        if file is not None and zip_is(file):
            pictures = RecipientsZip(file, workspace_id=locked.workspace_id)
            with pictures.csv_file() as csv_file:
                importer.run(_csv_rows(csv_file, importer.declared, mapping, importer.report, pictures))
        elif file is not None:
            importer.run(_csv_rows(file, importer.declared, mapping, importer.report))
        else:
            importer.run(_json_rows(recipients or []))
        Campaign.objects.filter(pk=locked.pk).update(
            recipient_count=importer.position, updated_at=timezone.now()
        )
        if locked.status == Status.RUNNING and not locked.is_scheduled and importer.report.accepted:
            enqueue(TASK_FANOUT, str(locked.pk))
    return importer.report
