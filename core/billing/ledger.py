"""The credit ledger: accounts, reserving, capturing and releasing charges, grants.

A *charge* is whatever a caller bills for; billing knows nothing else about it. Its reference is the caller's
id for it (a UUID's text: render charges each render by the render's id), and keys its reservation, its
ledger rows and its meter event. The caller prices it (render: `render/pricing.py`).

Exactness (docs/reliability.md R13): every change of a balance is a `CreditEntry` row and the balance is their
sum, always read under `SELECT ... FOR UPDATE` on the workspace's `BillingAccount`. `charges_reserve` runs
inside the transaction that creates what is charged, so it exists if and only if its credits were taken.
Settling (capture, release) takes no account lock: it only gives credits back. A reservation is settled by a
conditional update (`held -> captured|released`) and the ledger has a unique `(account, kind, reference)`, so
a charge is captured and refunded at most once.

Lock order: campaign fan-out holds campaign -> workspace -> account while it requests renders; a finishing
render holds its own row, then settles here without the account lock; so the order stays acyclic.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.billing.metering import meter_report_create
from core.billing.models import BillingAccount, CreditEntry, Reservation
from core.billing.plans import PlanLimits, billing_enabled, plan_gates_check, plan_limits_of
from core.billing.selectors import ledger_balance
from core.errors import ApplicationError, PaymentRequiredError
from core.models import Workspace

INSUFFICIENT_CREDITS = "This request costs {cost} credits and the balance is {balance} credits."
# One adjustment moves at most a billion credits: 100,000 times the largest plan's month (pro, 10,000), and
# inside PostgreSQL's `integer` (CreditEntry.delta, at most 2^31-1), so no adjustment fails in the database.
MAX_ADJUSTMENT = 10**9
# No balance goes beyond a trillion credits either way, so no SUM of a ledger comes near the 64-bit limit
# (an adjustment of 2^63-1 once made SQLite's SUM overflow and that workspace's billing answer 500).
MAX_BALANCE = 10**12
ADJUSTMENT_TOO_LARGE = f"An adjustment moves at most {MAX_ADJUSTMENT:,} credits either way."
BALANCE_TOO_LARGE = f"A balance stays within {MAX_BALANCE:,} credits either way."


@dataclasses.dataclass(frozen=True)
class Charge:
    """What a caller asks the ledger to hold: `credits` (its worst case), under `reference` (a UUID's text,
    unique per charge), with the pixels per frame of each output it pays for, in order (`frame_pixels`: what
    the plan's `max_format_pixels` limits)."""

    reference: str
    credits: int
    frame_pixels: tuple[int, ...] = ()


def billing_account_get_or_create(*, workspace: Workspace) -> BillingAccount:
    account, _ = BillingAccount.objects.get_or_create(workspace=workspace)
    return account


def _account_locked(workspace: Workspace) -> BillingAccount:
    billing_account_get_or_create(workspace=workspace)
    return BillingAccount.objects.select_for_update().get(workspace=workspace)


@dataclasses.dataclass(frozen=True)
class Admission:
    """What `charges_admit` found under the account's row lock: the account, the plan's limits, and which
    charges passed the plan's gates. Handed to `charges_reserve` in the same transaction, so the lock is
    taken and the plan read once per request, not twice (docs/benchmarks.md "Campaign fan-out")."""

    account: BillingAccount
    limits: PlanLimits
    references: frozenset[str]


def charges_admit(*, workspace: Workspace, charges: Sequence[Charge]) -> Admission:
    """Lock the workspace's billing account until the caller's transaction ends, apply the plan's gates to
    `charges` (402: unpaid past the grace period, a frame larger than the plan renders) and answer the plan's
    limits (`.limits`). A caller that counts something against a limit (render: its renders in flight)
    counts it after this, under the same lock, then calls `charges_reserve` with this admission in the same
    transaction."""
    account, limits = _admit(workspace, charges)
    return Admission(account, limits, frozenset(charge.reference for charge in charges))


def _admit(workspace: Workspace, charges: Sequence[Charge]) -> tuple[BillingAccount, PlanLimits]:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("charges must be admitted and reserved inside the transaction that creates them")
    account = _account_locked(workspace)
    plan_gates_check(account=account, frame_pixels=[p for charge in charges for p in charge.frame_pixels])
    return account, plan_limits_of(account=account)


def charges_reserve(
    *, workspace: Workspace, charges: Sequence[Charge], admission: Admission | None = None
) -> list[Reservation]:
    """Hold the credits of `charges`, all or none, under the account's row lock.

    Call inside the `transaction.atomic()` that creates what is charged: on PaymentRequiredError (402, with
    cost and balance; or a plan gate's refusal) the caller's transaction rolls back, so nothing charged, and
    no task enqueued on commit, ever exists. Billing off: nothing is refused, the ledger still records.
    `admission`: what `charges_admit` answered for these charges in this transaction (its lock is still held
    and its gates passed); without one, or for charges it did not admit, the lock and gates are taken here.
    """
    if not charges:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("charges must be admitted and reserved inside the transaction that creates them")
    if admission is not None and {charge.reference for charge in charges} <= admission.references:
        account, limits = admission.account, admission.limits
    else:
        account, limits = _admit(workspace, charges)
    if limits.enforced:
        total = sum(charge.credits for charge in charges)
        balance = ledger_balance(account=account)
        if total > balance:
            raise PaymentRequiredError(INSUFFICIENT_CREDITS.format(cost=total, balance=balance))
    reservations = Reservation.objects.bulk_create(
        [
            # The column is named for the only charges there are so far, renders; it holds the reference.
            Reservation(account=account, render_id=uuid.UUID(charge.reference), estimate=charge.credits)
            for charge in charges
        ]
    )
    CreditEntry.objects.bulk_create(
        [
            CreditEntry(
                account=account,
                kind=CreditEntry.Kind.RESERVE,
                delta=-charge.credits,
                reference=str(uuid.UUID(charge.reference)),
            )
            for charge in charges
        ]
    )
    return reservations


def charge_capture(*, reference: str, credits: int) -> Reservation | None:
    """Take what the charge actually cost, never more than was reserved, and give the rest back. Inside the
    caller's transaction (the one that finished what was charged). Returns None if there is nothing held under
    `reference` (never reserved, or already settled): a second capture changes nothing."""
    return _settle(reference=reference, cost=credits)


def charge_release(*, reference: str) -> Reservation | None:
    """Give a charge's whole reservation back (what was charged failed or was canceled). Once per charge."""
    return _settle(reference=reference, cost=None)


def _settle(*, reference: str, cost: int | None) -> Reservation | None:
    key = uuid.UUID(reference)
    held = (
        Reservation.objects.select_related("account")
        .filter(render_id=key, status=Reservation.Status.HELD)
        .first()
    )
    if held is None:
        return None  # reserved before billing existed, or already settled
    # No account lock here: settling only gives credits back, and a reservation that misses a release not yet
    # committed sees a lower balance, never a higher one. Not locking also keeps the lock order acyclic with
    # campaign fan-out (campaign -> workspace -> account) while the caller's transaction holds its own rows.
    account = held.account
    captured = None if cost is None else min(held.estimate, cost)  # the estimate is the worst case
    settled = Reservation.objects.filter(pk=held.pk, status=Reservation.Status.HELD).update(
        status=Reservation.Status.RELEASED if captured is None else Reservation.Status.CAPTURED,
        cost=captured,
        settled_at=timezone.now(),
    )
    if not settled:
        return None
    given_back = held.estimate - (captured or 0)
    if given_back:
        CreditEntry.objects.create(
            account=account, kind=CreditEntry.Kind.RELEASE, delta=given_back, reference=str(key)
        )
    if captured and billing_enabled() and account.stripe_customer_id:
        meter_report_create(
            account=account, customer_id=account.stripe_customer_id, reference=key, credits=captured
        )
    held.refresh_from_db()
    return held


def credits_grant(
    *, workspace: Workspace, amount: int, note: str, reference: str = "", actor: str | None = None
) -> CreditEntry:
    """Support's adjustment (positive or negative), with who and why in `note`: an audit entry in the ledger.
    Bounded (`MAX_ADJUSTMENT`, `MAX_BALANCE`): 2^63-1 credits once made that workspace's billing answer 500."""
    if amount == 0:
        raise ApplicationError("The adjustment must not be zero.")
    if abs(amount) > MAX_ADJUSTMENT:
        raise ApplicationError(ADJUSTMENT_TOO_LARGE, fields={"amount": ADJUSTMENT_TOO_LARGE})
    with transaction.atomic():
        account = _account_locked(workspace)
        if abs(ledger_balance(account=account) + amount) > MAX_BALANCE:
            raise ApplicationError(BALANCE_TOO_LARGE, fields={"amount": BALANCE_TOO_LARGE})
        entry = CreditEntry.objects.create(
            account=account, kind=CreditEntry.Kind.ADJUSTMENT, delta=amount, note=note, reference=reference
        )
        audit_record(
            "credits.granted",
            workspace=workspace,
            object_type="credit_entry",
            object_id=entry.pk,
            after={"amount": amount, "note": note[:500]},
            actor=actor,
        )
        return entry
