"""Calendar feeds (a secret, revocable iCalendar URL per patient) and visit reminders."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("care", "0013_adverse_event_permissions"),
        ("portal", "0003_invitation_kiosk_channel"),
        ("scheduling", "0005_appointment_uid_unique"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
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
                        to="portal.outboxmessage",
                    ),
                ),
            ],
            options={
                "ordering": ["sent_at", "pk"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("appointment", "hours_before", "visit_starts_at"),
                        name="visitreminder_once_per_visit_time",
                    )
                ],
            },
        ),
    ]
