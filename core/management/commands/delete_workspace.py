"""`manage.py delete_workspace WORKSPACE --confirm NAME`: delete a workspace whole, files and rows
(core.workspace_data); the system audit chain keeps that it was done."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from core.selectors import workspace_find
from core.workspace_data import workspace_delete


class Command(BaseCommand):
    help = "Delete a workspace and everything in it. --confirm must repeat its name."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", help="workspace id or name")
        parser.add_argument("--confirm", required=True, help="the workspace's name, typed again")
        parser.add_argument("--by", default="", help="who asked (default: the OS user running this)")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = workspace_find(options["workspace"])
        if workspace is None:
            raise CommandError(f"No workspace with id or name {options['workspace']!r}.")
        name = workspace.name
        try:
            result = workspace_delete(
                workspace=workspace,
                confirm=options["confirm"],
                actor=f"support:{options['by'] or getpass.getuser()}",
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Deleted workspace {name!r} ({result['objects_deleted']} stored objects).")
