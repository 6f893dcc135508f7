"""Writes for ad templates: create, rename, archive or restore, and add an immutable version."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.audit import audit_record, changes
from core.errors import ApplicationError
from core.models import Workspace
from core.services import asset_store
from core.text import name_check, name_problem
from templates.models import AdTemplate, TemplateAsset, TemplateVersion, WorkspaceModeration
from templates.moderation import moderation_template_check
from templates.moderator import BUILTIN_LANGUAGES, DEFAULT_LANGUAGES, entry_words
from templates.spec import spec_validate
from templates.spec_checks import UNKNOWN_KEY

TEMPLATE_ASSET_KINDS = ("music",)
UNKNOWN_TEMPLATE_ASSET_KIND = "Unknown asset kind; a template takes music."
# A version's credits: who made it, in what role (docs/template-spec.md "Authors").
MAX_AUTHORS = 20
AUTHORS_INVALID = "The authors are invalid."
AUTHORS_SHAPE = f"Must be a list of at most {MAX_AUTHORS} authors, each {{'name', 'role'}}."
AUTHOR_TEXT = "Must be 1 to {limit} characters."
AUTHOR_FIELDS = {"name": 100, "role": 50}
# A workspace's own lists (templates/moderation.py): entries and their length. A thousand words is far more
# than a brand's own blocked names and allowed exceptions need, and bounds the work per text.
MAX_LIST_ENTRIES = 1000
MAX_ENTRY = 100
MODERATION_LISTS_INVALID = "The moderation lists are invalid."
UNKNOWN_LANGUAGE = "Must be one of the built-in lists' languages: {languages}."
ENTRY_INVALID = f"Must be 1 to {MAX_ENTRY} characters with a letter, digit or symbol to match."
IN_BOTH = "Also on the block list: the block list always wins, so allowing it would do nothing."


def authors_check(authors: Any) -> list[dict[str, str]]:
    """A version's authors as given ([{"name", "role"}]), each field trimmed; 400 naming the bad one."""
    if not isinstance(authors, list) or len(authors) > MAX_AUTHORS:
        raise ApplicationError(AUTHORS_INVALID, fields={"authors": AUTHORS_SHAPE})
    errors: dict[str, str] = {}
    checked: list[dict[str, str]] = []
    for index, author in enumerate(authors):
        if not isinstance(author, dict):
            errors[f"authors[{index}]"] = AUTHORS_SHAPE
            continue
        for key in author:
            if key not in AUTHOR_FIELDS:
                errors[f"authors[{index}].{key}"] = UNKNOWN_KEY
        entry: dict[str, str] = {}
        for key, limit in AUTHOR_FIELDS.items():
            value = author[key].strip() if isinstance(author.get(key), str) else None
            problem = AUTHOR_TEXT.format(limit=limit) if not value or len(value) > limit else None
            problem = problem or name_problem(value or "")
            if problem:
                errors[f"authors[{index}].{key}"] = problem
            entry[key] = value or ""
        checked.append(entry)
    if errors:
        raise ApplicationError(AUTHORS_INVALID, fields=errors)
    return checked


@transaction.atomic
def template_create(*, workspace: Workspace, name: str, spec: Any, authors: Any = None) -> TemplateVersion:
    name_check(name)
    credits = authors_check([] if authors is None else authors)
    spec, declared = spec_validate(spec)
    moderation_template_check(workspace=workspace, spec=spec, declared=declared)
    template = AdTemplate.objects.create(workspace=workspace, name=name, latest_version=1)
    version = TemplateVersion.objects.create(
        template=template, version=1, spec=spec, variables=declared, authors=credits
    )
    audit_record(
        "template.created",
        workspace=workspace,
        object_type="template",
        object_id=template.pk,
        after={"name": name, "version": 1, "version_id": str(version.pk)},
    )
    return version


def template_update(
    *, template: AdTemplate, name: str | None = None, archived: bool | None = None
) -> AdTemplate:
    """Rename, archive (hidden from lists, refused for new renders and campaigns; what was made with it
    keeps it) or restore a template; what is not given stays."""
    was = {"name": template.name, "archived": template.archived_at is not None}
    if name is not None:
        name_check(name)
        template.name = name
    if archived is not None and archived != (template.archived_at is not None):
        template.archived_at = timezone.now() if archived else None
    with transaction.atomic():
        template.save(update_fields=["name", "archived_at"])
        before, after = changes(was, {"name": template.name, "archived": template.archived_at is not None})
        if after:
            archived_now = after.get("archived")
            action = (
                "template.renamed"
                if archived_now is None
                else ("template.archived" if archived_now else "template.restored")
            )
            audit_record(
                action,
                workspace=template.workspace_id,
                object_type="template",
                object_id=template.pk,
                before=before,
                after=after,
            )
    return template


@transaction.atomic
def template_version_create(*, template: AdTemplate, spec: Any, authors: Any = None) -> TemplateVersion:
    credits = authors_check([] if authors is None else authors)
    tracks = {
        str(pk)
        for pk in TemplateAsset.objects.filter(template=template, kind="music").values_list("pk", flat=True)
    }
    spec, declared = spec_validate(spec, template_tracks=tracks)
    moderation_template_check(workspace=template.workspace, spec=spec, declared=declared)
    # The row lock serialises concurrent version creation: numbers are consecutive, never duplicated.
    AdTemplate.objects.filter(pk=template.pk).update(latest_version=F("latest_version") + 1)
    template.refresh_from_db(fields=["latest_version"])
    version = TemplateVersion.objects.create(
        template=template, version=template.latest_version, spec=spec, variables=declared, authors=credits
    )
    audit_record(
        "template.version_created",
        workspace=template.workspace_id,
        object_type="template",
        object_id=template.pk,
        after={"version": version.version, "version_id": str(version.pk)},
    )
    return version


def template_asset_upload(
    *, template: AdTemplate, kind: str, data: bytes, original_name: str = ""
) -> TemplateAsset:
    """A music track for this template's versions to name in `audio.track` (checked like brand music)."""
    if kind not in TEMPLATE_ASSET_KINDS:
        raise ApplicationError(UNKNOWN_TEMPLATE_ASSET_KIND, fields={"kind": UNKNOWN_TEMPLATE_ASSET_KIND})
    stored = asset_store(folder=f"templates/{template.workspace_id}/{template.pk}", kind=kind, data=data)
    return TemplateAsset.objects.create(
        template=template,
        kind=kind,
        storage_key=stored.key,
        content_type=stored.checked.content_type,
        size=len(data),
        sha256=stored.sha256,
        original_name=original_name[:255],
        details=stored.checked.details,
    )


def _entries(values: Any, field: str, errors: dict[str, str]) -> dict[tuple[str, ...], tuple[int, str]]:
    """A list of words and phrases: {as matched: (its index, as typed and trimmed)}, repeats (the same once
    normalised) left out."""
    if not isinstance(values, list) or len(values) > MAX_LIST_ENTRIES:
        errors[field] = f"Must be a list of at most {MAX_LIST_ENTRIES} words or phrases."
        return {}
    kept: dict[tuple[str, ...], tuple[int, str]] = {}
    for index, value in enumerate(values):
        text = value.strip() if isinstance(value, str) else ""
        words = entry_words(text) if text and len(text) <= MAX_ENTRY else ()
        problem = name_problem(text) if words else ENTRY_INVALID
        if problem:
            errors[f"{field}[{index}]"] = problem
            continue
        kept.setdefault(words, (index, text))
    return kept


def moderation_lists_replace(
    *, workspace: Workspace, languages: Any, block: Any, allow: Any
) -> WorkspaceModeration:
    """Replace a workspace's moderation choices whole: the built-in languages that apply and its own block
    and allow lists. They apply to template versions saved and renders requested from now on."""
    errors: dict[str, str] = {}
    if not isinstance(languages, list) or any(lang not in BUILTIN_LANGUAGES for lang in languages):
        errors["languages"] = UNKNOWN_LANGUAGE.format(languages=", ".join(BUILTIN_LANGUAGES))
        languages = []
    blocked = _entries(block, "block", errors)
    allowed = _entries(allow, "allow", errors)
    for words, (index, _) in allowed.items():
        if words in blocked:
            errors[f"allow[{index}]"] = IN_BOTH
    if errors:
        raise ApplicationError(MODERATION_LISTS_INVALID, fields=errors)
    lists = {
        "languages": list(dict.fromkeys(languages)),
        "block": [text for _, text in blocked.values()],
        "allow": [text for _, text in allowed.values()],
    }
    with transaction.atomic():
        was = WorkspaceModeration.objects.select_for_update().filter(workspace=workspace).first()
        moderation, _ = WorkspaceModeration.objects.update_or_create(workspace=workspace, defaults=lists)
        previous = (
            {"languages": was.languages, "block": was.block, "allow": was.allow}
            if was is not None
            else {"languages": list(DEFAULT_LANGUAGES), "block": [], "allow": []}
        )
        before, after = changes(previous, lists)
        if after:
            audit_record(
                "moderation.lists_replaced",
                workspace=workspace,
                object_type="moderation",
                object_id=workspace.pk,
                before=before,
                after=after,
            )
    return moderation
