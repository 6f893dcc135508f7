"""`manage.py grant_credits WORKSPACE N --reason TEXT`: support's tool to adjust a balance, with an audit entry."""

from __future__ import annotations

import getpass
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.billing.ledger import billing_account_get_or_create, credits_grant
from core.billing.selectors import ledger_balance
from core.errors import ApplicationError
from core.models import Workspace


class Command(BaseCommand):
    help = "Add N credits (negative N removes) to WORKSPACE (its id or name); the ledger records who and why."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", help="workspace id or name")
        parser.add_argument("amount", type=int, help="credits to add; negative to remove")
        parser.add_argument("--reason", default="", help="why (kept in the ledger entry)")
        parser.add_argument("--by", default="", help="who asked (default: the OS user running this)")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = _workspace(options["workspace"])
        actor = options["by"] or getpass.getuser()
        note = f"grant_credits by {actor}" + (f": {options['reason']}" if options["reason"] else "")
        try:
            entry = credits_grant(
                workspace=workspace, amount=options["amount"], note=note, actor=f"support:{actor}"
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        balance = ledger_balance(account=billing_account_get_or_create(workspace=workspace))
        self.stdout.write(f"{workspace.name}: {entry.delta:+d} credits (entry {entry.pk}); balance {balance}")


def _workspace(ref: str) -> Workspace:
    try:
        return Workspace.objects.get(pk=uuid.UUID(ref))
    except (ValueError, Workspace.DoesNotExist):
        pass
    try:
        return Workspace.objects.get(name=ref)
    except Workspace.DoesNotExist as exc:
        raise CommandError(f"No workspace with id or name {ref!r}.") from exc
