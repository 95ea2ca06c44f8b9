# The read path's indexes (issue 15): a site's visits in a window (day board, week, booking
# searches, staff load), a patient's visits in time order (patient page, infusion gap floor),
# and the booked visits starting soon (reminder sweep). The two composites lead with the site
# and the patient, so the foreign keys' own indexes on them go. The holds live now are read
# through SeriesHold.expires_at's own index (few are live at any instant, whatever the site).

import importlib

import django.db.models.deletion
from django.db import migrations, models

# SQLite alters a column by copying the table into a new one, which drops the table's
# triggers: the diary triggers of migration 0007 on the appointment table are made again
# (test_diary.py checks every diary trigger exists after migrate, on both databases).
_diary = importlib.import_module("sustain.scheduling.migrations.0007_diary_version")
_APPOINTMENT = "scheduling_appointment_diary_"


def appointment_triggers_again(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in _diary.SQLITE_DROP + _diary.SQLITE:
            if _APPOINTMENT in statement:
                schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0007_diary_version"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(fields=["site", "starts_at"], name="appt_site_starts"),
        ),
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(fields=["patient", "starts_at"], name="appt_patient_starts"),
        ),
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(
                condition=models.Q(("status", "booked")),
                fields=["starts_at"],
                name="appt_booked_starts",
            ),
        ),
        migrations.AlterField(
            model_name="appointment",
            name="patient",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="appointments",
                to="care.patient",
            ),
        ),
        migrations.AlterField(
            model_name="appointment",
            name="site",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="appointments",
                to="accounts.site",
            ),
        ),
        migrations.RunPython(appointment_triggers_again, migrations.RunPython.noop),
    ]
