"""Patients, protocols, courses, questionnaires and alerts."""

from decimal import Decimal

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Course",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("protocol_key", models.CharField(max_length=60)),
                ("protocol_version", models.PositiveIntegerField()),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("referred", "Referred"),
                            ("screening", "Screening"),
                            ("ready", "Ready for induction"),
                            ("induction", "Induction"),
                            ("review", "Post-induction review"),
                            ("maintenance", "Maintenance"),
                            ("relapsed", "Relapsed"),
                            ("completed", "Completed"),
                            ("discontinued", "Discontinued"),
                            ("paused", "Paused"),
                        ],
                        max_length=20,
                    ),
                ),
                ("enrolled_at", models.DateTimeField()),
                ("maintenance_started_at", models.DateTimeField(blank=True, null=True)),
                (
                    "paused_from",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("referred", "Referred"),
                            ("screening", "Screening"),
                            ("ready", "Ready for induction"),
                            ("induction", "Induction"),
                            ("review", "Post-induction review"),
                            ("maintenance", "Maintenance"),
                            ("relapsed", "Relapsed"),
                            ("completed", "Completed"),
                            ("discontinued", "Discontinued"),
                            ("paused", "Paused"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "dose_mg_per_kg",
                    models.DecimalField(blank=True, decimal_places=3, max_digits=4, null=True),
                ),
                ("ended_reason", models.TextField(blank=True, help_text="Why it was discontinued")),
                (
                    "enrolled_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "prescriber",
                    models.ForeignKey(
                        help_text="Receives alerts",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "permissions": [
                    ("prescribe", "Prescribe: hold courses, receive their alerts, change doses")
                ],
            },
        ),
        migrations.CreateModel(
            name="ContraindicationScreen",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("answers", models.JSONField(help_text="{item: true when present}")),
                ("absolute_present", models.BooleanField()),
                ("notes", models.TextField(blank=True)),
                ("signed_at", models.DateTimeField()),
                (
                    "signed_by",
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
                        related_name="screens",
                        to="care.course",
                    ),
                ),
            ],
            options={
                "ordering": ["-signed_at"],
            },
        ),
        migrations.CreateModel(
            name="Consent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("signed_on", models.DateField()),
                (
                    "document",
                    models.CharField(
                        help_text="Form name and version, or file ref", max_length=200
                    ),
                ),
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
                    "course",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="consents",
                        to="care.course",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="CourseReview",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("summary", models.JSONField(help_text="Scores and outcomes at review time")),
                ("plan", models.JSONField(help_text="The chosen maintenance option, as data")),
                ("notes", models.TextField(blank=True)),
                ("signed_at", models.DateTimeField()),
                (
                    "course",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="reviews",
                        to="care.course",
                    ),
                ),
                (
                    "signed_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-signed_at"],
            },
        ),
        migrations.CreateModel(
            name="CourseTransition",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "from_status",
                    models.CharField(
                        choices=[
                            ("referred", "Referred"),
                            ("screening", "Screening"),
                            ("ready", "Ready for induction"),
                            ("induction", "Induction"),
                            ("review", "Post-induction review"),
                            ("maintenance", "Maintenance"),
                            ("relapsed", "Relapsed"),
                            ("completed", "Completed"),
                            ("discontinued", "Discontinued"),
                            ("paused", "Paused"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "to_status",
                    models.CharField(
                        choices=[
                            ("referred", "Referred"),
                            ("screening", "Screening"),
                            ("ready", "Ready for induction"),
                            ("induction", "Induction"),
                            ("review", "Post-induction review"),
                            ("maintenance", "Maintenance"),
                            ("relapsed", "Relapsed"),
                            ("completed", "Completed"),
                            ("discontinued", "Discontinued"),
                            ("paused", "Paused"),
                        ],
                        max_length=20,
                    ),
                ),
                ("at", models.DateTimeField()),
                ("reason", models.TextField(blank=True)),
                (
                    "by",
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
                        related_name="transitions",
                        to="care.course",
                    ),
                ),
            ],
            options={
                "ordering": ["at", "pk"],
            },
        ),
        migrations.CreateModel(
            name="Patient",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("given_name", models.CharField(max_length=100)),
                ("family_name", models.CharField(max_length=100)),
                ("date_of_birth", models.DateField()),
                (
                    "sex",
                    models.CharField(
                        choices=[
                            ("female", "Female"),
                            ("male", "Male"),
                            ("other", "Other"),
                            ("unknown", "Unknown"),
                        ],
                        max_length=10,
                    ),
                ),
                ("phone", models.CharField(blank=True, max_length=40)),
                ("email", models.EmailField(blank=True, max_length=254)),
                (
                    "primary_condition",
                    models.CharField(
                        choices=[
                            ("depression", "Treatment-resistant depression"),
                            ("anxiety", "Anxiety"),
                            ("ptsd", "PTSD"),
                            ("chronic_pain", "Chronic pain"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "height_cm",
                    models.DecimalField(blank=True, decimal_places=1, max_digits=4, null=True),
                ),
                ("created_at", models.DateTimeField()),
                (
                    "created_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="patients",
                        to="accounts.site",
                    ),
                ),
            ],
            options={
                "ordering": ["family_name", "given_name", "pk"],
            },
        ),
        migrations.AddField(
            model_name="course",
            name="patient",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="courses",
                to="care.patient",
            ),
        ),
        migrations.CreateModel(
            name="Assessment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "instrument",
                    models.CharField(help_text="sustain_core.instruments code", max_length=20),
                ),
                (
                    "timepoint",
                    models.CharField(
                        choices=[
                            ("baseline", "Baseline"),
                            ("pre_infusion", "Before an infusion"),
                            ("follow_up", "Follow-up"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("staff", "Entered by staff"),
                            ("self_report", "Patient self-report link"),
                        ],
                        default="staff",
                        max_length=20,
                    ),
                ),
                ("completed_at", models.DateTimeField()),
                ("total_score", models.DecimalField(decimal_places=2, max_digits=6)),
                ("subscales", models.JSONField(default=dict)),
                ("severity", models.CharField(blank=True, max_length=30)),
                ("flags", models.JSONField(default=list)),
                (
                    "recorded_by",
                    models.ForeignKey(
                        help_text="None: the patient",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "course",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="assessments",
                        to="care.course",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="assessments",
                        to="care.patient",
                    ),
                ),
            ],
            options={
                "ordering": ["completed_at", "pk"],
            },
        ),
        migrations.CreateModel(
            name="Alert",
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
                            ("suicide_risk", "Suicide item positive"),
                            ("cssrs_risk", "C-SSRS moderate or high risk"),
                            ("worsening", "Meaningful worsening"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("open", "Open"), ("acknowledged", "Acknowledged")],
                        default="open",
                        max_length=20,
                    ),
                ),
                ("raised_at", models.DateTimeField()),
                (
                    "note",
                    models.TextField(
                        blank=True, help_text="What was done, written on acknowledgement"
                    ),
                ),
                ("acknowledged_at", models.DateTimeField(blank=True, null=True)),
                (
                    "acknowledged_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "assigned_to",
                    models.ForeignKey(
                        help_text="The prescriber",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "assessment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="alerts",
                        to="care.assessment",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="alerts",
                        to="care.patient",
                    ),
                ),
            ],
            options={
                "ordering": ["-raised_at"],
            },
        ),
        migrations.CreateModel(
            name="WeightMeasurement",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("weight_kg", models.DecimalField(decimal_places=1, max_digits=4)),
                ("measured_on", models.DateField()),
                ("recorded_at", models.DateTimeField()),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="weights",
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
            ],
            options={
                "ordering": ["-measured_on", "-recorded_at"],
            },
        ),
        migrations.CreateModel(
            name="AssessmentAnswer",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("item", models.CharField(help_text="the instrument's item key", max_length=30)),
                ("value", models.PositiveSmallIntegerField()),
                (
                    "assessment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="answers",
                        to="care.assessment",
                    ),
                ),
            ],
            options={
                "ordering": ["pk"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("assessment", "item"), name="one_answer_per_item"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ClinicProtocol",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=80)),
                ("version", models.PositiveIntegerField()),
                ("data", models.JSONField()),
                ("based_on_key", models.CharField(max_length=80)),
                ("based_on_version", models.PositiveIntegerField()),
                ("change_note", models.TextField()),
                ("created_at", models.DateTimeField()),
                (
                    "created_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="protocols",
                        to="accounts.site",
                    ),
                ),
            ],
            options={
                "ordering": ["key", "version"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("key", "version"), name="clinic_protocol_version"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ClinicRules",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("version", models.PositiveIntegerField()),
                ("weight_max_age_days", models.PositiveSmallIntegerField()),
                ("baseline_max_age_days", models.PositiveSmallIntegerField()),
                (
                    "dosing_weight_basis",
                    models.CharField(
                        choices=[
                            ("actual", "actual"),
                            ("ideal", "ideal"),
                            ("adjusted", "adjusted"),
                        ],
                        max_length=10,
                    ),
                ),
                ("dosing_bmi_threshold", models.DecimalField(decimal_places=1, max_digits=3)),
                ("qids_suicide_threshold", models.PositiveSmallIntegerField()),
                ("fiqr_min_answered_per_domain", models.PositiveSmallIntegerField()),
                ("alert_emails", models.BooleanField()),
                (
                    "reminder_hours",
                    models.JSONField(help_text="Whole hours before a visit, largest first"),
                ),
                ("visit_preparation", models.TextField()),
                ("changed_at", models.DateTimeField()),
                ("reason", models.TextField()),
                (
                    "changed_by",
                    models.ForeignKey(
                        help_text="None: defaults",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="rules",
                        to="accounts.site",
                    ),
                ),
            ],
            options={
                "ordering": ["site", "-version"],
                "permissions": [
                    ("change_clinical_rules", "Change the dosing and safety rules of a site"),
                    (
                        "change_message_rules",
                        "Change the reminder hours and preparation text of a site",
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("site", "version"), name="clinicrules_site_version"
                    )
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="course",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    (
                        "status__in",
                        (
                            "referred",
                            "screening",
                            "ready",
                            "paused",
                            "induction",
                            "review",
                            "maintenance",
                            "relapsed",
                        ),
                    )
                ),
                fields=("patient",),
                name="one_active_course_per_patient",
                violation_error_message="The patient already has an active course.",
            ),
        ),
        migrations.AddConstraint(
            model_name="assessment",
            constraint=models.CheckConstraint(
                condition=models.Q(("total_score__gte", 0)), name="assessment_total_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="assessment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("source", "self_report"), ("recorded_by__isnull", False), _connector="OR"
                ),
                name="assessment_staff_entry_has_recorder",
            ),
        ),
        migrations.AddConstraint(
            model_name="alert",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("acknowledged_at__isnull", True), ("status", "open")),
                    models.Q(("acknowledged_at__isnull", False), ("status", "acknowledged")),
                    _connector="OR",
                ),
                name="alert_acknowledged_has_time",
            ),
        ),
        migrations.AddConstraint(
            model_name="weightmeasurement",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("weight_kg__gte", Decimal("30")), ("weight_kg__lte", Decimal("300"))
                ),
                name="weight_kg_plausible",
            ),
        ),
    ]
