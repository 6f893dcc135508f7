"""`manage.py create_member WORKSPACE EMAIL --role owner|editor|viewer`: make the workspace if needed, add the
person, and print a one-time link to set their password (alone on the last line)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError, ConflictError
from core.models import Membership
from core.services import member_invite, member_password_set_path, member_role_change, workspace_get_or_create


class Command(BaseCommand):
    help = (
        "Add EMAIL to workspace WORKSPACE (made if needed) with a role, and print a link to set a password."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", help="workspace name")
        parser.add_argument("email", help="the member's email: they sign in with it")
        parser.add_argument("--role", choices=Membership.Role.values, default=Membership.Role.EDITOR)

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = workspace_get_or_create(name=options["workspace"])
        email = options["email"].strip().lower()
        try:
            member = member_invite(workspace=workspace, email=email, role=options["role"])
        except ConflictError:
            # Already a member: a fresh link (for a forgotten password) and the role asked for.
            member = Membership.objects.select_related("user").get(workspace=workspace, user__username=email)
            try:
                member = member_role_change(member=member, role=options["role"])
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        link = f"{settings.PUBLIC_BASE_URL}{member_password_set_path(member=member)}"
        self.stderr.write(
            f"{member.user.get_username()} is {member.role} of workspace {workspace.name!r}. "
            "Open this link to set the password (it works once), then sign in at /login/:"
        )
        self.stdout.write(link)
