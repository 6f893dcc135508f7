"""The audit log: who changed what, when and from where, in hash chains that show any edit (docs/trust.md).

`audit_record` is called by the services that make a change (never by views), in the transaction that makes
it, as its last write: the entry commits with the change or not at all. Who and from where come from the
request being served (`audit_context`, bound by `AuditContextMiddleware` for a signed-in person and by
`core.auth.ApiKeyAuthentication` for a key), or from the caller (`actor=`: a task acting for a person);
otherwise `system`. The client address is kept only as a keyed hash (HMAC-SHA256 with a key derived from
SECRET_KEY), so two entries from one address can be matched but the address cannot be read back.

One chain per workspace, plus `system` for entries that belong to none: a chain's head row (`AuditChain`) is
locked while an entry is appended (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's IMMEDIATE transactions
already serialise writers), so concurrent writers number entries 1, 2, 3 ... without gaps and each carries
the hash of the one before. Per workspace rather than one global chain: writers in different workspaces do
not queue on one row, and deleting a workspace whole removes its chain whole, leaving every other chain
verifiable. `audit_verify` walks every chain and names the first entry whose hash or link does not hold.
"""

from __future__ import annotations

import contextvars
import csv
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from core.models import AuditChain, AuditEntry, Workspace
from core.text import csv_cell

logger = logging.getLogger(__name__)

SYSTEM_CHAIN = "system"
SYSTEM_ACTOR = "system"
# The hash the first entry of a chain names as its predecessor.
GENESIS_HASH = "0" * 64
# The HMAC key's salt for client addresses (Django's salted_hmac derives the key from SECRET_KEY and this).
IP_HASH_SALT = "reelsmith.audit.ip"


@dataclass(frozen=True)
class AuditContext:
    actor: str
    ip_hash: str = ""


_context: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar(
    "reelsmith_audit", default=None
)


def ip_hash(address: str) -> str:
    """The keyed hash an entry keeps instead of the client's address ("" for none)."""
    if not address:
        return ""
    return salted_hmac(IP_HASH_SALT, address, algorithm="sha256").hexdigest()


def audit_context() -> AuditContext:
    """Who is acting now: the request's person or key, else the system."""
    return _context.get() or AuditContext(actor=SYSTEM_ACTOR)


def audit_actor_bind(actor: str) -> None:
    """The request is acting as `actor` (an API key authenticated by DRF, after the middleware ran): keeps the
    address hash the middleware bound."""
    _context.set(AuditContext(actor=actor, ip_hash=audit_context().ip_hash))


def _client_address(request: HttpRequest) -> str:
    # REMOTE_ADDR: the proxy in front sets it to the client's (gunicorn's forwarded_allow_ips, infra/).
    return str(request.META.get("REMOTE_ADDR") or "")


class AuditContextMiddleware:
    """Binds who is acting (the signed-in person; an API key is bound when DRF authenticates it) and the hash
    of their address for the services this request calls. After AuthenticationMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        actor = f"user:{user.get_username()}" if user is not None and user.is_authenticated else "anonymous"
        token = _context.set(AuditContext(actor=actor, ip_hash=ip_hash(_client_address(request))))
        try:
            return self.get_response(request)
        finally:
            _context.reset(token)


def _canonical(value: Any) -> Any:
    """`value` as JSON gives it back: what the database will hand the verifier (tuples become lists, UUIDs
    and datetimes strings)."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def _entry_hash(entry: AuditEntry) -> str:
    body = {
        "chain": entry.chain,
        "seq": entry.seq,
        "workspace": str(entry.workspace_id) if entry.workspace_id else None,
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "ip_hash": entry.ip_hash,
        "before": entry.before,
        "after": entry.after,
        "created_at": entry.created_at.astimezone(UTC).isoformat(),
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((entry.prev_hash + canonical).encode("utf-8", "surrogatepass")).hexdigest()


def audit_record(
    action: str,
    *,
    workspace: Workspace | Any | None,
    object_type: str,
    object_id: Any = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor: str | None = None,
) -> AuditEntry:
    """Append an entry to the workspace's chain (`workspace` is a Workspace or its id; None: the system
    chain). `before`/`after`: what changed, as JSON; never secrets, never a recipient's personal data."""
    context = audit_context()
    workspace_id: Any = getattr(workspace, "pk", workspace)
    chain = str(workspace_id) if workspace_id else SYSTEM_CHAIN
    with transaction.atomic():
        head = AuditChain.objects.select_for_update().filter(key=chain).first()
        if head is None:
            AuditChain.objects.get_or_create(key=chain, defaults={"head_hash": GENESIS_HASH})
            head = AuditChain.objects.select_for_update().get(key=chain)
        entry = AuditEntry(
            chain=chain,
            seq=head.length + 1,
            workspace_id=workspace_id or None,
            actor=(actor or context.actor)[:200],
            action=action,
            object_type=object_type,
            object_id=str(object_id or "")[:100],
            ip_hash=context.ip_hash,
            before=_canonical(before),
            after=_canonical(after),
            # Microseconds kept, as both databases keep them: the hash covers exactly what is stored.
            created_at=timezone.now(),
            prev_hash=head.head_hash,
        )
        entry.hash = _entry_hash(entry)
        entry.save()
        AuditChain.objects.filter(key=chain).update(length=entry.seq, head_hash=entry.hash)
    return entry


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only what differs between two snapshots, for an entry's before/after."""
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


# --- verifying ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    chain: str
    entry_id: int | None  # None: entries missing at the chain's end (the head names more)
    reason: str


def _entries(chain: str) -> Iterator[AuditEntry]:
    return AuditEntry.objects.filter(chain=chain).order_by("seq").iterator(chunk_size=2000)


def audit_chain_verify(chain: str) -> tuple[int, ChainBreak | None]:
    """(entries that hold, the first break or None)."""
    expected_prev, expected_seq, count = GENESIS_HASH, 1, 0
    for entry in _entries(chain):
        if entry.seq != expected_seq:
            return count, ChainBreak(chain, entry.pk, f"entry {expected_seq} of the chain is missing")
        if entry.prev_hash != expected_prev:
            return count, ChainBreak(chain, entry.pk, "it does not name the previous entry's hash")
        if _entry_hash(entry) != entry.hash:
            return count, ChainBreak(chain, entry.pk, "its content does not match its hash")
        expected_prev, expected_seq, count = entry.hash, expected_seq + 1, count + 1
    head = AuditChain.objects.filter(key=chain).first()
    if head is not None and (head.length != count or head.head_hash != expected_prev):
        return count, ChainBreak(
            chain, None, f"the chain's head names {head.length} entries; {count} are there"
        )
    return count, None


def audit_verify() -> tuple[int, ChainBreak | None]:
    """Every chain, system first: (entries that hold, the first break or None)."""
    chains = set(AuditChain.objects.values_list("key", flat=True))
    chains |= set(AuditEntry.objects.values_list("chain", flat=True).distinct())
    total = 0
    for chain in sorted(chains, key=lambda key: (key != SYSTEM_CHAIN, key)):
        count, broken = audit_chain_verify(chain)
        total += count
        if broken is not None:
            return total, broken
    return total, None


# --- sign-ins (Django's auth signals, connected in CoreConfig.ready) -------------------------------------------


def _workspaces_of(user: Any) -> list[Any]:
    from core.models import Membership

    return list(Membership.objects.filter(user=user).values_list("workspace_id", flat=True))


def on_user_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    actor = f"user:{user.get_username()}"
    for workspace_id in _workspaces_of(user):
        audit_record(
            "auth.signed_in", workspace=workspace_id, object_type="user", object_id=user.pk, actor=actor
        )


def on_user_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    """In the workspaces of the person whose name was typed; a name nobody has goes to the system chain
    without the name (it may be a password typed into the wrong box)."""
    from django.contrib.auth import get_user_model

    username = str(credentials.get("username") or "")
    user = get_user_model().objects.filter(username=username).first() if username else None
    workspaces = _workspaces_of(user) if user is not None else []
    if user is None or not workspaces:
        audit_record("auth.sign_in_failed", workspace=None, object_type="user", actor="anonymous")
        return
    for workspace_id in workspaces:
        audit_record(
            "auth.sign_in_failed",
            workspace=workspace_id,
            object_type="user",
            object_id=user.pk,
            actor="anonymous",
        )


# --- reading ----------------------------------------------------------------------------------------------------

AUDIT_CSV_COLUMNS = [
    "id",
    "created_at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "ip_hash",
    "before",
    "after",
    "hash",
]
# Entries read per query while streaming the CSV.
AUDIT_CSV_PAGE = 1000


def audit_list(
    *,
    workspace: Workspace,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEntry]:
    """A workspace's entries, newest first. `action` ending in `.` matches a family (`campaign.`)."""
    entries = AuditEntry.objects.filter(workspace=workspace)
    if actor:
        entries = entries.filter(actor=actor)
    if action:
        entries = (
            entries.filter(action__startswith=action)
            if action.endswith(".")
            else entries.filter(action=action)
        )
    if object_type:
        entries = entries.filter(object_type=object_type)
    if object_id:
        entries = entries.filter(object_id=object_id)
    if since:
        entries = entries.filter(created_at__gte=since)
    if until:
        entries = entries.filter(created_at__lt=until)
    return entries.order_by("-created_at", "-id")


def audit_csv(entries: QuerySet[AuditEntry]) -> Iterator[str]:
    """The entries as CSV, streamed a page at a time (keyset on id, newest first); cells that look like
    formulas are shown as text (core.text.csv_cell)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(AUDIT_CSV_COLUMNS)
    last: int | None = None
    while True:
        page = entries.order_by("-id")
        if last is not None:
            page = page.filter(id__lt=last)
        rows = list(page[:AUDIT_CSV_PAGE])
        if not rows:
            return
        for entry in rows:
            cells = [
                entry.pk,
                entry.created_at.astimezone(UTC).isoformat(),
                entry.actor,
                entry.action,
                entry.object_type,
                entry.object_id,
                entry.ip_hash,
                "" if entry.before is None else json.dumps(entry.before, sort_keys=True, ensure_ascii=False),
                "" if entry.after is None else json.dumps(entry.after, sort_keys=True, ensure_ascii=False),
                entry.hash,
            ]
            yield writer.writerow([csv_cell(cell) for cell in cells])
        last = rows[-1].pk


class _Echo:
    def write(self, value: str) -> str:
        return value
