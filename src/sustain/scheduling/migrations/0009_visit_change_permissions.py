"""Schedulers, nurses and prescribers move, cancel and progress visits (change_appointment)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = ("scheduler", "nurse", "prescriber")


def permission(apps):
    return apps.get_model("auth", "Permission").objects.get(
        content_type__app_label="scheduling", codename="change_appointment"
    )


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    for role in ROLES:
        apps.get_model("auth", "Group").objects.get(name=role).permissions.add(permission(apps))


def revoke(apps, schema_editor):
    for role in ROLES:
        apps.get_model("auth", "Group").objects.get(name=role).permissions.remove(permission(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0008_appointment_phase_cancellation_override"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
