"""The ledger's charge API on its own, with no render: reserve, capture (at most what was reserved), release,
each settled once."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from core.billing.ledger import (
    INSUFFICIENT_CREDITS,
    Charge,
    charge_capture,
    charge_release,
    charges_admit,
    charges_reserve,
)
from core.billing.models import CreditEntry, MeterReport, Reservation
from core.billing.plans import FORMAT_NOT_IN_PLAN
from core.billing.selectors import ledger_balance, plan_limits
from core.errors import PaymentRequiredError
from core.models import Workspace
from tests.billing.conftest import grant, subscribe
from tests.billing.fake_stripe import FakeStripe


def _reserve(workspace: Workspace, *charges: Charge) -> list[Reservation]:
    with transaction.atomic():
        return charges_reserve(workspace=workspace, charges=list(charges))


def _balance(workspace: Workspace) -> int:
    return ledger_balance(account=workspace.billing_account)


def _charge(credits: int, frame_pixels: tuple[int, ...] = (180 * 320,)) -> Charge:
    return Charge(reference=str(uuid.uuid4()), credits=credits, frame_pixels=frame_pixels)


@pytest.mark.django_db
class TestCharges:
    def test_capturing_less_than_reserved_gives_the_rest_back(self, workspace: Workspace) -> None:
        grant(workspace, 10)
        charge = _charge(5)
        _reserve(workspace, charge)
        assert _balance(workspace) == 5
        reservation = charge_capture(reference=charge.reference, credits=3)
        assert reservation is not None
        assert (reservation.status, reservation.estimate, reservation.cost) == ("captured", 5, 3)
        assert _balance(workspace) == 7
        entries = CreditEntry.objects.filter(reference=charge.reference).order_by("id")
        assert list(entries.values_list("kind", "delta")) == [("reserve", -5), ("release", 2)]

    def test_capture_never_takes_more_than_was_reserved(self, workspace: Workspace) -> None:
        charge = _charge(2)
        _reserve(workspace, charge)
        reservation = charge_capture(reference=charge.reference, credits=9)
        assert reservation is not None
        assert reservation.cost == 2
        assert _balance(workspace) == -2
        assert not CreditEntry.objects.filter(kind=CreditEntry.Kind.RELEASE).exists()

    def test_release_gives_everything_back(self, workspace: Workspace) -> None:
        grant(workspace, 10)
        charge = _charge(4)
        _reserve(workspace, charge)
        reservation = charge_release(reference=charge.reference)
        assert reservation is not None
        assert (reservation.status, reservation.cost) == ("released", None)
        assert _balance(workspace) == 10

    def test_a_second_capture_or_release_changes_nothing(self, workspace: Workspace) -> None:
        grant(workspace, 10)
        charge = _charge(5)
        _reserve(workspace, charge)
        assert charge_capture(reference=charge.reference, credits=3) is not None
        assert charge_capture(reference=charge.reference, credits=1) is None
        assert charge_release(reference=charge.reference) is None
        assert Reservation.objects.get(render_id=charge.reference).cost == 3
        assert _balance(workspace) == 7
        assert CreditEntry.objects.filter(reference=charge.reference).count() == 2

    def test_settling_an_unknown_reference_changes_nothing(self, workspace: Workspace) -> None:
        assert charge_capture(reference=str(uuid.uuid4()), credits=1) is None
        assert charge_release(reference=str(uuid.uuid4())) is None
        assert not CreditEntry.objects.exists()

    def test_billing_off_admits_everything_and_the_limits_say_so(self, workspace: Workspace) -> None:
        with transaction.atomic():
            limits = charges_admit(workspace=workspace, charges=[_charge(99, (8000 * 8000,))]).limits
        assert limits.enforced is False
        assert limits == plan_limits(workspace=workspace)
        _reserve(workspace, _charge(3))
        assert _balance(workspace) == -3


@pytest.mark.django_db(transaction=True)
def test_reserving_outside_a_transaction_is_a_bug(workspace: Workspace) -> None:
    # Outside one, a 402 could not roll back what is charged: the caller's transaction is the guarantee.
    with pytest.raises(RuntimeError):
        charges_reserve(workspace=workspace, charges=[_charge(1)])


@pytest.mark.django_db
class TestChargesWithBillingOn:
    def test_a_chunk_is_reserved_all_or_none(self, workspace: Workspace, fake_stripe: FakeStripe) -> None:
        grant(workspace, 5)
        with pytest.raises(PaymentRequiredError) as refused:
            _reserve(workspace, _charge(3), _charge(3))
        assert refused.value.message == INSUFFICIENT_CREDITS.format(cost=6, balance=5)
        assert not Reservation.objects.exists()
        assert _balance(workspace) == 5
        assert len(_reserve(workspace, _charge(3), _charge(2))) == 2
        assert _balance(workspace) == 0

    def test_a_frame_above_the_plan_is_refused(self, workspace: Workspace, fake_stripe: FakeStripe) -> None:
        grant(workspace, 100)
        with pytest.raises(PaymentRequiredError) as refused:
            _reserve(workspace, _charge(1, (180 * 320, 3840 * 2160)))
        assert refused.value.message == FORMAT_NOT_IN_PLAN.format(
            plan="Free", max_pixels=1920 * 1080, pixels=3840 * 2160
        )
        subscribe(workspace, plan="pro")
        assert len(_reserve(workspace, _charge(1, (3840 * 2160,)))) == 1

    def test_a_capture_of_a_stripe_customer_is_metered_under_its_reference(
        self, workspace: Workspace, fake_stripe: FakeStripe
    ) -> None:
        subscribe(workspace, plan="pro", customer="cus_charges")
        grant(workspace, 10)
        charge = _charge(4)
        _reserve(workspace, charge)
        charge_capture(reference=charge.reference, credits=3)
        report = MeterReport.objects.get()
        assert (str(report.render_id), report.credits, report.stripe_customer_id) == (
            charge.reference,
            3,
            "cus_charges",
        )


def _account_reads(workspace: Workspace, *, with_admission: bool, charge: Charge) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        admission = charges_admit(workspace=workspace, charges=[charge])
        charges_reserve(
            workspace=workspace, charges=[charge], admission=admission if with_admission else None
        )
    return sum(1 for query in queries.captured_queries if 'FROM "core_billingaccount"' in query["sql"])


@pytest.mark.django_db
def test_a_reservation_with_its_admission_reads_the_account_once(workspace: Workspace) -> None:
    # The fan-out asks for thousands of renders: the lock and the plan are read once per request, not twice.
    alone = _account_reads(workspace, with_admission=False, charge=_charge(1))
    together = _account_reads(workspace, with_admission=True, charge=_charge(1))
    assert together < alone
    assert _balance(workspace) == -2  # both reserved


@pytest.mark.django_db
def test_an_admission_does_not_cover_charges_it_did_not_admit(
    workspace: Workspace, fake_stripe: FakeStripe
) -> None:
    grant(workspace, 100)  # billing on (fake_stripe), the Free plan: frames up to 1920x1080
    with transaction.atomic():
        admission = charges_admit(workspace=workspace, charges=[_charge(1)])
        with pytest.raises(PaymentRequiredError) as refused:  # the gates apply to a charge never admitted
            charges_reserve(workspace=workspace, charges=[_charge(1, (3840 * 2160,))], admission=admission)
    assert refused.value.message == FORMAT_NOT_IN_PLAN.format(
        plan="Free", max_pixels=1920 * 1080, pixels=3840 * 2160
    )
