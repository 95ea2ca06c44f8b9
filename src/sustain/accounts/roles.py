"""The role matrix, declared once: what each staff role may do, as Django permissions.

Each role is a group; `sync_roles` makes every group hold exactly its permissions and runs
after every `migrate` (and as `sustain sync-roles`), so the database always matches this
table. A user with no role can do nothing (deny by default). Code checks permissions, never
group names. Permissions are named "app.codename"; the custom ones are declared on their
models (e.g. care.Course's `prescribe`).
"""

from typing import Any

from django.apps import AppConfig, apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

from sustain.accounts.enums import Role

# What every role reads: the protocols and the clinic's own rules.
_EVERY_ROLE = {"care.view_clinicprotocol", "care.view_clinicrules"}
# The chair side: patients' records, scores, alerts, medications, allergies, doses, and the
# visits.
_CLINICAL = {
    "care.view_patient", "care.view_course", "care.view_assessment", "care.add_assessment",
    "care.add_weightmeasurement", "care.view_alert", "care.change_alert", "care.add_consent",
    "care.view_medication", "care.add_medication", "care.change_medication",
    "care.view_allergy", "care.add_allergy", "care.change_allergy",
    "infusion.view_infusionrecord", "infusion.add_infusionrecord", "infusion.add_adverseevent",
    "portal.add_invitation", "scheduling.view_appointment", "scheduling.change_appointment",
    "scheduling.add_calendarfeed", "scheduling.view_shift",
    "ledger.view_ledgerentry", "ledger.draw_stock", "ledger.waste_stock", "ledger.witness_waste",
    "ledger.witness_destruction",
    "ledger.count_stock",
    "care.break_glass",  # emergency access to one patient of another site (BTG-01)
}  # fmt: skip
# The front desk: registering patients (and correcting their details), booking, the rota. No
# scores, alerts, medications, allergies or doses.
_FRONT_DESK = {
    "care.view_patient", "care.add_patient", "care.change_patient", "scheduling.view_appointment",
    "scheduling.add_appointment", "scheduling.view_shift", "scheduling.add_shift",
    "scheduling.delete_shift",
}  # fmt: skip
_PRESCRIBER = {
    "care.add_patient", "care.change_patient", "care.add_course", "care.change_course",
    "care.prescribe", "care.change_consent",
    "care.add_contraindicationscreen", "care.add_coursereview", "care.add_clinicprotocol",
    "care.change_clinical_rules", "scheduling.add_appointment",
    "scheduling.override_series_rules", "scheduling.prescriber_shift",
}  # fmt: skip
_SCHEDULER = {
    "portal.add_invitation", "scheduling.change_appointment", "scheduling.add_calendarfeed",
}  # fmt: skip
_CLINIC_ADMIN = {
    "accounts.view_auditevent", "accounts.view_outboxmessage", "accounts.change_outboxmessage",
    "accounts.designate_medical_director", "accounts.view_user", "accounts.add_user",
    "accounts.change_user", "accounts.change_site", "care.add_clinicprotocol",
    "care.change_message_rules", "scheduling.change_phasestaffing",
    "scheduling.change_openinghours", "scheduling.add_closure", "scheduling.delete_closure",
    "ledger.view_ledgerentry", "ledger.receive_stock", "ledger.transfer_stock",
    "ledger.adjust_stock", "ledger.correct_entry", "ledger.return_stock", "ledger.destroy_stock",
    "ledger.change_setup", "ledger.report_ledger", "ledger.resolve_discrepancy",
    "ledger.report_theft_loss", "ledger.record_inventory",
    "care.review_break_glass",  # the review of emergency accesses (BTG-03)
}  # fmt: skip

# Outcome reports (issue 17): the cohort's aggregates, and the relapse forecast per patient
# (scores, so clinical roles only); the clinic administrator sees the aggregates, not the
# forecast.
_OUTCOMES = {"reports.view_outcomes", "reports.view_relapsefit"}

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.PRESCRIBER: frozenset(_EVERY_ROLE | _CLINICAL | _PRESCRIBER | _OUTCOMES),
    Role.NURSE: frozenset(_EVERY_ROLE | _CLINICAL | _OUTCOMES | {"scheduling.nurse_shift"}),
    Role.SCHEDULER: frozenset(_EVERY_ROLE | _FRONT_DESK | _SCHEDULER),
    Role.CLINIC_ADMIN: frozenset(
        _EVERY_ROLE | _FRONT_DESK | _CLINIC_ADMIN | {"reports.view_outcomes"}
    ),
    Role.AUDITOR: frozenset(
        _EVERY_ROLE
        | {"accounts.view_auditevent", "ledger.view_ledgerentry", "ledger.report_ledger"}
        | {"care.review_break_glass"}
    ),
}


def sync_roles() -> dict[Role, int]:
    """Make each role's group hold exactly the permissions of ROLE_PERMISSIONS (creating the
    groups and every app's permissions first); return how many each holds.

    Raises Permission.DoesNotExist for a permission no model declares, so a typo in the
    table fails `migrate` rather than silently granting nothing.
    """
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    counts = {}
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for name in sorted(names):
            app_label, codename = name.split(".")
            wanted.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)
        counts[role] = len(wanted)
    return counts


def sync_after_migrate(sender: AppConfig, **kwargs: Any) -> None:
    """post_migrate receiver (accounts' own signal): the role matrix after every migrate."""
    if kwargs.get("using", "default") == "default":
        sync_roles()
