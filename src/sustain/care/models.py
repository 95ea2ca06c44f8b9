from typing import ClassVar

from django.db import models
from django.db.models import Q

from sustain.accounts.models import Site, User
from sustain.care.enums import (
    AlertKind,
    AlertStatus,
    AssessmentSource,
    Condition,
    CourseStatus,
    Sex,
    Timepoint,
)
from sustain_core import dosing, instruments

ACTIVE_COURSE_STATUSES = (
    CourseStatus.SCREENING,
    CourseStatus.INDUCTION,
    CourseStatus.REVIEW,
    CourseStatus.MAINTENANCE,
    CourseStatus.RELAPSED,
)


class Patient(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients")
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    primary_condition = models.CharField(max_length=20, choices=Condition.choices)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering: ClassVar = ["family_name", "given_name", "pk"]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name}"


class WeightMeasurement(models.Model):
    """A weighed body weight; doses use the latest one."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="weights")
    weight_kg = models.DecimalField(max_digits=4, decimal_places=1)
    measured_on = models.DateField()
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering: ClassVar = ["-measured_on", "-recorded_at"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(
                    weight_kg__gte=dosing.WEIGHT_KG_MIN, weight_kg__lte=dosing.WEIGHT_KG_MAX
                ),
                name="weight_kg_plausible",
            )
        ]


class Course(models.Model):
    """One patient's course on one version of a protocol (sustain_core.protocols)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="courses")
    protocol_key = models.CharField(max_length=60)
    protocol_version = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=CourseStatus.choices)
    prescriber = models.ForeignKey(
        User, null=True, on_delete=models.PROTECT, related_name="+", help_text="Receives alerts"
    )
    enrolled_at = models.DateTimeField()
    enrolled_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    # Anchors the weekly maintenance measures (sustain_core.measurement).
    maintenance_started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status__in=ACTIVE_COURSE_STATUSES),
                name="one_active_course_per_patient",
                violation_error_message="The patient already has an active course.",
            )
        ]


class Assessment(models.Model):
    """A completed questionnaire; answers are kept item by item, the score as computed."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="assessments")
    course = models.ForeignKey(
        Course, null=True, on_delete=models.PROTECT, related_name="assessments"
    )
    appointment = models.ForeignKey(
        "scheduling.Appointment", null=True, on_delete=models.PROTECT, related_name="assessments"
    )
    instrument = models.CharField(max_length=20, help_text="sustain_core.instruments code")
    timepoint = models.CharField(max_length=20, choices=Timepoint.choices)
    source = models.CharField(
        max_length=20, choices=AssessmentSource.choices, default=AssessmentSource.STAFF
    )
    completed_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        User, null=True, on_delete=models.PROTECT, related_name="+", help_text="None: the patient"
    )
    # As scored by sustain_core.instruments.score (means and FIQR are Decimal, to 0.01 at most).
    total_score = models.DecimalField(max_digits=6, decimal_places=2)
    subscales = models.JSONField(default=dict)
    severity = models.CharField(max_length=30, blank=True)
    flags = models.JSONField(default=list)

    class Meta:
        ordering: ClassVar = ["completed_at", "pk"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(total_score__gte=0), name="assessment_total_positive"
            ),
            models.CheckConstraint(
                condition=Q(source=AssessmentSource.SELF_REPORT) | Q(recorded_by__isnull=False),
                name="assessment_staff_entry_has_recorder",
            ),
        ]

    @property
    def instrument_title(self) -> str:
        return instruments.get_instrument(self.instrument).short_title


class AssessmentAnswer(models.Model):
    """One item's answer as given (items skipped by the instrument's rules have no row)."""

    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="answers")
    item = models.CharField(max_length=30, help_text="the instrument's item key")
    value = models.PositiveSmallIntegerField()

    class Meta:
        ordering: ClassVar = ["pk"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["assessment", "item"], name="one_answer_per_item"),
        ]


class Alert(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="alerts")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="alerts")
    status = models.CharField(max_length=20, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    assigned_to = models.ForeignKey(
        User, null=True, on_delete=models.PROTECT, related_name="+", help_text="The prescriber"
    )
    raised_at = models.DateTimeField()
    note = models.TextField(blank=True, help_text="What was done, written on acknowledgement")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering: ClassVar = ["-raised_at"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status=AlertStatus.OPEN, acknowledged_at__isnull=True)
                | Q(status=AlertStatus.ACKNOWLEDGED, acknowledged_at__isnull=False),
                name="alert_acknowledged_has_time",
            )
        ]


class InfusionRecord(models.Model):
    """The dose given at one infusion visit, as computed by sustain_core.dosing and confirmed."""

    appointment = models.OneToOneField(
        "scheduling.Appointment", on_delete=models.PROTECT, related_name="infusion"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="infusions")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="infusions")
    weight_kg = models.DecimalField(max_digits=4, decimal_places=1)
    mg_per_kg = models.DecimalField(max_digits=4, decimal_places=3)
    dose_mg = models.DecimalField(max_digits=8, decimal_places=4)
    vial_mg_per_ml = models.DecimalField(max_digits=4, decimal_places=1)
    drug_volume_ml = models.DecimalField(max_digits=9, decimal_places=6)
    bag_volume_ml = models.DecimalField(max_digits=6, decimal_places=1)
    infusion_minutes = models.PositiveSmallIntegerField()
    pump_rate_ml_per_h = models.DecimalField(max_digits=6, decimal_places=1)
    confirmed_at = models.DateTimeField()
    confirmed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(dose_mg__gt=0), name="infusion_dose_positive"),
            models.CheckConstraint(
                condition=Q(pump_rate_ml_per_h__gt=0), name="infusion_rate_positive"
            ),
        ]
