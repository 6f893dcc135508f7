"""`manage.py create_api_key NAME`: make the workspace if needed, mint a key, print it alone on the last line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.services import api_key_create, workspace_get_or_create


class Command(BaseCommand):
    help = "Create workspace NAME if it does not exist and print a new API key for it (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="workspace name")
        parser.add_argument("--key-name", default="default", help="a label for the key")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = workspace_get_or_create(name=options["name"])
        _api_key, raw_key = api_key_create(workspace=workspace, name=options["key_name"])
        self.stderr.write(
            f"API key for workspace {workspace.name!r} (stored hashed; this is the only time it is shown):"
        )
        self.stdout.write(raw_key)
