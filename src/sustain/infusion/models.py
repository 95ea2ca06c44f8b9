"""The chair-side record of a visit: the dose given, adverse events, and the measures taken
at the visit (ARCHITECTURE: layer 4, above scheduling). The full infusion-day record (gate,
vitals, discharge) comes with its issue."""

from decimal import Decimal
from typing import ClassVar, cast

from django.db import models
from django.db.models import Q

from sustain.accounts.models import User
from sustain.care.models import Assessment, ClinicRules, Course, Medication, Patient
from sustain.infusion.enums import (
    AdverseEventKind,
    AdverseEventSeverity,
    EventKind,
    PregnancyTest,
    Stage,
)
from sustain.ledger.models import LedgerEntry
from sustain.scheduling.models import Appointment
from sustain_core import dosing
from sustain_core.infusion_day import VITALS_BOUNDS, Vitals


class AdverseEvent(models.Model):
    """An adverse event at an infusion (the full infusion-day record comes with its issue)."""

    infusion = models.ForeignKey(
        "InfusionRecord", on_delete=models.PROTECT, related_name="adverse_events"
    )
    kind = models.CharField(max_length=20, choices=AdverseEventKind.choices)
    severity = models.CharField(max_length=10, choices=AdverseEventSeverity.choices)
    serious = models.BooleanField(
        default=False,
        help_text="Death, life-threatening, hospitalisation or its prolongation, persistent "
        "disability, or an important medical event (21 CFR 312.32(a))",
    )
    description = models.CharField(max_length=300, blank=True)
    action_taken = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["recorded_at", "pk"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~Q(kind="other") | ~Q(description=""), name="adverse_other_described"
            ),
            # infusion.services.record_adverse_event says why.
            models.CheckConstraint(
                condition=(~Q(severity=AdverseEventSeverity.SEVERE) & Q(serious=False))
                | ~Q(description=""),
                name="adverse_severe_described",
            ),
        ]


class InfusionRecord(models.Model):
    """The dose given at one infusion visit, as computed by sustain_core.dosing and confirmed.

    ``dose_mg`` is the dose given: the drawn volume (``drug_volume_ml``, rounded to the marks of
    the syringe it was drawn in) × the vial strength; ``prescribed_mg`` the dose calculated
    before that rounding. ``bag_convention`` says whether the drug's volume was withdrawn from
    the bag first or added, ``final_volume_ml`` the bag's volume as run and
    ``pump_rate_ml_per_h`` its rate (``preparation`` says it in words). Records made before
    these were kept (issue 11) have none of them: their drug volume was neither withdrawn nor
    counted.
    """

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
    prescribed_mg = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    vial_mg_per_ml = models.DecimalField(max_digits=4, decimal_places=1)
    drug_volume_ml = models.DecimalField(max_digits=9, decimal_places=6)
    syringe_ml = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    syringe_graduation_ml = models.DecimalField(
        max_digits=4, decimal_places=2, null=True, blank=True
    )
    bag_convention = models.CharField(
        max_length=10, blank=True, choices=[(b.value, b.value) for b in dosing.BagConvention]
    )
    bag_volume_ml = models.DecimalField(max_digits=6, decimal_places=1)
    final_volume_ml = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    infusion_minutes = models.PositiveSmallIntegerField()
    pump_rate_ml_per_h = models.DecimalField(max_digits=6, decimal_places=1)
    confirmed_at = models.DateTimeField()
    confirmed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    # The site's rules the dose was computed under (weight age and basis): kept with the record.
    clinic_rules = models.ForeignKey(ClinicRules, on_delete=models.PROTECT, related_name="+")
    # The ledger's draw of this dose from a numbered container (issue 12); null only for
    # infusions recorded before the ledger, which have a lot's text on the chair-side record.
    draw = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="infusion"
    )

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
            models.CheckConstraint(
                condition=Q(
                    bag_convention="",
                    prescribed_mg__isnull=True,
                    syringe_ml__isnull=True,
                    syringe_graduation_ml__isnull=True,
                    final_volume_ml__isnull=True,
                )
                | (
                    ~Q(bag_convention="")
                    & Q(
                        prescribed_mg__isnull=False,
                        syringe_ml__isnull=False,
                        syringe_graduation_ml__isnull=False,
                        final_volume_ml__isnull=False,
                    )
                ),
                name="infusion_preparation_whole",
            ),
        ]

    @property
    def preparation(self) -> dosing.Preparation | None:
        """How the bag was made up, as the nurse was told (None: recorded before issue 11; the
        database keeps these fields all set or all empty)."""
        prescribed, final = self.prescribed_mg, self.final_volume_ml
        capacity, graduation = self.syringe_ml, self.syringe_graduation_ml
        if not self.bag_convention or None in (prescribed, final, capacity, graduation):
            return None
        return dosing.Preparation(
            vial_mg_per_ml=self.vial_mg_per_ml,
            prescribed_mg=cast(Decimal, prescribed),
            syringe=dosing.Syringe(cast(Decimal, capacity), cast(Decimal, graduation)),
            drawn_ml=self.drug_volume_ml,
            delivered_mg=self.dose_mg,
            bag=dosing.BagConvention(self.bag_convention),
            bag_volume_ml=self.bag_volume_ml,
            final_volume_ml=cast(Decimal, final),
            infusion_minutes=self.infusion_minutes,
            pump_rate_ml_per_h=self.pump_rate_ml_per_h,
        )


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


STARTED = (Stage.INFUSING, Stage.STOPPED, Stage.RECOVERING, Stage.DISCHARGED, Stage.SIGNED,
           Stage.COSIGNED)  # fmt: skip
ENDED = (Stage.RECOVERING, Stage.DISCHARGED, Stage.SIGNED, Stage.COSIGNED)
DISCHARGED = (Stage.DISCHARGED, Stage.SIGNED, Stage.COSIGNED)
SIGNED = (Stage.SIGNED, Stage.COSIGNED)


def _set_with(field: str, *others: str) -> Q:
    """Either all of these fields are set or none is (a decision is made whole)."""
    names = (field, *others)
    return Q(**{f"{name}__isnull": True for name in names}) | Q(
        **{f"{name}__isnull": False for name in names}
    )


class ChairsideRecord(models.Model):
    """The chair-side record of one visit, filled at the chair: the pre-infusion checks, a
    prescriber's decisions at the gate, the start and end of the infusion (the dose given is
    its InfusionRecord), timed vital signs and events, recovery and discharge, the nurse's
    signature and the prescriber's co-signature. Once co-signed it is locked: it changes only
    by addenda. Its stage moves as sustain_core.infusion_day allows, and the database refuses
    a stage whose facts are missing."""

    appointment = models.OneToOneField(
        Appointment, on_delete=models.PROTECT, related_name="chairside"
    )
    stage = models.CharField(max_length=20, choices=Stage.choices)
    checked_in_at = models.DateTimeField()
    checked_in_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    # The pre-infusion checks (sustain_core.infusion_day.GateFacts).
    identity_confirmed = models.BooleanField(default=False)
    last_food_at = models.DateTimeField(null=True, blank=True)
    last_clear_fluids_at = models.DateTimeField(null=True, blank=True)
    escort_present = models.BooleanField(default=False)
    no_driving_confirmed = models.BooleanField(default=False)
    pregnancy_test = models.CharField(
        max_length=20, choices=PregnancyTest.choices, default=PregnancyTest.NOT_APPLICABLE
    )
    substance_use_asked = models.BooleanField(default=False)
    substance_use = models.CharField(max_length=300, blank=True)
    medication_changes_asked = models.BooleanField(default=False)
    medication_changes = models.CharField(max_length=300, blank=True)
    # A prescriber's decisions at the gate, each with its reason.
    blood_pressure_accepted_at = models.DateTimeField(null=True, blank=True)
    blood_pressure_accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    blood_pressure_reason = models.CharField(max_length=300, blank=True)
    suicide_risk_cleared_at = models.DateTimeField(null=True, blank=True)
    suicide_risk_cleared_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    suicide_risk_note = models.CharField(max_length=300, blank=True)
    dose_reviewed_at = models.DateTimeField(null=True, blank=True)
    dose_reviewed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dose_review_note = models.CharField(max_length=300, blank=True)
    # The infusion.
    lot = models.CharField(max_length=60, blank=True, help_text="The lot of the vial drawn")
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Recovery and discharge.
    aldrete = models.PositiveSmallIntegerField(null=True, blank=True)
    dissociation_resolved = models.BooleanField(default=False)
    escort_at_discharge = models.BooleanField(default=False)
    discharged_at = models.DateTimeField(null=True, blank=True)
    discharged_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    discharge_override_reason = models.CharField(max_length=300, blank=True)
    # Signatures.
    nurse_signed_at = models.DateTimeField(null=True, blank=True)
    nurse_signed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    prescriber_signed_at = models.DateTimeField(null=True, blank=True)
    prescriber_signed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~Q(stage__in=STARTED) | Q(started_at__isnull=False, lot__gt=""),
                name="chairside_started_has_time_and_lot",
            ),
            models.CheckConstraint(
                condition=~Q(stage__in=ENDED) | Q(ended_at__isnull=False),
                name="chairside_ended_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(stage__in=DISCHARGED) | Q(discharged_at__isnull=False),
                name="chairside_discharged_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(stage__in=SIGNED) | Q(nurse_signed_at__isnull=False),
                name="chairside_signed_has_nurse",
            ),
            models.CheckConstraint(
                condition=~Q(stage=Stage.COSIGNED) | Q(prescriber_signed_at__isnull=False),
                name="chairside_cosigned_has_prescriber",
            ),
            models.CheckConstraint(
                condition=Q(aldrete__isnull=True) | Q(aldrete__lte=10),
                name="chairside_aldrete_0_to_10",
            ),
            models.CheckConstraint(
                condition=_set_with("blood_pressure_accepted_at", "blood_pressure_accepted_by"),
                name="chairside_bp_decision_whole",
            ),
            models.CheckConstraint(
                condition=_set_with("suicide_risk_cleared_at", "suicide_risk_cleared_by"),
                name="chairside_suicide_decision_whole",
            ),
            models.CheckConstraint(
                condition=_set_with("dose_reviewed_at", "dose_reviewed_by"),
                name="chairside_dose_review_whole",
            ),
        ]

    @property
    def locked(self) -> bool:
        return self.stage in SIGNED


class VitalsReading(models.Model):
    """One set of vital signs, as entered at the chair (sustain_core.infusion_day.Vitals);
    the database refuses a value outside physiological plausibility."""

    record = models.ForeignKey(ChairsideRecord, on_delete=models.PROTECT, related_name="vitals")
    taken_at = models.DateTimeField()
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    systolic_mmhg = models.PositiveSmallIntegerField()
    diastolic_mmhg = models.PositiveSmallIntegerField()
    heart_rate_bpm = models.PositiveSmallIntegerField()
    spo2_percent = models.PositiveSmallIntegerField()
    respiratory_rate_per_min = models.PositiveSmallIntegerField()

    class Meta:
        ordering: ClassVar = ["taken_at", "pk"]
        constraints: ClassVar = [
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{name}__gte": low, f"{name}__lte": high}),
                    name=f"vitals_{name}_plausible",
                )
                for name, (low, high, _, _) in VITALS_BOUNDS.items()
            ),
            models.CheckConstraint(
                condition=Q(diastolic_mmhg__lt=models.F("systolic_mmhg")),
                name="vitals_diastolic_below_systolic",
            ),
        ]

    def as_vitals(self) -> Vitals:
        return Vitals(
            systolic_mmhg=self.systolic_mmhg,
            diastolic_mmhg=self.diastolic_mmhg,
            heart_rate_bpm=self.heart_rate_bpm,
            spo2_percent=self.spo2_percent,
            respiratory_rate_per_min=self.respiratory_rate_per_min,
        )


class LastDose(models.Model):
    """When the patient last took an interacting medication of their list, asked at the
    pre-infusion gate of this visit (sustain_core.infusion_day, item last_doses); asked again,
    the row holds the latest answer (each answer is audited)."""

    record = models.ForeignKey(ChairsideRecord, on_delete=models.PROTECT, related_name="last_doses")
    medication = models.ForeignKey(Medication, on_delete=models.PROTECT, related_name="+")
    taken_at = models.DateTimeField()
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["pk"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["record", "medication"], name="one_last_dose_per_medication"
            ),
            models.CheckConstraint(
                condition=Q(taken_at__lte=models.F("recorded_at")),
                name="last_dose_not_after_it_was_recorded",
            ),
        ]


class InfusionEvent(models.Model):
    """A timed entry: the infusion stopped (and why), resumed by a prescriber, the pump rate
    changed, a medication given (with its dose), a note, or a step undone (with a reason)."""

    record = models.ForeignKey(ChairsideRecord, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField()
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    detail = models.CharField(max_length=300)

    class Meta:
        ordering: ClassVar = ["at", "pk"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=~Q(detail=""), name="event_has_detail")
        ]


class Addendum(models.Model):
    """A later note on a signed record: the record itself no longer changes."""

    record = models.ForeignKey(ChairsideRecord, on_delete=models.PROTECT, related_name="addenda")
    at = models.DateTimeField()
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()

    class Meta:
        ordering: ClassVar = ["at", "pk"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=~Q(text=""), name="addendum_has_text")
        ]
