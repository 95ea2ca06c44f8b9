"""Nurses and prescribers record adverse events at infusions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    permission = apps.get_model("auth", "Permission").objects.get(
        content_type__app_label="care", codename="add_adverseevent"
    )
    for role in ("nurse", "prescriber"):
        Group.objects.get(name=role).permissions.add(permission)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    permission = apps.get_model("auth", "Permission").objects.get(
        content_type__app_label="care", codename="add_adverseevent"
    )
    for role in ("nurse", "prescriber"):
        Group.objects.get(name=role).permissions.remove(permission)


class Migration(migrations.Migration):
    dependencies = [("care", "0012_adverse_events"), ("accounts", "0002_roles")]

    operations = [migrations.RunPython(grant, revoke)]
