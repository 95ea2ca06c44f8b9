"""Background work of the ledger, run by `sustain worker`: the nightly reconciliation (INT-10,
security-reliability-interop.md §7: "a nightly reconciliation recomputes every balance from
entries and alerts on any mismatch"; DEA completeness, 21 CFR 1304.21)."""

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from sustain.accounts import notify
from sustain.accounts.access import users_with_perm
from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.tasks import keep_one_run_queued
from sustain.ledger.services import mismatched_balances

log = logging.getLogger(__name__)


@task()
def reconcile_balances() -> int:
    """Schedule the next run first; then recompute every container's balance from its ledger
    entries. Each mismatch is logged, audited (outcome "refused": the stored balance is not
    accepted) and e-mailed through the outbox to those who resolve the site's discrepancies,
    naming the container only. Returns how many containers differ."""
    schedule_next_reconciliation()
    mismatches = mismatched_balances()
    now = timezone.now()
    with transaction.atomic():
        for balance, total in mismatches:
            site = balance.container.location.site
            log.error(
                "ledger balance of container id %s (%s mg) differs from its entries (%s mg)",
                balance.pk, balance.balance_mg, total,
            )  # fmt: skip
            record_event(
                actor=None,
                username="sustain worker",
                action=AuditAction.READ,
                category=DataCategory.LEDGER,
                outcome=AuditOutcome.REFUSED,
                site=site,
                obj=balance.container,
                reason="reconciliation: balance ≠ entries",
            )
            notify.email_staff(
                site=site,
                emails=users_with_perm("ledger.resolve_discrepancy", site)
                .exclude(email="")
                .order_by("email")
                .values_list("email", flat=True),
                subject=f"Sustain: a ledger balance does not reconcile at {site.name}",
                body=(
                    f"Container id {balance.pk}'s balance ({balance.balance_mg:.2f} mg) differs "
                    f"from the sum of its ledger entries ({total:.2f} mg). Open the "
                    "controlled-substance ledger to investigate and record a discrepancy."
                ),
                now=now,
            )
    return len(mismatches)


def schedule_next_reconciliation() -> None:
    """Keep exactly one future run of reconcile_balances waiting in the queue."""
    every = dt.timedelta(hours=settings.SUSTAIN_LEDGER_RECONCILE_EVERY_HOURS)
    keep_one_run_queued(reconcile_balances, every=every)
