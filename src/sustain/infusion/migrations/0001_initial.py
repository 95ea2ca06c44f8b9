"""The infusion record of a visit, its adverse events and the questionnaires taken at it."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("care", "0001_initial"),
        ("scheduling", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="InfusionRecord",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("weight_kg", models.DecimalField(decimal_places=1, max_digits=4)),
                (
                    "mg_per_kg",
                    models.DecimalField(blank=True, decimal_places=3, max_digits=4, null=True),
                ),
                (
                    "mg_per_kg_per_h",
                    models.DecimalField(blank=True, decimal_places=3, max_digits=4, null=True),
                ),
                (
                    "dose_rate_mg_per_h",
                    models.DecimalField(blank=True, decimal_places=4, max_digits=8, null=True),
                ),
                ("capped", models.BooleanField(default=False)),
                ("dose_mg", models.DecimalField(decimal_places=4, max_digits=8)),
                ("vial_mg_per_ml", models.DecimalField(decimal_places=1, max_digits=4)),
                ("drug_volume_ml", models.DecimalField(decimal_places=6, max_digits=9)),
                ("bag_volume_ml", models.DecimalField(decimal_places=1, max_digits=6)),
                ("infusion_minutes", models.PositiveSmallIntegerField()),
                ("pump_rate_ml_per_h", models.DecimalField(decimal_places=1, max_digits=6)),
                ("confirmed_at", models.DateTimeField()),
                (
                    "appointment",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="infusion",
                        to="scheduling.appointment",
                    ),
                ),
                (
                    "clinic_rules",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="care.clinicrules",
                    ),
                ),
                (
                    "confirmed_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "course",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="infusions",
                        to="care.course",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="infusions",
                        to="care.patient",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="AdverseEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("drowsiness", "Drowsiness"),
                            ("dizziness", "Dizziness"),
                            ("dissociation", "Dissociation"),
                            ("nausea", "Nausea or vomiting"),
                            ("headache", "Headache"),
                            ("anxiety", "Anxiety"),
                            ("hypertension", "Blood pressure rise"),
                            ("tachycardia", "Tachycardia"),
                            ("emergence", "Emergence reaction"),
                            ("visual", "Diplopia or nystagmus"),
                            ("other", "Other"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "severity",
                    models.CharField(
                        choices=[("mild", "Mild"), ("moderate", "Moderate"), ("severe", "Severe")],
                        max_length=10,
                    ),
                ),
                ("description", models.CharField(blank=True, max_length=300)),
                ("action_taken", models.CharField(blank=True, max_length=300)),
                ("recorded_at", models.DateTimeField()),
                (
                    "recorded_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "infusion",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="adverse_events",
                        to="infusion.infusionrecord",
                    ),
                ),
            ],
            options={
                "ordering": ["recorded_at", "pk"],
            },
        ),
        migrations.CreateModel(
            name="VisitAssessment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "appointment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="visit_assessments",
                        to="scheduling.appointment",
                    ),
                ),
                (
                    "assessment",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="visit_link",
                        to="care.assessment",
                    ),
                ),
            ],
        ),
        migrations.AddConstraint(
            model_name="infusionrecord",
            constraint=models.CheckConstraint(
                condition=models.Q(("dose_mg__gt", 0)), name="infusion_dose_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="infusionrecord",
            constraint=models.CheckConstraint(
                condition=models.Q(("pump_rate_ml_per_h__gt", 0)), name="infusion_rate_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="infusionrecord",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("mg_per_kg__isnull", False), ("mg_per_kg_per_h__isnull", True)),
                    models.Q(
                        ("dose_rate_mg_per_h__isnull", False),
                        ("mg_per_kg__isnull", True),
                        ("mg_per_kg_per_h__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="infusion_one_regimen_kind",
            ),
        ),
        migrations.AddConstraint(
            model_name="adverseevent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "other"), _negated=True),
                    models.Q(("description", ""), _negated=True),
                    _connector="OR",
                ),
                name="adverse_other_described",
            ),
        ),
    ]
