# The read path's indexes (issue 15): a site's visits in a window (day board, week, booking
# searches, staff load), a patient's visits in time order (patient page, infusion gap floor),
# the booked visits starting soon (reminder sweep), and the holds live at a site.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0006_deliver_reminder_queued_at"),
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
            index=models.Index(fields=["status", "starts_at"], name="appt_status_starts"),
        ),
        migrations.AddIndex(
            model_name="serieshold",
            index=models.Index(fields=["site", "expires_at"], name="hold_site_expires"),
        ),
    ]
