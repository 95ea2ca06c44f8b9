"""Every staff role reads protocols; clinic administrators and prescribers save versions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

READ = ["prescriber", "nurse", "scheduler", "clinic_admin", "auditor"]
WRITE = ["clinic_admin", "prescriber"]


def permission(apps, codename):
    return apps.get_model("auth", "Permission").objects.get(
        content_type__app_label="care", codename=codename
    )


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for role in READ:
        Group.objects.get(name=role).permissions.add(permission(apps, "view_clinicprotocol"))
    for role in WRITE:
        Group.objects.get(name=role).permissions.add(permission(apps, "add_clinicprotocol"))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role in READ:
        Group.objects.get(name=role).permissions.remove(permission(apps, "view_clinicprotocol"))
    for role in WRITE:
        Group.objects.get(name=role).permissions.remove(permission(apps, "add_clinicprotocol"))


class Migration(migrations.Migration):
    dependencies = [("care", "0007_course_lifecycle_permissions"), ("accounts", "0002_roles")]

    operations = [migrations.RunPython(grant, revoke)]
