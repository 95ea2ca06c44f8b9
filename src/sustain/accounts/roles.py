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

# Read only (the same for every clinical role): protocols, appointments, shifts.
_READ_PROTOCOLS = {"care.view_clinicprotocol"}
_CLINICAL = {
    "care.view_patient", "care.view_course", "care.view_assessment", "care.add_assessment",
    "care.add_weightmeasurement", "care.view_alert", "care.change_alert", "care.add_consent",
    "infusion.view_infusionrecord", "infusion.add_infusionrecord", "infusion.add_adverseevent",
    "portal.add_invitation", "scheduling.view_appointment", "scheduling.change_appointment",
    "scheduling.add_calendarfeed", "scheduling.view_shift",
}  # fmt: skip
_FRONT_DESK = {
    "care.view_patient", "care.add_patient", "scheduling.view_appointment",
    "scheduling.add_appointment", "scheduling.view_shift", "scheduling.add_shift",
    "scheduling.delete_shift",
}  # fmt: skip

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.PRESCRIBER: frozenset(
        _READ_PROTOCOLS
        | _CLINICAL
        | {
            "care.add_patient",
            "care.add_course",
            "care.change_course",
            "care.prescribe",
            "care.add_contraindicationscreen",
            "care.add_coursereview",
            "care.add_clinicprotocol",
            "scheduling.add_appointment",
            "scheduling.override_series_rules",
            "scheduling.prescriber_shift",
        }
    ),
    Role.NURSE: frozenset(_READ_PROTOCOLS | _CLINICAL | {"scheduling.nurse_shift"}),
    Role.SCHEDULER: frozenset(
        _READ_PROTOCOLS
        | _FRONT_DESK
        | {
            "portal.add_invitation",
            "scheduling.change_appointment",
            "scheduling.add_calendarfeed",
        }
    ),
    Role.CLINIC_ADMIN: frozenset(
        _READ_PROTOCOLS
        | _FRONT_DESK
        | {
            "accounts.view_auditevent",
            "accounts.view_outboxmessage",
            "care.add_clinicprotocol",
            "scheduling.change_phasestaffing",
        }
    ),
    Role.AUDITOR: frozenset(_READ_PROTOCOLS | {"accounts.view_auditevent"}),
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
