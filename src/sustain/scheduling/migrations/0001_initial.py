"""Chairs, hours, appointments, holds, shifts, staffing rules, calendars and reminders.

On PostgreSQL the database itself refuses two occupying visits that overlap in one chair or
for one patient, and two overlapping shifts of one person (security-reliability-interop.md
§4.3, INT-03). Half-open [) ranges let 09:00–11:00 and 11:00–13:00 coexist. Django's
ExclusionConstraint would also emit on SQLite, so the SQL runs here only on PostgreSQL; the
services lock and check as well.
"""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

NO_OVERLAPS = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE scheduling_appointment ADD CONSTRAINT appt_no_chair_overlap EXCLUDE USING gist
    (chair_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
    WHERE (status IN ('booked', 'completed'));
ALTER TABLE scheduling_appointment ADD CONSTRAINT appt_no_patient_overlap EXCLUDE USING gist
    (patient_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
    WHERE (status IN ('booked', 'completed'));
ALTER TABLE scheduling_shift ADD CONSTRAINT shift_no_overlap EXCLUDE USING gist
    (staff_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&);
"""
NO_OVERLAPS_DROP = """
ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS appt_no_chair_overlap;
ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS appt_no_patient_overlap;
ALTER TABLE scheduling_shift DROP CONSTRAINT IF EXISTS shift_no_overlap;
"""


def no_overlaps(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NO_OVERLAPS)


def no_overlaps_reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NO_OVERLAPS_DROP)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0001_initial"),
        ("care", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Chair",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=40)),
                ("capabilities", models.JSONField(blank=True, default=list)),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="chairs",
                        to="accounts.site",
                    ),
                ),
            ],
            options={
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="Appointment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "number",
                    models.PositiveSmallIntegerField(help_text="Infusion number within the course"),
                ),
                ("starts_at", models.DateTimeField()),
                ("ends_at", models.DateTimeField()),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("booked", "Booked"),
                            ("completed", "Completed"),
                            ("cancelled", "Cancelled"),
                            ("no_show", "No-show"),
                        ],
                        default="booked",
                        max_length=20,
                    ),
                ),
                ("booked_at", models.DateTimeField()),
                (
                    "phase",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("arrived", "Arrived"),
                            ("in_chair", "In chair"),
                            ("infusing", "Infusing"),
                            ("recovering", "Recovering"),
                            ("discharged", "Discharged"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "cancel_reason",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("patient_request", "Patient asked"),
                            ("illness", "Patient unwell"),
                            ("safety_deferral", "Deferred for safety (e.g. blood pressure)"),
                            ("clinic_closure", "Clinic closed"),
                            ("staffing", "Staffing"),
                            ("rescheduled", "Moved to another time"),
                            ("other", "Other"),
                        ],
                        max_length=20,
                    ),
                ),
                ("cancel_note", models.CharField(blank=True, max_length=300)),
                ("override_reason", models.CharField(blank=True, max_length=300)),
                ("uid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("sequence", models.PositiveIntegerField(default=0, editable=False)),
                ("check_in_minutes", models.PositiveSmallIntegerField(default=0)),
                ("infusion_minutes", models.PositiveSmallIntegerField(default=0)),
                ("recovery_minutes", models.PositiveSmallIntegerField(default=0)),
                ("discharge_minutes", models.PositiveSmallIntegerField(default=0)),
                (
                    "booked_by",
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
                        related_name="appointments",
                        to="care.course",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="appointments",
                        to="care.patient",
                    ),
                ),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="appointments",
                        to="accounts.site",
                    ),
                ),
                (
                    "chair",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="appointments",
                        to="scheduling.chair",
                    ),
                ),
            ],
            options={
                "ordering": ["starts_at", "pk"],
                "permissions": [
                    ("override_series_rules", "Keep a visit move that breaks the series rules")
                ],
            },
        ),
        migrations.CreateModel(
            name="Closure",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("date", models.DateField()),
                ("reason", models.CharField(max_length=120)),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="closures",
                        to="accounts.site",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="OpeningHours",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "weekday",
                    models.PositiveSmallIntegerField(
                        choices=[
                            (0, "Monday"),
                            (1, "Tuesday"),
                            (2, "Wednesday"),
                            (3, "Thursday"),
                            (4, "Friday"),
                            (5, "Saturday"),
                            (6, "Sunday"),
                        ]
                    ),
                ),
                ("opens", models.TimeField()),
                ("closes", models.TimeField()),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="opening_hours",
                        to="accounts.site",
                    ),
                ),
            ],
            options={
                "ordering": ["weekday", "opens"],
            },
        ),
        migrations.CreateModel(
            name="PhaseStaffing",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "phase",
                    models.CharField(
                        choices=[
                            ("check_in", "Check-in and pre-infusion checks"),
                            ("infusion", "Infusion"),
                            ("recovery", "Recovery and observation"),
                            ("discharge", "Discharge"),
                        ],
                        max_length=20,
                    ),
                ),
                ("patients_per_nurse", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("prescriber_on_site", models.BooleanField(default=False)),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="phase_staffing",
                        to="accounts.site",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="SeriesHold",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("choice", models.CharField(max_length=20)),
                (
                    "slots",
                    models.JSONField(help_text="[[chair id, start ISO, end ISO], ...] in UTC"),
                ),
                ("expires_at", models.DateTimeField(db_index=True)),
                (
                    "course",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="holds",
                        to="care.course",
                    ),
                ),
                (
                    "held_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.site",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Shift",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "role",
                    models.CharField(
                        choices=[("nurse", "Nurse"), ("prescriber", "Prescriber")], max_length=20
                    ),
                ),
                ("starts_at", models.DateTimeField()),
                ("ends_at", models.DateTimeField()),
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
                        related_name="shifts",
                        to="accounts.site",
                    ),
                ),
                (
                    "staff",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="shifts",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["starts_at", "pk"],
                "permissions": [
                    ("nurse_shift", "Can be on shift as a nurse"),
                    ("prescriber_shift", "Can be on shift as a prescriber"),
                ],
            },
        ),
        migrations.CreateModel(
            name="VisitReminder",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("hours_before", models.PositiveSmallIntegerField()),
                (
                    "visit_starts_at",
                    models.DateTimeField(help_text="The visit time this reminder announced"),
                ),
                ("sent_at", models.DateTimeField()),
                (
                    "appointment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reminders",
                        to="scheduling.appointment",
                    ),
                ),
                (
                    "message",
                    models.ForeignKey(
                        help_text="Set in the same transaction that claims the reminder",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="accounts.outboxmessage",
                    ),
                ),
            ],
            options={
                "ordering": ["sent_at", "pk"],
            },
        ),
        migrations.CreateModel(
            name="CalendarFeed",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("token_hash", models.CharField(max_length=64, unique=True)),
                ("created_at", models.DateTimeField()),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="calendar_feeds",
                        to="care.patient",
                    ),
                ),
                (
                    "revoked_by",
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
                "ordering": ["-created_at", "-pk"],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("revoked_at__isnull", True)),
                        fields=("patient",),
                        name="calendarfeed_one_active_per_patient",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("revoked_at__isnull", True), ("revoked_by__isnull", True)),
                            models.Q(("revoked_at__isnull", False), ("revoked_by__isnull", False)),
                            _connector="OR",
                        ),
                        name="calendarfeed_revoked_at_and_by_together",
                    ),
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="chair",
            constraint=models.UniqueConstraint(fields=("site", "name"), name="chair_unique_name"),
        ),
        migrations.AddConstraint(
            model_name="appointment",
            constraint=models.CheckConstraint(
                condition=models.Q(("starts_at__lt", models.F("ends_at"))),
                name="appt_start_before_end",
            ),
        ),
        migrations.AddConstraint(
            model_name="appointment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "cancelled"), _negated=True),
                fields=("course", "number"),
                name="appt_unique_number_in_course",
            ),
        ),
        migrations.AddConstraint(
            model_name="appointment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "cancelled"), _negated=True),
                    models.Q(("cancel_reason", ""), _negated=True),
                    _connector="OR",
                ),
                name="appt_cancelled_has_reason",
            ),
        ),
        migrations.AddConstraint(
            model_name="closure",
            constraint=models.UniqueConstraint(fields=("site", "date"), name="closure_unique_day"),
        ),
        migrations.AddConstraint(
            model_name="openinghours",
            constraint=models.CheckConstraint(
                condition=models.Q(("opens__lt", models.F("closes"))),
                name="hours_open_before_close",
            ),
        ),
        migrations.AddConstraint(
            model_name="openinghours",
            constraint=models.UniqueConstraint(
                fields=("site", "weekday", "opens"), name="hours_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="phasestaffing",
            constraint=models.UniqueConstraint(
                fields=("site", "phase"), name="phasestaffing_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="phasestaffing",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("patients_per_nurse__isnull", True),
                    models.Q(("patients_per_nurse__gte", 1), ("patients_per_nurse__lte", 12)),
                    _connector="OR",
                ),
                name="phasestaffing_ratio_1_to_12",
            ),
        ),
        migrations.AddIndex(
            model_name="shift",
            index=models.Index(fields=["site", "starts_at"], name="scheduling__site_id_03b343_idx"),
        ),
        migrations.AddConstraint(
            model_name="shift",
            constraint=models.CheckConstraint(
                condition=models.Q(("starts_at__lt", models.F("ends_at"))),
                name="shift_start_before_end",
            ),
        ),
        migrations.AddConstraint(
            model_name="visitreminder",
            constraint=models.UniqueConstraint(
                fields=("appointment", "hours_before", "visit_starts_at"),
                name="visitreminder_once_per_visit_time",
            ),
        ),
        migrations.RunPython(no_overlaps, no_overlaps_reverse),
    ]
