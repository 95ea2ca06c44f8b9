from typing import ClassVar

from django.db import models
from django.db.models import F, Q

from sustain.accounts.models import Site, User
from sustain.scheduling.enums import AppointmentStatus, Weekday


class OpeningHours(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering: ClassVar = ["weekday", "opens"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(opens__lt=F("closes")), name="hours_open_before_close"
            ),
            models.UniqueConstraint(fields=["site", "weekday", "opens"], name="hours_unique"),
        ]


class Closure(models.Model):
    """A day the site is closed (holiday, training)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="closures")
    date = models.DateField()
    reason = models.CharField(max_length=120)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["site", "date"], name="closure_unique_day")
        ]


class Chair(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="chairs")
    name = models.CharField(max_length=40)

    class Meta:
        ordering: ClassVar = ["name"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["site", "name"], name="chair_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Appointment(models.Model):
    """One infusion visit in a chair. Overlaps are refused by `book_series` under a lock and,
    on PostgreSQL, by exclusion constraints (migration 0002)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="appointments")
    chair = models.ForeignKey(Chair, on_delete=models.PROTECT, related_name="appointments")
    patient = models.ForeignKey(
        "care.Patient", on_delete=models.PROTECT, related_name="appointments"
    )
    course = models.ForeignKey("care.Course", on_delete=models.PROTECT, related_name="appointments")
    number = models.PositiveSmallIntegerField(help_text="Infusion number within the course")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(
        max_length=20, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    booked_at = models.DateTimeField()
    booked_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering: ClassVar = ["starts_at", "pk"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")), name="appt_start_before_end"
            ),
            models.UniqueConstraint(
                fields=["course", "number"],
                condition=~Q(status=AppointmentStatus.CANCELLED),
                name="appt_unique_number_in_course",
            ),
        ]
