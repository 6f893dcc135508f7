"""Billing state: one account per workspace, a credit ledger, per-render reservations, Stripe events, meter reports.

The balance is never stored: it is the sum of the account's ledger rows, read under a row lock on the account
(docs/reliability.md R13). Plans are not rows: they live in `settings.REELSMITH_PLANS`, keyed by the name kept
here.
These models are imported by `core.models`, so they belong to the `core` app and its migrations.
"""

from __future__ import annotations

import uuid

from django.db import models


class BillingAccount(models.Model):
    """A workspace's billing side: its Stripe customer and subscription, mirrored from Stripe's webhooks."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.OneToOneField(
        "core.Workspace", on_delete=models.CASCADE, related_name="billing_account"
    )
    stripe_customer_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True)
    plan = models.CharField(
        max_length=50, blank=True
    )  # a key of settings.REELSMITH_PLANS; "" = the default plan
    # Stripe's subscription status (active, trialing, past_due, unpaid, canceled, incomplete, ...); "" = none.
    subscription_status = models.CharField(max_length=32, blank=True)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    # Set when the subscription is first seen past_due/unpaid; renders are refused once the grace period is over.
    past_due_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return (
            f"billing of {self.workspace_id} ({self.plan or 'default'}, {self.subscription_status or 'none'})"
        )


class CreditEntry(models.Model):
    """One change of a balance. Rows are only ever added; the balance is their sum."""

    class Kind(models.TextChoices):
        GRANT = "grant"  # a paid invoice's period credits (reference: the invoice id)
        ADJUSTMENT = "adjustment"  # support's `grant_credits` (note: who and why)
        RESERVE = "reserve"  # a render's worst-case cost, taken when it is requested (reference: render id)
        RELEASE = (
            "release"  # credits given back: all of them (failed, canceled) or the unspent part (succeeded)
        )

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(BillingAccount, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    delta = models.IntegerField()
    reference = models.CharField(max_length=255, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # A render is reserved and released at most once; an invoice grants at most once (webhook redelivery).
            models.UniqueConstraint(
                fields=["account", "kind", "reference"],
                condition=~models.Q(reference=""),
                name="credit_entry_once_per_reference",
            )
        ]
        indexes = [models.Index(fields=["account", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.delta:+d} ({self.reference or self.note})"


class Reservation(models.Model):
    """The credits held for one render, from its request until it finishes."""

    class Status(models.TextChoices):
        HELD = "held"
        CAPTURED = "captured"
        RELEASED = "released"

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(BillingAccount, on_delete=models.CASCADE, related_name="reservations")
    # No foreign key: render.models imports core.models, and a reservation outlives nothing it needs from the row.
    render_id = models.UUIDField(unique=True)
    estimate = models.PositiveIntegerField()  # worst case: every generation counted as run
    cost = models.PositiveIntegerField(null=True, blank=True)  # what was captured (succeeded renders only)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.HELD)
    created_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "status", "settled_at"])]

    def __str__(self) -> str:
        return f"reservation of {self.render_id} ({self.status})"


class StripeEvent(models.Model):
    """Every Stripe event delivery, by event id: applied once (processed_at), however often it is delivered."""

    id = models.CharField(max_length=255, primary_key=True)  # Stripe's evt_... id
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    deliveries = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    last_delivery_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.id} ({self.type})"


class MeterReport(models.Model):
    """One captured render's usage, to be sent to Stripe Billing Meters with identifier = the render's id."""

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(BillingAccount, on_delete=models.CASCADE, related_name="meter_reports")
    render_id = models.UUIDField(unique=True)
    stripe_customer_id = models.CharField(max_length=255)
    credits = models.PositiveIntegerField()
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["sent_at", "created_at"])]

    def __str__(self) -> str:
        return f"meter report of {self.render_id} ({'sent' if self.sent_at else 'pending'})"
