from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("care", "0002_clinic_rules_fasting"),
    ]

    operations = [
        migrations.AddField(
            model_name="clinicrules",
            name="madrs_suicide_threshold",
            # Versions saved before it: the core's default (sustain_core.clinic_rules).
            field=models.PositiveSmallIntegerField(default=2),
            preserve_default=False,
        ),
    ]
