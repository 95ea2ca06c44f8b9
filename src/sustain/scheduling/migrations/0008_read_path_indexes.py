# The read path's indexes (issue 15): a site's visits in a window (day board, week, booking
# searches, staff load), a patient's visits in time order (patient page, infusion gap floor),
# and the booked visits starting soon (reminder sweep). The two composites lead with the site
# and the patient, so the foreign keys' own indexes on them go. The holds live now are read
# through SeriesHold.expires_at's own index (few are live at any instant, whatever the site).

import django.db.models.deletion
from django.db import migrations, models


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
    ]
