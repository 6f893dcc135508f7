"""`manage.py export_workspace WORKSPACE --out FILE.zip`: everything a workspace holds, as JSON tables and its
stored files (core.workspace_data); audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.selectors import workspace_find
from core.workspace_data import workspace_export


class Command(BaseCommand):
    help = "Write a workspace's data (JSON per table, and its files) to a zip."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", help="workspace id or name")
        parser.add_argument("--out", required=True, help="the zip to write")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = workspace_find(options["workspace"])
        if workspace is None:
            raise CommandError(f"No workspace with id or name {options['workspace']!r}.")
        out = Path(options["out"])
        counts = workspace_export(workspace=workspace, dest=out)
        self.stdout.write(
            f"{workspace.name}: {counts['rows']} rows and {counts['files']} files written to {out}"
        )
