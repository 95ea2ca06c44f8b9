"""Appointments gain an iCalendar identity: a UID (nullable here, filled by 0004, made unique
and required by 0005) and a SEQUENCE that starts at 0.

The UID is added without a default on purpose: Django evaluates a field default once for an
AddField, so `default=uuid.uuid4` here would give every existing visit the same UID.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0002_no_overlapping_visits")]

    operations = [
        migrations.AddField(
            model_name="appointment",
            name="sequence",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="appointment",
            name="uid",
            field=models.UUIDField(editable=False, null=True),
        ),
    ]
