"""The clinic's fasting rule before an infusion (hours without food and without clear fluids),
checked at check-in. Versions saved before it get the core's defaults (6 h and 2 h:
sustain_core.clinic_rules)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("care", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="clinicrules",
            name="fasting_food_hours",
            field=models.PositiveSmallIntegerField(default=6),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="clinicrules",
            name="fasting_clear_fluids_hours",
            field=models.PositiveSmallIntegerField(default=2),
            preserve_default=False,
        ),
    ]
