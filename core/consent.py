"""Consent for likeness (docs/trust.md): a real person's face or voice is used only with their consent, only for
the brands and uses they agreed to, and only until it runs out or they revoke it.

A likeness asset (`BrandAsset.likeness_use`: a `portrait`, a `voice`, footage flagged `shows_person`) names a
consent when it is uploaded. Whatever would use it (a render, a preview, a campaign, a schedule slot) asks
`consent_problem` first and is refused with the reason. When a consent is revoked or expires, `consent_lapse`
tells the apps above through `likeness_withdrawn` (core.signals): render cancels what is still rendering with
its assets and erases what was made with them; every step leaves an audit entry. Core knows no render: the
link is the signal, connected in each app's `ready()`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.assets import asset_store
from core.audit import audit_record
from core.errors import ApplicationError, NotFoundError
from core.models import Brand, BrandAsset, Consent, ConsentUse, Workspace
from core.queue import enqueue
from core.selectors import parse_id
from core.signals import likeness_withdrawn
from core.storage import get_storage
from core.text import name_check, text_problem

logger = logging.getLogger(__name__)

TASK_LAPSE = "consents.lapse"

CONSENT_REQUIRED = (
    "A {use} of a real person needs their consent: name the consent record they gave (see Consents)."
)
CONSENT_UNKNOWN = "No consent with this id in this workspace."
CONSENT_REVOKED = "The consent of {person} was revoked on {when}."
CONSENT_EXPIRED = "The consent of {person} ran out on {when}."
CONSENT_WRONG_BRAND = "The consent of {person} does not cover the brand {brand}."
CONSENT_WRONG_USE = "The consent of {person} does not cover use as a {use} (it covers: {uses})."
NOT_A_LIKENESS = "Only a portrait, a voice or footage that shows a person names a consent."
USES_REQUIRED = "Name at least one use: portrait, voice or video."
BRANDS_REQUIRED = "Name at least one of this workspace's brands."
UNKNOWN_BRAND = "No brand with this id in this workspace."
ALREADY_REVOKED = "This consent was already revoked."
VALID_UNTIL_PAST = "Must be in the future."

# A revoked consent's lapse task runs at once; the beat takes over one left undone this long after (a lost
# message), so the two do not race on the same consent.
EXPIRY_GRACE = timedelta(minutes=5)


# --- reads ------------------------------------------------------------------------------------------------------


def consent_list(*, workspace: Workspace) -> QuerySet[Consent]:
    return Consent.objects.filter(workspace=workspace).prefetch_related("brands").order_by("-created_at")


def consent_active_list(*, workspace: Workspace, now: datetime | None = None) -> QuerySet[Consent]:
    """The consents that hold now (not revoked, not run out), by person: what a new likeness upload may name."""
    now = now or timezone.now()
    return (
        consent_list(workspace=workspace)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now), revoked_at__isnull=True)
        .order_by("person_name", "-created_at")
    )


def consent_get_for_workspace(*, workspace: Workspace, consent_id: Any) -> Consent:
    consent = consent_list(workspace=workspace).filter(pk=parse_id(consent_id)).first()
    if consent is None:
        raise NotFoundError()
    return consent


def consent_holds(consent: Consent, *, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return consent.revoked_at is None and (consent.valid_until is None or consent.valid_until > now)


def consent_problem(
    *, consent: Consent | None, brand: Brand, use: str, now: datetime | None = None
) -> str | None:
    """Why `consent` does not let `brand` use a likeness as `use`, or None when it does."""
    now = now or timezone.now()
    if consent is None:
        return CONSENT_REQUIRED.format(use=use)
    person = repr(consent.person_name)
    if consent.revoked_at is not None:
        return CONSENT_REVOKED.format(person=person, when=consent.revoked_at.strftime("%Y-%m-%d %H:%M UTC"))
    if consent.valid_until is not None and consent.valid_until <= now:
        return CONSENT_EXPIRED.format(person=person, when=consent.valid_until.strftime("%Y-%m-%d %H:%M UTC"))
    if consent.workspace_id != brand.workspace_id or not consent.brands.filter(pk=brand.pk).exists():
        return CONSENT_WRONG_BRAND.format(person=person, brand=repr(brand.name))
    if use not in consent.uses:
        return CONSENT_WRONG_USE.format(person=person, use=use, uses=", ".join(consent.uses) or "nothing")
    return None


def asset_consent_problem(asset: BrandAsset) -> str | None:
    """Why this asset may not be used now (None: it needs no consent, or its consent holds)."""
    use = asset.likeness_use
    if use is None:
        return None
    return consent_problem(consent=asset.consent, brand=asset.brand, use=use)


def consent_for_upload(*, brand: Brand, kind: str, shows_person: bool, consent_id: Any) -> Consent | None:
    """The consent a new asset names, checked against the brand and the use its kind needs (400 naming
    `consent`); None for an asset that needs none (and naming one is refused: it would mean nothing)."""
    use = BrandAsset(kind=kind, shows_person=shows_person).likeness_use
    if use is None:
        if consent_id:
            raise ApplicationError(NOT_A_LIKENESS, fields={"consent": NOT_A_LIKENESS})
        return None
    if not consent_id:
        message = CONSENT_REQUIRED.format(use=use)
        raise ApplicationError(message, fields={"consent": message})
    try:
        consent = Consent.objects.filter(workspace_id=brand.workspace_id, pk=parse_id(consent_id)).first()
    except NotFoundError:
        consent = None
    if consent is None:
        raise ApplicationError(CONSENT_UNKNOWN, fields={"consent": CONSENT_UNKNOWN})
    problem = consent_problem(consent=consent, brand=brand, use=use)
    if problem is not None:
        raise ApplicationError(problem, fields={"consent": problem})
    return consent


# --- writes -----------------------------------------------------------------------------------------------------


def _brands(workspace: Workspace, brand_ids: Iterable[Any]) -> list[Brand]:
    brands: list[Brand] = []
    for index, brand_id in enumerate(brand_ids):
        try:
            brand = Brand.objects.filter(
                workspace=workspace, deleted_at__isnull=True, pk=parse_id(brand_id)
            ).first()
        except NotFoundError:
            brand = None
        if brand is None:
            raise ApplicationError(UNKNOWN_BRAND, fields={f"brands[{index}]": UNKNOWN_BRAND})
        brands.append(brand)
    if not brands:
        raise ApplicationError(BRANDS_REQUIRED, fields={"brands": BRANDS_REQUIRED})
    return brands


def _snapshot(consent: Consent) -> dict[str, Any]:
    """What an audit entry says of a consent: ids, scope and dates, never the person's name."""
    return {
        "brands": sorted(str(pk) for pk in consent.brands.values_list("pk", flat=True)),
        "uses": consent.uses,
        "valid_until": consent.valid_until.isoformat() if consent.valid_until else None,
        "evidence_sha256": consent.evidence_sha256,
    }


def consent_create(
    *,
    workspace: Workspace,
    person_name: str,
    brand_ids: list[Any],
    uses: list[str],
    valid_until: datetime | None,
    evidence: bytes,
    evidence_name: str,
    collected_by: str,
) -> Consent:
    """Record a person's consent with its evidence (checked and stored like an upload, core.assets)."""
    name_check(person_name, field="person_name")
    name_check(collected_by, field="collected_by")
    uses = list(dict.fromkeys(uses))
    if not uses:
        raise ApplicationError(USES_REQUIRED, fields={"uses": USES_REQUIRED})
    if valid_until is not None and valid_until <= timezone.now():
        raise ApplicationError(VALID_UNTIL_PAST, fields={"valid_until": VALID_UNTIL_PAST})
    brands = _brands(workspace, brand_ids)
    try:
        stored = asset_store(folder=f"consents/{workspace.pk}", kind="evidence", data=evidence)
    except ApplicationError as exc:
        raise ApplicationError(exc.message, fields={"evidence": exc.message}) from None
    with transaction.atomic():
        consent = Consent.objects.create(
            workspace=workspace,
            person_name=person_name,
            uses=uses,
            valid_until=valid_until,
            evidence_key=stored.key,
            evidence_content_type=stored.checked.content_type,
            evidence_size=len(evidence),
            evidence_sha256=stored.sha256,
            evidence_name=evidence_name[:255],
            collected_by=collected_by,
            granted_at=timezone.now(),
        )
        consent.brands.set(brands)
        audit_record(
            "consent.granted",
            workspace=workspace,
            object_type="consent",
            object_id=consent.pk,
            after=_snapshot(consent),
        )
    return consent


def consent_revoke(*, consent: Consent, reason: str = "") -> Consent:
    """Revoke (409 when already revoked); what was made with its assets is canceled and erased by the
    `consents.lapse` task, sent on commit (done before the answer in embedded sync mode)."""
    problem = text_problem(reason)
    if problem is not None:
        raise ApplicationError(problem, fields={"reason": problem})
    with transaction.atomic():
        now = timezone.now()
        if not Consent.objects.filter(pk=consent.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_reason=reason[:500], lapse_applied_at=None
        ):
            raise ApplicationError(ALREADY_REVOKED, status_code=409)
        audit_record(
            "consent.revoked",
            workspace=consent.workspace_id,
            object_type="consent",
            object_id=consent.pk,
            before={"revoked_at": None},
            after={"revoked_at": now.isoformat(), "reason": reason[:500]},
        )
        enqueue(TASK_LAPSE, str(consent.pk))
    consent.refresh_from_db()
    return consent


def consent_use_record(*, consent_ids: Iterable[Any], reference: str) -> None:
    """Note that `reference` (`render:<id>`) is being made with these consents' likenesses (idempotent)."""
    ConsentUse.objects.bulk_create(
        [ConsentUse(consent_id=consent_id, reference=reference) for consent_id in set(consent_ids)],
        ignore_conflicts=True,
    )


def consent_lapse(*, consent_id: Any) -> int:
    """Carry out a revoked or expired consent: tell the apps above (`likeness_withdrawn`) which assets may no
    longer be shown, then mark it done. Safe to run twice: every receiver's step is conditional. Returns the
    number of assets."""
    consent = Consent.objects.filter(pk=consent_id).first()
    if consent is None or consent_holds(consent):
        return 0
    if consent.revoked_at is not None:
        reason = f"Consent of {consent.person_name!r} revoked"
    else:
        reason = f"Consent of {consent.person_name!r} expired"
    asset_ids = list(BrandAsset.objects.filter(consent=consent).values_list("pk", flat=True))
    references = list(ConsentUse.objects.filter(consent=consent).values_list("reference", flat=True))
    likeness_withdrawn.send(
        sender=Consent,
        workspace_id=consent.workspace_id,
        consent_id=consent.pk,
        asset_ids=asset_ids,
        references=references,
        reason=reason,
    )
    Consent.objects.filter(pk=consent.pk).update(lapse_applied_at=timezone.now())
    return len(asset_ids)


def consents_expire(*, now: datetime | None = None) -> int:
    """Beat (core.periodic in embedded mode): every consent that ran out and was not yet carried out gets
    an audit entry and its lapse. Returns how many."""
    now = now or timezone.now()
    due = Consent.objects.filter(
        Q(revoked_at__isnull=True, valid_until__lte=now, lapse_applied_at__isnull=True)
        # revoked, but the task that carries it out was lost: the next tick does it
        | Q(revoked_at__isnull=False, lapse_applied_at__isnull=True, revoked_at__lte=now - EXPIRY_GRACE)
    ).values_list("pk", "workspace_id", "revoked_at")
    count = 0
    for consent_id, workspace_id, revoked_at in due:
        if revoked_at is None:
            audit_record(
                "consent.expired",
                workspace=workspace_id,
                object_type="consent",
                object_id=consent_id,
                actor="system",
            )
        consent_lapse(consent_id=consent_id)
        count += 1
    return count


def consent_evidence_url(*, consent: Consent) -> str:
    """A short-lived link to the evidence (signed media URL embedded, presigned in service mode)."""
    return get_storage().url(consent.evidence_key)
