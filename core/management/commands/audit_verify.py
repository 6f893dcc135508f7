"""`manage.py audit_verify`: walk every audit chain (core.audit); exit 0 printing the count when all hold,
exit 1 naming the first entry whose hash or link does not hold (edited, removed, or inserted by hand)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.audit import audit_verify


class Command(BaseCommand):
    help = "Verify the audit log's hash chains; fails naming the first entry that does not hold."

    def handle(self, *args: Any, **options: Any) -> None:
        count, broken = audit_verify()
        if broken is not None:
            where = f"entry {broken.entry_id}" if broken.entry_id is not None else "the end of the chain"
            raise CommandError(
                f"Audit chain {broken.chain} is broken at {where}: {broken.reason} ({count} entries before it hold)."
            )
        self.stdout.write(f"Audit log intact: {count} entries verified.")
