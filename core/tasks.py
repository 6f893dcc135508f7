"""Celery interface to core's own work: carrying out revoked and expired consents (core.consent), deleting a
workspace whole (core.workspace_data)."""

from __future__ import annotations

from core.consent import consent_lapse, consents_expire
from core.models import Workspace
from core.queue import task
from core.workspace_data import TASK_DELETE, workspace_delete


@task("consents.lapse", queue="cpu")
def lapse(consent_id: str) -> None:
    consent_lapse(consent_id=consent_id)


@task("consents.expire", queue="cpu")
def expire() -> None:
    consents_expire()


@task(TASK_DELETE, queue="cpu")
def delete_workspace(workspace_id: str, actor: str = "") -> None:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is not None:  # a second delivery finds it gone
        workspace_delete(workspace=workspace, confirm=workspace.name, actor=actor or None)
