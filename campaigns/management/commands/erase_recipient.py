"""`manage.py erase_recipient --email X [--workspace W]`: support's tool for a person who asked to be forgotten.
Every recipient with that email (in every workspace, or the one named) is erased now, as the API's DELETE does
(campaigns.erasure); the audit entries name no personal data."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.erasure import recipients_erase_by_email
from core.models import Workspace
from core.selectors import workspace_find


class Command(BaseCommand):
    help = "Erase every campaign recipient with this email: their values, outputs, watch pages and events."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True, help="the recipient's email (any case)")
        parser.add_argument("--workspace", default="", help="only in this workspace (its id or name)")
        parser.add_argument("--by", default="", help="who asked (default: the OS user running this)")

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"].strip()
        if not email:
            raise CommandError("Give the recipient's email.")
        workspace = _workspace(options["workspace"]) if options["workspace"] else None
        actor = f"support:{options['by'] or getpass.getuser()}"
        count = recipients_erase_by_email(email=email, workspace=workspace, actor=actor)
        self.stdout.write(f"Erased {count} recipient(s).")


def _workspace(ref: str) -> Workspace:
    workspace = workspace_find(ref)
    if workspace is None:
        raise CommandError(f"No workspace with id or name {ref!r}.")
    return workspace
