"""Billing services: render cost, reserve / capture / release, grants, Stripe checkout and portal, subscription
state from Stripe, and usage reporting to Billing Meters.

Exactness (RELIABILITY R13): every change of a balance is a `CreditEntry` row and the balance is their sum,
always read under `SELECT ... FOR UPDATE` on the workspace's `BillingAccount`. `billing_reserve` runs inside
the transaction that creates the renders, so a render exists if and only if its credits were taken.

Billing is on when `STRIPE_SECRET_KEY` is set. Off (embedded mode), nothing is refused, but reservations,
captures and releases are still written, so the ledger still records usage.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from core.billing import stripe_api
from core.billing import tasks as _tasks  # noqa: F401  (registers billing.report_usage for enqueue)
from core.billing.models import BillingAccount, CreditEntry, MeterReport, Reservation
from core.errors import ApplicationError, PaymentRequiredError
from core.models import Workspace
from render.engine.registry import model_spec
from render.models import ACTIVE_RENDER_STATUSES, Render, RenderGeneration, RenderStatus
from render.planning import generation_specs
from render.queue import enqueue
from render.signals import render_finished

logger = logging.getLogger(__name__)

INSUFFICIENT_CREDITS = "This request costs {cost} credits and the balance is {balance} credits."
PAST_DUE = (
    "The subscription is past due since {since} and the {grace_hours} hour grace period is over: "
    "pay the open invoice (billing portal) to render again."
)
FORMAT_NOT_IN_PLAN = "The {plan} plan renders up to {max_pixels} pixels per frame; this format has {pixels}."
TOO_MANY_IN_FLIGHT = "The {plan} plan allows {limit} renders in flight; wait for some to finish."
BILLING_OFF = "Billing is not enabled on this server."
UNKNOWN_PLAN = "Unknown plan, or one that cannot be bought: choose one of {plans}."
NO_CUSTOMER = "This workspace has no billing account yet: start a checkout first."
STRIPE_UNAVAILABLE = "Stripe could not be reached; try again in a moment."

TASK_REPORT_USAGE = "billing.report_usage"
# Above this many pixels per frame a format costs double (1920x1080, "Full HD", as JSON2Video prices it).
FULL_HD_PIXELS = 1920 * 1080
# Statuses in which Stripe keeps a subscription's plan in force (https://docs.stripe.com/billing/subscriptions/overview).
LIVE_SUBSCRIPTION_STATUSES = {"active", "trialing", "past_due"}
UNPAID_SUBSCRIPTION_STATUSES = {"past_due", "unpaid"}


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


# --- cost ------------------------------------------------------------------------------------------------------


def _format_sizes(spec: dict[str, Any]) -> list[tuple[int, int]]:
    """Every output format of a spec: `formats` (a list of {width, height}) when given, else `format`."""
    formats = spec.get("formats")
    candidates = formats if isinstance(formats, list) and formats else [spec["format"]]
    sizes = [(int(f["width"]), int(f["height"])) for f in candidates if isinstance(f, dict) and "width" in f]
    return sizes or [(int(spec["format"]["width"]), int(spec["format"]["height"]))]


def render_cost(*, spec: dict[str, Any], generation_credits: int) -> int:
    """1 credit per started output second per format up to Full HD (2 above), plus the credits of the
    generations the render runs (`generation_cost`)."""
    seconds = _started_seconds(sum(float(scene["duration"]) for scene in spec["scenes"]))
    per_second = sum(1 if width * height <= FULL_HD_PIXELS else 2 for width, height in _format_sizes(spec))
    return seconds * per_second + generation_credits


def _started_seconds(seconds: float) -> int:
    # Rounded to the millisecond first, so 0.1 + 0.2 + 0.7 seconds is 1 started second, not 2.
    return math.ceil(round(seconds, 3))


def generation_cost(*, model: str, num_frames: int | None) -> int:
    """Credits for running one generation: 1 for a picture; for a clip, 1 per started second of it, its
    frames at the model's frame rate (the length of the stored MP4): tiny-wan's 9 frames at 8 fps
    (1.125 s) cost 2, Wan 2.1's 81 at 16 fps (5.06 s) 6. A clip is charged like output video."""
    if num_frames is None:
        return 1
    fps = model_spec(model).fps or 1
    return max(1, _started_seconds(num_frames / fps))


def render_cost_estimate(*, spec: dict[str, Any], variables: dict[str, str]) -> int:
    """The worst case, reserved at request time: every distinct picture or clip counted as generated (no
    cache hit)."""
    costs: dict[str, int] = {}
    for picture in generation_specs(spec, variables, settings.REELSMITH_DEFAULT_MODEL):
        # An img2img variant may also cause its base picture to be generated: count both.
        while picture is not None:
            costs[picture.key] = generation_cost(model=picture.model, num_frames=picture.num_frames)
            picture = picture.base
    return render_cost(spec=spec, generation_credits=sum(costs.values()))


def _render_cost_actual(*, render_id: Any, spec: dict[str, Any]) -> int:
    """Known once planned: the generations this render caused to run (its links that were not cache hits)."""
    run = RenderGeneration.objects.filter(render_id=render_id, cache_hit=False).values_list(
        "generation__model", "generation__num_frames"
    )
    credits = sum(generation_cost(model=model, num_frames=frames) for model, frames in run)
    return render_cost(spec=spec, generation_credits=credits)


# --- the ledger ------------------------------------------------------------------------------------------------


def billing_account_get_or_create(*, workspace: Workspace) -> BillingAccount:
    account, _ = BillingAccount.objects.get_or_create(workspace=workspace)
    return account


def _account_locked(workspace: Workspace) -> BillingAccount:
    billing_account_get_or_create(workspace=workspace)
    return BillingAccount.objects.select_for_update().get(workspace=workspace)


def ledger_balance(*, account: BillingAccount) -> int:
    return int(CreditEntry.objects.filter(account=account).aggregate(total=Sum("delta"))["total"] or 0)


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


def billing_reserve(*, workspace: Workspace, renders: Sequence[Render]) -> list[Reservation]:
    """Take the worst-case cost of `renders` (rows just created in the caller's transaction), all or none.

    Call inside the `transaction.atomic()` that created the renders: on PaymentRequiredError the caller's
    transaction rolls back, so the renders, and the tasks enqueued on commit, never exist. Campaign launch
    calls this once per chunk of renders and pauses when it raises.
    """
    if not renders:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("billing_reserve must run inside the transaction that creates the renders")
    account = _account_locked(workspace)
    estimates = [
        render_cost_estimate(spec=render.template_version.spec, variables=render.variables)
        for render in renders
    ]
    if billing_enabled():
        _check_allowed(account=account, renders=renders)
        total = sum(estimates)
        balance = ledger_balance(account=account)
        if total > balance:
            raise PaymentRequiredError(INSUFFICIENT_CREDITS.format(cost=total, balance=balance))
    reservations = Reservation.objects.bulk_create(
        [
            Reservation(account=account, render_id=render.pk, estimate=estimate)
            for render, estimate in zip(renders, estimates, strict=True)
        ]
    )
    CreditEntry.objects.bulk_create(
        [
            CreditEntry(
                account=account, kind=CreditEntry.Kind.RESERVE, delta=-estimate, reference=str(render.pk)
            )
            for render, estimate in zip(renders, estimates, strict=True)
        ]
    )
    return reservations


def _check_allowed(*, account: BillingAccount, renders: Sequence[Render]) -> None:
    refusal = billing_refusal(account=account)
    if refusal:
        raise PaymentRequiredError(refusal)
    plan_key, plan = plan_of(account)
    for render in renders:
        for width, height in _format_sizes(render.template_version.spec):
            if width * height > plan["max_format_pixels"]:
                raise PaymentRequiredError(
                    FORMAT_NOT_IN_PLAN.format(
                        plan=plan["name"], max_pixels=plan["max_format_pixels"], pixels=width * height
                    )
                )
    # Interactive renders only: a campaign's chunks are queued behind them at low priority by design.
    interactive = sum(1 for render in renders if render.campaign_id is None)
    if interactive:
        in_flight = (
            Render.objects.filter(
                workspace_id=account.workspace_id, campaign__isnull=True, status__in=ACTIVE_RENDER_STATUSES
            )
            .exclude(pk__in=[render.pk for render in renders])
            .count()
        )
        if in_flight + interactive > plan["renders_in_flight"]:
            # 429, not 402: waiting fixes it, paying does not have to.
            raise ApplicationError(
                TOO_MANY_IN_FLIGHT.format(plan=plan["name"], limit=plan["renders_in_flight"]), status_code=429
            )
    logger.debug("reserve allowed on plan %s", plan_key)


def billing_settle(*, render_id: Any, status: str) -> Reservation | None:
    """Capture a succeeded render's actual cost (giving back the rest of the estimate); release a failed or
    canceled one's whole reservation. Runs inside the transaction that finished the render; once per render."""
    held = (
        Reservation.objects.select_related("account")
        .filter(render_id=render_id, status=Reservation.Status.HELD)
        .first()
    )
    if held is None:
        return None  # requested before billing existed, or already settled
    # No account lock here: settling only gives credits back, and a reservation that misses a release not yet
    # committed sees a lower balance, never a higher one. Not locking also keeps the lock order acyclic with
    # campaign fan-out (campaign -> workspace -> account) while this transaction holds the render row.
    account = held.account
    succeeded = status == RenderStatus.SUCCEEDED
    cost = 0
    if succeeded:
        spec = Render.objects.select_related("template_version").get(pk=render_id).template_version.spec
        # Never more than was reserved: the estimate counts every generation as run.
        cost = min(held.estimate, _render_cost_actual(render_id=render_id, spec=spec))
    settled = Reservation.objects.filter(pk=held.pk, status=Reservation.Status.HELD).update(
        status=Reservation.Status.CAPTURED if succeeded else Reservation.Status.RELEASED,
        cost=cost if succeeded else None,
        settled_at=timezone.now(),
    )
    if not settled:
        return None
    if held.estimate - cost:
        CreditEntry.objects.create(
            account=account,
            kind=CreditEntry.Kind.RELEASE,
            delta=held.estimate - cost,
            reference=str(render_id),
        )
    if succeeded and cost and billing_enabled() and account.stripe_customer_id:
        MeterReport.objects.create(
            account=account, render_id=render_id, stripe_customer_id=account.stripe_customer_id, credits=cost
        )
        enqueue(TASK_REPORT_USAGE)
    held.refresh_from_db()
    return held


def _on_render_finished(sender: Any, *, render_id: Any, status: str, **kwargs: Any) -> None:
    billing_settle(render_id=render_id, status=status)


render_finished.connect(_on_render_finished, dispatch_uid="core.billing.settle")


def credits_grant(*, workspace: Workspace, amount: int, note: str, reference: str = "") -> CreditEntry:
    """Support's adjustment (positive or negative), with who and why in `note`: an audit entry in the ledger."""
    if amount == 0:
        raise ApplicationError("The adjustment must not be zero.")
    with transaction.atomic():
        account = _account_locked(workspace)
        return CreditEntry.objects.create(
            account=account, kind=CreditEntry.Kind.ADJUSTMENT, delta=amount, note=note, reference=reference
        )


# --- checkout and portal ---------------------------------------------------------------------------------------


def _customer_ensure(workspace: Workspace) -> BillingAccount:
    account = billing_account_get_or_create(workspace=workspace)
    if account.stripe_customer_id:
        return account
    try:
        customer_id = stripe_api.customer_create(workspace_id=str(workspace.pk), name=workspace.name)
    except stripe_api.StripeError as exc:
        logger.warning("creating the Stripe customer failed: %s", exc)
        raise ApplicationError(STRIPE_UNAVAILABLE, status_code=503) from exc
    # Conditional: two concurrent first checkouts get the same customer anyway (the idempotency key).
    BillingAccount.objects.filter(pk=account.pk, stripe_customer_id__isnull=True).update(
        stripe_customer_id=customer_id
    )
    account.refresh_from_db()
    return account


def billing_checkout_start(*, workspace: Workspace, plan: str, operation_key: str | None = None) -> str:
    """A Checkout Session URL for subscribing to `plan`. The same `operation_key` gives the same session."""
    if not billing_enabled():
        raise ApplicationError(BILLING_OFF)
    plans: dict[str, dict[str, Any]] = settings.REELSMITH_PLANS
    buyable = sorted(key for key, spec in plans.items() if spec["price_id"])
    if plan not in buyable:
        message = UNKNOWN_PLAN.format(plans=", ".join(buyable) or "none")
        raise ApplicationError(message, fields={"plan": message})
    account = _customer_ensure(workspace)
    price_ids = [plans[plan]["price_id"]] + (
        [plans[plan]["metered_price_id"]] if plans[plan]["metered_price_id"] else []
    )
    try:
        return stripe_api.checkout_session_create(
            customer_id=str(account.stripe_customer_id),
            workspace_id=str(workspace.pk),
            plan=plan,
            price_ids=price_ids,
            success_url=f"{settings.REELSMITH_BILLING_RETURN_URL}?checkout=success",
            cancel_url=f"{settings.REELSMITH_BILLING_RETURN_URL}?checkout=canceled",
            operation_key=operation_key or uuid.uuid4().hex,
        )
    except stripe_api.StripeError as exc:
        logger.warning("creating a checkout session failed: %s", exc)
        raise ApplicationError(STRIPE_UNAVAILABLE, status_code=503) from exc


def billing_portal_start(*, workspace: Workspace, operation_key: str | None = None) -> str:
    """A Customer Portal URL (change plan, cards, invoices)."""
    if not billing_enabled():
        raise ApplicationError(BILLING_OFF)
    account = BillingAccount.objects.filter(workspace=workspace).first()
    if account is None or not account.stripe_customer_id:
        raise ApplicationError(NO_CUSTOMER)
    try:
        return stripe_api.portal_session_create(
            customer_id=account.stripe_customer_id,
            return_url=settings.REELSMITH_BILLING_RETURN_URL,
            operation_key=operation_key or uuid.uuid4().hex,
        )
    except stripe_api.StripeError as exc:
        logger.warning("creating a portal session failed: %s", exc)
        raise ApplicationError(STRIPE_UNAVAILABLE, status_code=503) from exc


# --- subscription state (from webhooks) -----------------------------------------------------------------------


def price_ids_in(obj: Any) -> set[str]:
    """Every price id anywhere in a Stripe object (subscription items, invoice lines: the path moves by version)."""
    found: set[str] = set()
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "price" and isinstance(value, str):
                found.add(value)
            elif key == "price" and isinstance(value, dict) and isinstance(value.get("id"), str):
                found.add(value["id"])
            else:
                found |= price_ids_in(value)
    elif isinstance(obj, list):
        for item in obj:
            found |= price_ids_in(item)
    return found


def plan_for_prices(price_ids: set[str]) -> str:
    for key, spec in settings.REELSMITH_PLANS.items():
        if spec["price_id"] and spec["price_id"] in price_ids:
            return str(key)
    return ""


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if isinstance(value, int | float) else None


def _period(subscription: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    # Since API version 2025-03-31 the period lives on the subscription's items, not the subscription.
    start, end = subscription.get("current_period_start"), subscription.get("current_period_end")
    items = (subscription.get("items") or {}).get("data") or []
    if start is None and items:
        start, end = items[0].get("current_period_start"), items[0].get("current_period_end")
    return _timestamp(start), _timestamp(end)


def stripe_id_of(value: Any) -> str:
    """A Stripe reference: an id, or the expanded object carrying it."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def billing_account_for_stripe(*, customer_id: str, workspace_id: str = "") -> BillingAccount | None:
    """The account of a Stripe customer; `workspace_id` (from metadata we set) links one not yet linked."""
    if customer_id:
        account = BillingAccount.objects.filter(stripe_customer_id=customer_id).first()
        if account is not None:
            return account
    if workspace_id:
        try:
            workspace = Workspace.objects.get(pk=uuid.UUID(workspace_id))
        except (ValueError, Workspace.DoesNotExist):
            return None
        account = billing_account_get_or_create(workspace=workspace)
        if customer_id and not account.stripe_customer_id:
            BillingAccount.objects.filter(pk=account.pk, stripe_customer_id__isnull=True).update(
                stripe_customer_id=customer_id
            )
            account.refresh_from_db()
        return account
    return None


def subscription_apply(*, subscription: dict[str, Any]) -> BillingAccount | None:
    """Mirror a subscription *as fetched from Stripe now* onto its account. Applying the current state (never an
    event's snapshot) makes the outcome independent of the order events arrive in (RELIABILITY R8)."""
    account = billing_account_for_stripe(
        customer_id=stripe_id_of(subscription.get("customer")),
        workspace_id=str((subscription.get("metadata") or {}).get("workspace_id") or ""),
    )
    if account is None:
        return None
    account = BillingAccount.objects.select_for_update().get(pk=account.pk)
    status = str(subscription.get("status") or "")
    replaced = bool(account.stripe_subscription_id) and account.stripe_subscription_id != subscription["id"]
    if replaced and status not in LIVE_SUBSCRIPTION_STATUSES:
        return account  # an old subscription ending changes nothing about the live one
    start, end = _period(subscription)
    account.stripe_subscription_id = str(subscription["id"])
    account.subscription_status = status
    account.plan = plan_for_prices(price_ids_in(subscription.get("items"))) or str(
        (subscription.get("metadata") or {}).get("plan") or ""
    )
    account.current_period_start, account.current_period_end = start, end
    if status in UNPAID_SUBSCRIPTION_STATUSES:
        account.past_due_since = account.past_due_since or timezone.now()
    else:
        account.past_due_since = None
    account.save()
    return account


def subscription_refresh(*, subscription_id: str) -> BillingAccount | None:
    return subscription_apply(subscription=stripe_api.subscription_retrieve(subscription_id=subscription_id))


def invoice_credits_grant(*, account: BillingAccount, invoice: dict[str, Any]) -> CreditEntry | None:
    """The period's credits of a paid invoice, once per invoice (the ledger's unique reference)."""
    plan = plan_for_prices(price_ids_in(invoice.get("lines"))) or account.plan
    credits = int(settings.REELSMITH_PLANS.get(plan, {}).get("credits_per_period", 0))
    if credits <= 0:
        return None
    account = BillingAccount.objects.select_for_update().get(pk=account.pk)
    reference = f"invoice:{invoice['id']}"
    if CreditEntry.objects.filter(account=account, kind=CreditEntry.Kind.GRANT, reference=reference).exists():
        return None
    return CreditEntry.objects.create(
        account=account,
        kind=CreditEntry.Kind.GRANT,
        delta=credits,
        reference=reference,
        note=f"{plan} plan credits for invoice {invoice['id']}",
    )


# --- metered usage ------------------------------------------------------------------------------------------------


def billing_report_usage(*, batch_size: int) -> tuple[int, int]:
    """Send pending meter reports to Stripe, a batch at a time; returns (sent, failed).

    Rows are claimed with SKIP LOCKED, so two runs never send the same row at once; and each meter event's
    identifier is the render's id, so even a row sent twice (a run killed after Stripe answered) is billed once.
    A failure stops the run (Stripe is likely down) and leaves the rest pending for the task's retry.
    """
    sent = 0
    while True:
        with transaction.atomic():
            batch = list(
                MeterReport.objects.select_for_update(skip_locked=True)
                .filter(sent_at__isnull=True)
                .order_by("created_at")[:batch_size]
            )
            if not batch:
                return sent, 0
            for report in batch:
                try:
                    stripe_api.meter_event_create(
                        event_name=settings.STRIPE_METER_EVENT_NAME,
                        identifier=str(report.render_id),
                        customer_id=report.stripe_customer_id,
                        value=report.credits,
                        timestamp=int(report.created_at.timestamp()),
                    )
                except stripe_api.StripeError as exc:
                    MeterReport.objects.filter(pk=report.pk).update(
                        attempts=F("attempts") + 1, error=str(exc)[:2000]
                    )
                    logger.warning("meter event for render %s failed: %s", report.render_id, exc)
                    return sent, 1
                MeterReport.objects.filter(pk=report.pk).update(
                    sent_at=timezone.now(), attempts=F("attempts") + 1, error=""
                )
                sent += 1
