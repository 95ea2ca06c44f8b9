"""Schedulers, nurses and prescribers create and revoke patients' calendar feeds."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = ["scheduler", "nurse", "prescriber"]


def permission(apps, codename):
    return apps.get_model("auth", "Permission").objects.get(
        content_type__app_label="scheduling", codename=codename
    )


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for role in ROLES:
        Group.objects.get(name=role).permissions.add(permission(apps, "add_calendarfeed"))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role in ROLES:
        Group.objects.get(name=role).permissions.remove(permission(apps, "add_calendarfeed"))


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0006_calendar_feed_visit_reminder"), ("accounts", "0002_roles")]

    operations = [migrations.RunPython(grant, revoke)]
