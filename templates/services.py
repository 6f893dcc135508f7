"""Writes for ad templates: create, and add an immutable version."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F

from core.models import Workspace
from templates.models import AdTemplate, TemplateVersion
from templates.spec import spec_validate


@transaction.atomic
def template_create(*, workspace: Workspace, name: str, spec: Any) -> TemplateVersion:
    spec, declared = spec_validate(spec)
    template = AdTemplate.objects.create(workspace=workspace, name=name, latest_version=1)
    return TemplateVersion.objects.create(template=template, version=1, spec=spec, variables=declared)


@transaction.atomic
def template_version_create(*, template: AdTemplate, spec: Any) -> TemplateVersion:
    spec, declared = spec_validate(spec)
    # The row lock serialises concurrent version creation: numbers are consecutive, never duplicated.
    AdTemplate.objects.filter(pk=template.pk).update(latest_version=F("latest_version") + 1)
    template.refresh_from_db(fields=["latest_version"])
    return TemplateVersion.objects.create(
        template=template, version=template.latest_version, spec=spec, variables=declared
    )
