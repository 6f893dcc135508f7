"""Reading billing state: a balance, a workspace's plan limits, its reservations and usage this period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from core.billing.models import BillingAccount, CreditEntry, Reservation
from core.billing.plans import PlanLimits, billing_enabled, billing_refusal, plan_limits_of, plan_of
from core.models import Workspace


def ledger_balance(*, account: BillingAccount) -> int:
    """The account's balance: the sum of its ledger rows (nothing caches it). Exact only under the account's
    row lock (`core.billing.ledger.charges_admit`); unlocked, a snapshot."""
    return int(CreditEntry.objects.filter(account=account).aggregate(total=Sum("delta"))["total"] or 0)


def plan_limits(*, workspace: Workspace) -> PlanLimits:
    """What the workspace's plan in force limits, read without a lock (to count against a limit race-free,
    use `core.billing.ledger.charges_admit`)."""
    return plan_limits_of(account=BillingAccount.objects.filter(workspace=workspace).first())


def _calendar_month(now: datetime) -> tuple[datetime, datetime]:
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def billing_summary(*, workspace: Workspace) -> dict[str, Any]:
    """What GET /billing/ shows. Usage counts captured credits in the subscription's period (a calendar month
    without one)."""
    account = BillingAccount.objects.filter(workspace=workspace).first()
    plan_key, plan = plan_of(account)
    now = timezone.now()
    if account is not None and account.current_period_start and account.current_period_end:
        period_start, period_end = account.current_period_start, account.current_period_end
    else:
        period_start, period_end = _calendar_month(now)
    balance = reserved = usage = 0
    if account is not None:
        balance = ledger_balance(account=account)
        reservations = Reservation.objects.filter(account=account)
        reserved = int(
            reservations.filter(status=Reservation.Status.HELD).aggregate(total=Sum("estimate"))["total"] or 0
        )
        usage = int(
            reservations.filter(
                status=Reservation.Status.CAPTURED, settled_at__gte=period_start, settled_at__lt=period_end
            ).aggregate(total=Sum("cost"))["total"]
            or 0
        )
    return {
        "billing_enabled": billing_enabled(),
        "plan": {
            "id": plan_key,
            **{k: plan[k] for k in ("name", "credits_per_period", "renders_in_flight", "max_format_pixels")},
        },
        "subscription": {
            "status": (account.subscription_status if account else "") or None,
            "current_period_start": account.current_period_start if account else None,
            "current_period_end": account.current_period_end if account else None,
            "past_due_since": account.past_due_since if account else None,
        },
        "credits": {"balance": balance, "reserved": reserved, "used_this_period": usage},
        "period": {"start": period_start, "end": period_end},
        "renders_refused": billing_refusal(account=account) if account else None,
    }


def credit_entry_list(*, workspace: Workspace) -> QuerySet[CreditEntry]:
    """A workspace's ledger, newest first (empty before its billing account exists)."""
    return CreditEntry.objects.filter(account__workspace=workspace).order_by("-created_at", "-pk")


def billing_usage_by_day(*, workspace: Workspace, start: datetime, end: datetime) -> list[tuple[date, int]]:
    """Credits captured per day (UTC) from `start` to the earlier of `end` and today, every day listed (0 when
    nothing was used): what `billing_summary`'s `used_this_period` adds up, one aggregate query."""
    totals = dict(
        Reservation.objects.filter(
            account__workspace=workspace,
            status=Reservation.Status.CAPTURED,
            settled_at__gte=start,
            settled_at__lt=end,
        )
        .annotate(day=TruncDate("settled_at", tzinfo=UTC))
        .values("day")
        .annotate(total=Sum("cost"))
        .values_list("day", "total")
    )
    first, last = (
        start.astimezone(UTC).date(),
        min((end - timedelta(microseconds=1)).astimezone(UTC).date(), timezone.now().astimezone(UTC).date()),
    )
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [(day, int(totals.get(day) or 0)) for day in days]
