"""Who records consent (prescribers, nurses) and signs contraindication screens and reviews
(prescribers), as the course lifecycle of issue 4 needs."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "prescriber": ["care.add_consent", "care.add_contraindicationscreen", "care.add_coursereview"],
    "nurse": ["care.add_consent"],
}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        for perm in perms:
            app_label, codename = perm.split(".")
            Group.objects.get(name=role).permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        for perm in perms:
            app_label, codename = perm.split(".")
            Group.objects.get(name=role).permissions.remove(
                *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("care", "0006_course_lifecycle_consent_screen_review_clinic_protocols"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
