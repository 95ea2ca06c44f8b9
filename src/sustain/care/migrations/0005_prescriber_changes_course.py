"""Prescribers move courses between phases (care.change_course)."""

from django.db import migrations


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.get(name="prescriber").permissions.add(
        Permission.objects.get(content_type__app_label="care", codename="change_course")
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.get(name="prescriber").permissions.remove(
        Permission.objects.get(content_type__app_label="care", codename="change_course")
    )


class Migration(migrations.Migration):
    dependencies = [("care", "0004_course_maintenance_started_at"), ("accounts", "0002_roles")]

    operations = [migrations.RunPython(grant, revoke)]
