"""The clinic's booster threshold for the relapse forecast (issue 17): the relapse risk in
percent at which a booster is suggested, and the horizon in days. Versions saved before it get
the core's defaults (20 % and 14 days: sustain_core.clinic_rules)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("care", "0013_fhir_import_identifiers_conditions")]

    operations = [
        migrations.AddField(
            model_name="clinicrules",
            name="booster_risk_percent",
            field=models.PositiveSmallIntegerField(default=20),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="clinicrules",
            name="booster_risk_horizon_days",
            field=models.PositiveSmallIntegerField(default=14),
            preserve_default=False,
        ),
    ]
