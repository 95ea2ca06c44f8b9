"""The ledger's nightly reconciliation (INT-10): every balance recomputed from its entries; a
balance changed behind the ledger's back is audited and e-mailed to those who resolve the
site's discrepancies, naming the container only; the run keeps its next night queued."""

from decimal import Decimal

import pytest
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from sustain.accounts.enums import AuditOutcome, DataCategory
from sustain.accounts.models import AuditEvent, OutboxMessage
from sustain.ledger.models import ContainerBalance
from sustain.ledger.tasks import reconcile_balances

pytestmark = pytest.mark.db


def queued() -> int:
    return DBTaskResult.objects.filter(
        task_path=reconcile_balances.module_path, status=TaskResultStatus.READY
    ).count()


def test_exact_balances_alert_no_one_and_the_next_night_is_queued(vials):
    assert reconcile_balances.call() == 0
    assert not OutboxMessage.objects.exists()
    assert queued() == 1


def test_a_changed_balance_is_audited_and_e_mailed_without_patient_data(vials, alex):
    ContainerBalance.objects.filter(pk=vials[1].pk).update(balance_mg=Decimal("450"))

    assert reconcile_balances.call() == 1

    event = AuditEvent.objects.get(category=DataCategory.LEDGER, outcome=AuditOutcome.REFUSED)
    assert (event.object_id, event.site) == (str(vials[1].pk), vials[1].location.site)
    assert event.reason == "reconciliation: balance ≠ entries"
    message = OutboxMessage.objects.get()
    assert (message.to, message.to_staff) == (alex.email, True)
    assert f"Container id {vials[1].pk}'s balance (450.00 mg)" in message.body
    assert "entries (500.00 mg)" in message.body
    assert queued() == 1
