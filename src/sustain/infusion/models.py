"""The chair-side record of a visit: the dose given, adverse events, and the measures taken
at the visit (ARCHITECTURE: layer 4, above scheduling). The full infusion-day record (gate,
vitals, discharge) comes with its issue."""

from typing import ClassVar

from django.db import models
from django.db.models import Q

from sustain.accounts.models import User
from sustain.care.models import Assessment, ClinicRules, Course, Patient
from sustain.infusion.enums import AdverseEventKind, AdverseEventSeverity
from sustain.scheduling.models import Appointment


class AdverseEvent(models.Model):
    """An adverse event at an infusion (the full infusion-day record comes with its issue)."""

    infusion = models.ForeignKey(
        "InfusionRecord", on_delete=models.PROTECT, related_name="adverse_events"
    )
    kind = models.CharField(max_length=20, choices=AdverseEventKind.choices)
    severity = models.CharField(max_length=10, choices=AdverseEventSeverity.choices)
    description = models.CharField(max_length=300, blank=True)
    action_taken = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["recorded_at", "pk"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~Q(kind="other") | ~Q(description=""), name="adverse_other_described"
            )
        ]


class InfusionRecord(models.Model):
    """The dose given at one infusion visit, as computed by sustain_core.dosing and confirmed."""

    appointment = models.OneToOneField(
        Appointment, on_delete=models.PROTECT, related_name="infusion"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="infusions")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="infusions")
    weight_kg = models.DecimalField(max_digits=4, decimal_places=1)
    # Per-session regimens record mg/kg; per-hour regimens the mg/kg/h, the rate given (at the
    # protocol's cap or below) and whether the cap applied. dose_mg is the session's total.
    mg_per_kg = models.DecimalField(max_digits=4, decimal_places=3, null=True, blank=True)
    mg_per_kg_per_h = models.DecimalField(max_digits=4, decimal_places=3, null=True, blank=True)
    dose_rate_mg_per_h = models.DecimalField(max_digits=8, decimal_places=4, null=True, blank=True)
    capped = models.BooleanField(default=False)
    dose_mg = models.DecimalField(max_digits=8, decimal_places=4)
    vial_mg_per_ml = models.DecimalField(max_digits=4, decimal_places=1)
    drug_volume_ml = models.DecimalField(max_digits=9, decimal_places=6)
    bag_volume_ml = models.DecimalField(max_digits=6, decimal_places=1)
    infusion_minutes = models.PositiveSmallIntegerField()
    pump_rate_ml_per_h = models.DecimalField(max_digits=6, decimal_places=1)
    confirmed_at = models.DateTimeField()
    confirmed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    # The site's rules the dose was computed under (weight age and basis): kept with the record.
    clinic_rules = models.ForeignKey(ClinicRules, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(dose_mg__gt=0), name="infusion_dose_positive"),
            models.CheckConstraint(
                condition=Q(pump_rate_ml_per_h__gt=0), name="infusion_rate_positive"
            ),
            models.CheckConstraint(
                condition=Q(mg_per_kg__isnull=False, mg_per_kg_per_h__isnull=True)
                | Q(
                    mg_per_kg__isnull=True,
                    mg_per_kg_per_h__isnull=False,
                    dose_rate_mg_per_h__isnull=False,
                ),
                name="infusion_one_regimen_kind",
            ),
        ]


class VisitAssessment(models.Model):
    """A questionnaire taken at a visit: the pre-infusion PHQ-9, or a clinician-rated scale
    (CADSS, MADRS) entered from the infusion record. The assessment itself is care's; the link
    lives here because a visit is scheduling's and care sits below it."""

    appointment = models.ForeignKey(
        Appointment, on_delete=models.PROTECT, related_name="visit_assessments"
    )
    assessment = models.OneToOneField(
        Assessment, on_delete=models.PROTECT, related_name="visit_link"
    )
