"""Give every existing appointment its own random UID (one uuid4 per row)."""

import uuid

from django.db import migrations


def fill_uids(apps, schema_editor):
    Appointment = apps.get_model("scheduling", "Appointment")
    rows = list(Appointment.objects.filter(uid__isnull=True).only("pk"))
    for row in rows:
        row.uid = uuid.uuid4()
    Appointment.objects.bulk_update(rows, ["uid"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0003_appointment_add_uid_sequence")]

    # Reverse: nothing to undo; 0003's reverse drops the column.
    operations = [migrations.RunPython(fill_uids, migrations.RunPython.noop)]
