"""Plans: which plan a billing account is on, what it limits, and what it refuses whatever the balance.

Plans are not rows: they live in `settings.REELSMITH_PLANS`, keyed by the name kept on the account
(docs/billing.md). Billing is on when `STRIPE_SECRET_KEY` is set; off (embedded mode, tests), a plan refuses
nothing, but its limits are still answered so callers read one shape either way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from core.billing.models import BillingAccount
from core.errors import PaymentRequiredError

PAST_DUE = (
    "The subscription is past due since {since} and the {grace_hours} hour grace period is over: "
    "pay the open invoice (billing portal) to render again."
)
FORMAT_NOT_IN_PLAN = "The {plan} plan renders up to {max_pixels} pixels per frame; this format has {pixels}."
# Raised by the caller that counts what is in flight (render counts its own renders against the limit).
TOO_MANY_IN_FLIGHT = "The {plan} plan allows {limit} renders in flight; wait for some to finish."

# Statuses in which Stripe keeps a subscription's plan in force (https://docs.stripe.com/billing/subscriptions/overview).
LIVE_SUBSCRIPTION_STATUSES = {"active", "trialing", "past_due"}
UNPAID_SUBSCRIPTION_STATUSES = {"past_due", "unpaid"}


@dataclasses.dataclass(frozen=True)
class PlanLimits:
    """What the plan in force limits. `enforced` is False while billing is off: then nothing is refused."""

    plan: str  # the key in settings.REELSMITH_PLANS
    name: str  # what messages call it ("Free", "Pro")
    renders_in_flight: int  # interactive renders not yet finished
    max_format_pixels: int  # the largest output frame, width x height
    enforced: bool


def billing_enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def plan_of(account: BillingAccount | None) -> tuple[str, dict[str, Any]]:
    """The plan in force: the subscription's while it is live, else the default plan."""
    plans: dict[str, dict[str, Any]] = settings.REELSMITH_PLANS
    if (
        account is not None
        and account.plan in plans
        and account.subscription_status in LIVE_SUBSCRIPTION_STATUSES
    ):
        return account.plan, plans[account.plan]
    return settings.REELSMITH_DEFAULT_PLAN, plans[settings.REELSMITH_DEFAULT_PLAN]


def plan_limits_of(*, account: BillingAccount | None) -> PlanLimits:
    key, plan = plan_of(account)
    return PlanLimits(
        plan=key,
        name=str(plan["name"]),
        renders_in_flight=int(plan["renders_in_flight"]),
        max_format_pixels=int(plan["max_format_pixels"]),
        enforced=billing_enabled(),
    )


def billing_refusal(*, account: BillingAccount, now: datetime | None = None) -> str | None:
    """Why this account may not start renders whatever its balance (an unpaid subscription past its grace)."""
    if not billing_enabled() or account.past_due_since is None:
        return None
    grace = timedelta(seconds=settings.REELSMITH_BILLING_GRACE_SECONDS)
    if (now or timezone.now()) < account.past_due_since + grace:
        return None
    return PAST_DUE.format(
        since=account.past_due_since.isoformat(timespec="seconds"),
        grace_hours=settings.REELSMITH_BILLING_GRACE_SECONDS // 3600,
    )


def plan_gates_check(*, account: BillingAccount, frame_pixels: Iterable[int]) -> None:
    """Raise PaymentRequiredError (402) if the plan refuses new charges: the subscription is unpaid past its
    grace, or an output frame (`frame_pixels`, in order) is larger than the plan renders. Nothing while billing
    is off. The caller holds the account's row lock (`core.billing.ledger.charges_admit`)."""
    if not billing_enabled():
        return
    refusal = billing_refusal(account=account)
    if refusal:
        raise PaymentRequiredError(refusal)
    limits = plan_limits_of(account=account)
    for pixels in frame_pixels:
        if pixels > limits.max_format_pixels:
            raise PaymentRequiredError(
                FORMAT_NOT_IN_PLAN.format(
                    plan=limits.name, max_pixels=limits.max_format_pixels, pixels=pixels
                )
            )
