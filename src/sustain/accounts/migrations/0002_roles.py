"""Create the five staff roles as groups with their permissions (deny by default: a user
with no role can do nothing). The table is copied here, not imported (CONVENTIONS rule 13)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "prescriber": [
        "care.view_patient", "care.add_patient", "care.add_course", "care.view_assessment",
        "care.add_assessment", "care.add_weightmeasurement", "care.add_infusionrecord",
        "care.view_alert", "care.change_alert", "scheduling.view_appointment",
        "scheduling.add_appointment",
    ],
    "nurse": [
        "care.view_patient", "care.view_assessment", "care.add_assessment",
        "care.add_weightmeasurement", "care.add_infusionrecord", "care.view_alert",
        "care.change_alert", "scheduling.view_appointment",
    ],
    "scheduler": [
        "care.view_patient", "care.add_patient", "scheduling.view_appointment",
        "scheduling.add_appointment",
    ],
    "clinic_admin": [
        "care.view_patient", "care.add_patient", "scheduling.view_appointment",
        "scheduling.add_appointment", "accounts.view_auditevent",
    ],
    "auditor": ["accounts.view_auditevent"],
}  # fmt: skip


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def delete_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("care", "0002_links_to_scheduling"),
        ("scheduling", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, delete_roles)]
