"""Staffing: one person's shifts never overlap on PostgreSQL (btree_gist, as for visits in
0002); visits booked before visit templates count their whole chair time as infusion (the
most a visit can weigh); and the roles' permissions:
- schedulers and clinic administrators see, add and remove shifts; nurses and prescribers see
  them;
- clinic administrators set the nurse ratios and prescriber presence per phase.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE scheduling_shift ADD CONSTRAINT shift_no_overlap EXCLUDE USING gist
    (staff_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&);
"""
DROP = "ALTER TABLE scheduling_shift DROP CONSTRAINT IF EXISTS shift_no_overlap;"

GRANTS = {
    "scheduler": ["view_shift", "add_shift", "delete_shift"],
    "clinic_admin": ["view_shift", "add_shift", "delete_shift", "change_phasestaffing"],
    "nurse": ["view_shift"],
    "prescriber": ["view_shift"],
}


def permission(apps, codename):
    return apps.get_model("auth", "Permission").objects.get(
        content_type__app_label="scheduling", codename=codename
    )


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)
    Appointment = apps.get_model("scheduling", "Appointment")
    for visit in Appointment.objects.filter(infusion_minutes=0).only("starts_at", "ends_at"):
        minutes = int((visit.ends_at - visit.starts_at).total_seconds() // 60)
        Appointment.objects.filter(pk=visit.pk).update(infusion_minutes=minutes)
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for role, codenames in GRANTS.items():
        Group.objects.get(name=role).permissions.add(
            *(permission(apps, codename) for codename in codenames)
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)
    Group = apps.get_model("auth", "Group")
    for role, codenames in GRANTS.items():
        Group.objects.get(name=role).permissions.remove(
            *(permission(apps, codename) for codename in codenames)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0011_shifts_phase_staffing_visit_phases"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
