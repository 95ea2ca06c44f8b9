import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("care", "0004_screen_justification"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="clinicrules",
            name="ymrs_alert_threshold",
            # Versions saved before it: the core's default (sustain_core.clinic_rules).
            field=models.PositiveSmallIntegerField(default=12),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="alert",
            name="kind",
            field=models.CharField(
                choices=[
                    ("suicide_risk", "Suicide item positive"),
                    ("cssrs_risk", "C-SSRS moderate or high risk"),
                    ("worsening", "Meaningful worsening"),
                    ("mania", "YMRS above the clinic's threshold"),
                ],
                max_length=20,
            ),
        ),
        migrations.CreateModel(
            name="Medication",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=200)),
                (
                    "rxcui",
                    models.CharField(
                        blank=True,
                        help_text="RxNorm ingredient code; blank: matched by name",
                        max_length=12,
                    ),
                ),
                ("dose", models.CharField(blank=True, help_text="Dose and notes", max_length=300)),
                (
                    "started_on",
                    models.DateField(blank=True, help_text="None: not known", null=True),
                ),
                ("stopped_on", models.DateField(blank=True, null=True)),
                ("recorded_at", models.DateTimeField()),
                ("stop_recorded_at", models.DateTimeField(blank=True, null=True)),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="medications",
                        to="care.patient",
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "stopped_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["name", "pk"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("name", ""), _negated=True), name="medication_named"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("stop_recorded_at__isnull", True),
                                ("stopped_by__isnull", True),
                                ("stopped_on__isnull", True),
                            ),
                            models.Q(
                                ("stop_recorded_at__isnull", False),
                                ("stopped_by__isnull", False),
                                ("stopped_on__isnull", False),
                            ),
                            _connector="OR",
                        ),
                        name="medication_stop_recorded_whole",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("started_on__isnull", True),
                            ("stopped_on__isnull", True),
                            ("stopped_on__gte", models.F("started_on")),
                            _connector="OR",
                        ),
                        name="medication_stops_after_it_starts",
                    ),
                ],
            },
        ),
    ]
