import datetime as dt
from collections.abc import Iterable
from typing import ClassVar

from django.db import models
from django.db.models import F, Q

from sustain.accounts.enums import Channel
from sustain.accounts.models import Site, User
from sustain.care.enums import (
    COURSE_KINDS,
    REVIEW_DECISIONS,
    REVIEW_KINDS,
    AlertKind,
    AlertStatus,
    AllergySeverity,
    AssessmentSource,
    Condition,
    ContactChannel,
    CourseStatus,
    ReviewDecision,
    Sex,
    Timepoint,
)
from sustain_core import clinic_rules, dosing, instruments, medications, protocols

ACTIVE_COURSE_STATUSES = (
    CourseStatus.REFERRED,
    CourseStatus.SCREENING,
    CourseStatus.READY,
    CourseStatus.PAUSED,
    CourseStatus.INDUCTION,
    CourseStatus.REVIEW,
    CourseStatus.MAINTENANCE,
    CourseStatus.RELAPSED,
)


class ClinicProtocol(models.Model):
    """A clinic's own immutable version of a protocol, copied from the library or a previous
    version and edited (issue 4). `data` is sustain_core.protocols.protocol_to_dict's shape;
    its key is "<library key>-site<site id>", so clinics never collide with each other or the
    library.
    """

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="protocols")
    key = models.CharField(max_length=80)
    version = models.PositiveIntegerField()
    data = models.JSONField()
    based_on_key = models.CharField(max_length=80)
    based_on_version = models.PositiveIntegerField()
    change_note = models.TextField()
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["key", "version"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["key", "version"], name="clinic_protocol_version"),
        ]


class Patient(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients")
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    # The postal address the dispensing record names with each administration [CFR1304.22];
    # blank until recorded (the ledger report then says so, never guesses).
    address = models.TextField(max_length=300, blank=True)
    # The indication the program treats; blank: not yet assessed (a patient imported from
    # another system, sustain fhir-import). Registration asks for it; enrolment needs it.
    primary_condition = models.CharField(max_length=20, choices=Condition.choices, blank=True)
    # For ideal/adjusted dosing weights (the site's clinic rules); optional otherwise.
    height_cm = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    # The medical record number, unique per site (issue 13): the site's prefix and its next
    # number (care.services.next_mrn), assigned at registration and never changed.
    mrn = models.CharField("MRN", max_length=20)
    emergency_contact_name = models.CharField(max_length=100, blank=True)
    emergency_contact_relation = models.CharField(max_length=60, blank=True)
    emergency_contact_phone = models.CharField(max_length=40, blank=True)
    # Who usually takes the patient home: discharge after an infusion needs an escort.
    escort_name = models.CharField(max_length=100, blank=True)
    escort_phone = models.CharField(max_length=40, blank=True)
    contact_channel = models.CharField(
        "Preferred contact", max_length=10, choices=ContactChannel.choices, blank=True
    )
    # "No known allergies", stated explicitly (who and when); None: not stated. Cleared when an
    # allergy is recorded.
    no_known_allergies_at = models.DateTimeField(null=True, blank=True)
    no_known_allergies_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering: ClassVar = ["family_name", "given_name", "pk"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["site", "mrn"], name="patient_mrn_per_site"),
            models.CheckConstraint(condition=~Q(mrn=""), name="patient_has_mrn"),
            models.CheckConstraint(
                condition=Q(height_cm__isnull=True)
                | Q(height_cm__gte=dosing.HEIGHT_CM_MIN, height_cm__lte=dosing.HEIGHT_CM_MAX),
                name="patient_height_plausible",
            ),
        ]
        # The patient list's two orders (care.queries.PATIENT_ORDERS) per site, so a page of
        # 10,000 patients is found in the index alone, never reading their rows; the second
        # also finds a date of birth (the search, the duplicate check at registration).
        indexes: ClassVar = [
            models.Index(
                fields=["site", "family_name", "given_name", "id"], name="patient_by_name"
            ),
            models.Index(
                fields=["site", "date_of_birth", "family_name", "given_name", "id"],
                name="patient_by_birth",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name}"

    def message_address(self) -> tuple[Channel, str] | None:
        """Where a message (a visit reminder) reaches the patient: the channel they prefer
        when its address is recorded; none when they asked for no messages or a phone call;
        not stated, their e-mail, else their phone by text message."""
        by_channel = {ContactChannel.EMAIL: (Channel.EMAIL, self.email),
                      ContactChannel.SMS: (Channel.SMS, self.phone)}  # fmt: skip
        if self.contact_channel in {ContactChannel.NONE, ContactChannel.PHONE}:
            return None
        if self.contact_channel:
            channel, to = by_channel[ContactChannel(self.contact_channel)]
            return (channel, to) if to else None
        for channel, to in by_channel.values():
            if to:
                return channel, to
        return None


class PatientIdentifier(models.Model):
    """An identifier another system gave the patient (FHIR Patient.identifier: system and
    value), kept when the patient was imported (sustain fhir-import) so a second import of the
    same record finds the patient instead of registering them again. Unique per site."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="identifiers")
    system = models.CharField(max_length=255)
    value = models.CharField(max_length=255)
    created_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["pk"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["site", "system", "value"], name="patient_identifier_per_site"
            ),
            models.CheckConstraint(condition=~Q(value=""), name="patient_identifier_has_value"),
        ]

    def __str__(self) -> str:
        return f"{self.system}|{self.value}"


class RecordedCondition(models.Model):
    """A condition another system recorded for the patient (its problem list or an encounter
    diagnosis: FHIR R4 Condition, http://hl7.org/fhir/R4/condition.html), taken as it was
    coded there: its code is the source's data (SNOMED CT, ICD-10-CM, …), not a code Sustain
    assigns. Not the program's indication (Patient.primary_condition). Never edited: a second
    import of the same source resource (`source_id`) changes nothing."""

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="recorded_conditions"
    )
    source_id = models.CharField(max_length=64, help_text="The resource id in the source")
    code_system = models.CharField(max_length=255, blank=True)
    code = models.CharField(max_length=64, blank=True)
    display = models.CharField(max_length=255, blank=True)
    text = models.CharField(max_length=255, blank=True)
    category = models.CharField(max_length=40, blank=True)  # condition-category code
    clinical_status = models.CharField(max_length=20, blank=True)  # condition-clinical code
    verification_status = models.CharField(max_length=20, blank=True)  # condition-ver-status
    onset = models.DateTimeField(null=True, blank=True)
    abatement = models.DateTimeField(null=True, blank=True)
    recorded_date = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering: ClassVar = ["-onset", "pk"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["patient", "source_id"], name="recorded_condition_per_source"
            ),
            models.CheckConstraint(
                condition=~Q(code="") | ~Q(text=""), name="recorded_condition_coded_or_named"
            ),
        ]

    def __str__(self) -> str:
        return self.display or self.text or self.code


class MrnSequence(models.Model):
    """The last MRN number a site gave (care.services.next_mrn locks this row, so two
    registrations at once never take the same number)."""

    site = models.OneToOneField(Site, on_delete=models.PROTECT, related_name="+")
    last = models.PositiveIntegerField(default=0)


class PatientRevision(models.Model):
    """A correction of a patient's demographics or contacts (issue 13): who, when, why, and
    each field's old and new value ({field: [old, new]}, as text)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="revisions")
    changes = models.JSONField()
    reason = models.TextField()
    changed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["-changed_at", "-pk"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=~Q(reason=""), name="patient_revision_has_reason"),
        ]


class Allergy(models.Model):
    """An allergy on the patient's chart (issue 13): never deleted; removed with who, when and
    why, and kept."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="allergies")
    substance = models.CharField(max_length=100)
    reaction = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=10, choices=AllergySeverity.choices)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    removed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_reason = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar = ["substance", "pk"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=~Q(substance=""), name="allergy_named"),
            models.CheckConstraint(
                condition=Q(removed_at__isnull=True, removed_by__isnull=True, removed_reason="")
                | (Q(removed_at__isnull=False, removed_by__isnull=False) & ~Q(removed_reason="")),
                name="allergy_removal_whole",
            ),
        ]

    def __str__(self) -> str:
        return self.substance


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


def _current_on(day: dt.date) -> Q:
    """Taken on `day`: started by then (or the start not known) and not stopped before it (one
    stopped that day may have been taken that morning)."""
    return (Q(started_on__isnull=True) | Q(started_on__lte=day)) & (
        Q(stopped_on__isnull=True) | Q(stopped_on__gte=day)
    )


class MedicationQuerySet(models.QuerySet["Medication"]):
    def current_on(self, day: dt.date) -> "MedicationQuerySet":
        """The medications taken on `day` (_current_on)."""
        return self.filter(_current_on(day))

    def with_current(self, day: dt.date) -> "MedicationQuerySet":
        """Every medication, each with `current`: whether it is taken on `day`."""
        return self.annotate(
            current=models.ExpressionWrapper(_current_on(day), output_field=models.BooleanField())
        )


class Medication(models.Model):
    """A medication on the patient's list: an ingredient of sustain_core.medications' table
    (with its RxNorm ingredient code where one was verified) or a name as typed; the dose and
    notes as text; when it started and stopped, and who recorded each. Never deleted: a
    medication is stopped."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="medications")
    name = models.CharField(max_length=medications.NAME_MAX_CHARACTERS)
    rxcui = models.CharField(
        max_length=12, blank=True, help_text="RxNorm ingredient code; blank: matched by name"
    )
    dose = models.CharField(max_length=300, blank=True, help_text="Dose and notes")
    started_on = models.DateField(null=True, blank=True, help_text="None: not known")
    stopped_on = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    stopped_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    stop_recorded_at = models.DateTimeField(null=True, blank=True)

    objects = MedicationQuerySet.as_manager()
    # Set only on rows read through MedicationQuerySet.with_current(day).
    current: bool

    class Meta:
        ordering: ClassVar = ["name", "pk"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=~Q(name=""), name="medication_named"),
            models.CheckConstraint(
                condition=Q(
                    stopped_on__isnull=True,
                    stopped_by__isnull=True,
                    stop_recorded_at__isnull=True,
                )
                | Q(
                    stopped_on__isnull=False,
                    stopped_by__isnull=False,
                    stop_recorded_at__isnull=False,
                ),
                name="medication_stop_recorded_whole",
            ),
            models.CheckConstraint(
                condition=Q(started_on__isnull=True)
                | Q(stopped_on__isnull=True)
                | Q(stopped_on__gte=F("started_on")),
                name="medication_stops_after_it_starts",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def drugs(self) -> tuple[medications.Drug, ...]:
        """The table's drugs it contains (by its code, else by its name)."""
        return medications.drugs_in(rxcui=self.rxcui or None, name=self.name)

    @property
    def interactions(self) -> tuple[medications.Interaction, ...]:
        return medications.interactions_of(self.drugs)


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
    paused_from = models.CharField(max_length=20, choices=CourseStatus.choices, blank=True)
    # The dose after titration (per-session regimens); None: the protocol's own dose.
    dose_mg_per_kg = models.DecimalField(max_digits=4, decimal_places=3, null=True, blank=True)
    # A dose above the protocol's titration cap that one prescriber proposed and a second,
    # different one must co-sign before it applies (care.services.set_course_dose,
    # cosign_course_dose); None: nothing waits.
    dose_proposed_mg_per_kg = models.DecimalField(
        max_digits=4, decimal_places=3, null=True, blank=True
    )
    dose_proposed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dose_proposed_reason = models.TextField(blank=True)
    ended_reason = models.TextField(blank=True, help_text="Why it was discontinued")
    # The induction's infusions in all after a prescriber extended the series
    # (sustain.scheduling.extension); None: the protocol's own count.
    extended_to = models.PositiveSmallIntegerField(null=True, blank=True)
    # When the protocol's futility checkpoint was reached (its futility_after-th infusion
    # given): the first score of its outcome instrument after it is judged for the futility
    # review (care.services).
    futility_checkpoint_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions: ClassVar = [
            ("prescribe", "Prescribe: hold courses, receive their alerts, change doses")
        ]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status__in=ACTIVE_COURSE_STATUSES),
                name="one_active_course_per_patient",
                violation_error_message="The patient already has an active course.",
            ),
            models.CheckConstraint(
                condition=Q(dose_proposed_mg_per_kg__isnull=True, dose_proposed_by__isnull=True)
                | Q(dose_proposed_mg_per_kg__isnull=False, dose_proposed_by__isnull=False),
                name="course_dose_proposal_whole",
            ),
        ]

    def induction_infusions(self, protocol: protocols.Protocol) -> int:
        """The number of infusions in this course's induction: the protocol's series, or more
        once the prescriber extended it (``extended_to``)."""
        return self.extended_to or protocol.induction_infusions


class CourseTransition(models.Model):
    """One step of a course's timeline: from one phase to the next, or a dose change within a
    phase (same from and to, the change in `reason`); who, when and why."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="transitions")
    from_status = models.CharField(max_length=20, choices=CourseStatus.choices)
    to_status = models.CharField(max_length=20, choices=CourseStatus.choices)
    at = models.DateTimeField()
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar = ["at", "pk"]


class Consent(models.Model):
    """The patient's signed consent to the course's treatment (recorded by staff)."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="consents")
    signed_on = models.DateField()
    document = models.CharField(max_length=200, help_text="Form name and version, or file ref")
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["signed_on", "pk"]


class ConsentRevision(models.Model):
    """A prescriber's correction of a consent's date or document (issue 13): the values
    before it, who, when and why."""

    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, related_name="revisions")
    signed_on = models.DateField(help_text="Before the correction")
    document = models.CharField(max_length=200, help_text="Before the correction")
    reason = models.TextField()
    changed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["-changed_at", "-pk"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=~Q(reason=""), name="consent_revision_has_reason"),
        ]


class ContraindicationScreen(models.Model):
    """The protocol's contraindication checklist, answered and signed by a prescriber.

    The latest screen is the one that counts: a present absolute item blocks induction and
    every infusion; a present relative item needs the prescriber's written justification
    (held by the database too)."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="screens")
    answers = models.JSONField(help_text="{item: true when present}")
    absolute_present = models.BooleanField()
    relative_present = models.BooleanField(default=False)
    justification = models.TextField(
        blank=True, help_text="Why treating is justified despite a present relative item"
    )
    notes = models.TextField(blank=True)
    signed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["-signed_at"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(relative_present=False) | ~Q(justification=""),
                name="screen_relative_present_is_justified",
            )
        ]

    def present(self, items: Iterable[str]) -> list[str]:
        """Those of ``items`` this screen marks present, in their order."""
        return [item for item in items if self.answers.get(item)]


class CourseReview(models.Model):
    """The post-induction review: outcome summary and the chosen maintenance plan, signed."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="reviews")
    summary = models.JSONField(help_text="Scores and outcomes at review time")
    plan = models.JSONField(help_text="The chosen maintenance option, as data")
    notes = models.TextField(blank=True)
    signed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["-signed_at"]


class Assessment(models.Model):
    """A completed questionnaire; answers are kept item by item, the score as computed."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="assessments")
    course = models.ForeignKey(
        Course, null=True, on_delete=models.PROTECT, related_name="assessments"
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
    """Something a clinician must act on: a score's alert (it names the assessment) or a
    prescriber's review task on a course (it names the course; REVIEW_KINDS, once per course,
    closed with a decision). `detail` says why, with the numbers."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="alerts")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    assessment = models.ForeignKey(
        Assessment, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts"
    )
    course = models.ForeignKey(
        Course, null=True, blank=True, on_delete=models.PROTECT, related_name="tasks"
    )
    detail = models.TextField(blank=True, help_text="Why, with the numbers")
    status = models.CharField(max_length=20, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    assigned_to = models.ForeignKey(
        User, null=True, on_delete=models.PROTECT, related_name="+", help_text="The prescriber"
    )
    raised_at = models.DateTimeField()
    note = models.TextField(blank=True, help_text="What was done, written on acknowledgement")
    decision = models.CharField(
        max_length=20, choices=ReviewDecision.choices, blank=True, help_text="A review's decision"
    )
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
            ),
            # A score's alert names its score; a review task or an adverse event its course.
            models.CheckConstraint(
                condition=Q(kind__in=COURSE_KINDS, course__isnull=False)
                | (~Q(kind__in=COURSE_KINDS) & Q(assessment__isnull=False)),
                name="alert_names_its_score_or_course",
            ),
            # A review task is raised once per course.
            models.UniqueConstraint(
                fields=["course", "kind"],
                condition=Q(kind__in=REVIEW_KINDS),
                name="one_review_task_per_course",
            ),
        ]

    @property
    def is_review(self) -> bool:
        return self.kind in REVIEW_KINDS

    def decisions(self) -> list[tuple[str, str]]:
        """The decisions a review task offers, as (value, label); none for a score's alert."""
        return [(d.value, d.label) for d in REVIEW_DECISIONS.get(AlertKind(self.kind), ())]


class ClinicRules(models.Model):
    """One version of a site's own rules (sustain_core.clinic_rules): the values no source
    fixes. Versions are never changed: a change is a new version with who, when and why
    (sustain.care.rules.change_rules); each infusion record keeps the version it was dosed
    under."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="rules")
    version = models.PositiveIntegerField()
    weight_max_age_days = models.PositiveSmallIntegerField()
    baseline_max_age_days = models.PositiveSmallIntegerField()
    dosing_weight_basis = models.CharField(
        max_length=10, choices=[(b.value, b.value) for b in dosing.WeightBasis]
    )
    dosing_bmi_threshold = models.DecimalField(max_digits=3, decimal_places=1)
    qids_suicide_threshold = models.PositiveSmallIntegerField()
    madrs_suicide_threshold = models.PositiveSmallIntegerField()
    ymrs_alert_threshold = models.PositiveSmallIntegerField()
    fiqr_min_answered_per_domain = models.PositiveSmallIntegerField()
    alert_emails = models.BooleanField()
    fasting_food_hours = models.PositiveSmallIntegerField()
    fasting_clear_fluids_hours = models.PositiveSmallIntegerField()
    booster_risk_percent = models.PositiveSmallIntegerField()
    booster_risk_horizon_days = models.PositiveSmallIntegerField()
    reminder_hours = models.JSONField(help_text="Whole hours before a visit, largest first")
    visit_preparation = models.TextField()
    changed_by = models.ForeignKey(
        User, null=True, on_delete=models.PROTECT, related_name="+", help_text="None: defaults"
    )
    changed_at = models.DateTimeField()
    reason = models.TextField()

    class Meta:
        ordering: ClassVar = ["site", "-version"]
        permissions: ClassVar = [
            ("change_clinical_rules", "Change the dosing and safety rules of a site"),
            ("change_message_rules", "Change the reminder hours and preparation text of a site"),
        ]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["site", "version"], name="clinicrules_site_version"),
        ]

    def as_rules(self) -> clinic_rules.ClinicRules:
        """The rules as the core checks and applies them."""
        return clinic_rules.ClinicRules(
            weight_max_age_days=self.weight_max_age_days,
            baseline_max_age_days=self.baseline_max_age_days,
            dosing_weight_basis=dosing.WeightBasis(self.dosing_weight_basis),
            dosing_bmi_threshold=self.dosing_bmi_threshold,
            qids_suicide_threshold=self.qids_suicide_threshold,
            madrs_suicide_threshold=self.madrs_suicide_threshold,
            ymrs_alert_threshold=self.ymrs_alert_threshold,
            fiqr_min_answered_per_domain=self.fiqr_min_answered_per_domain,
            alert_emails=self.alert_emails,
            fasting_food_hours=self.fasting_food_hours,
            fasting_clear_fluids_hours=self.fasting_clear_fluids_hours,
            booster_risk_percent=self.booster_risk_percent,
            booster_risk_horizon_days=self.booster_risk_horizon_days,
            reminder_hours=tuple(self.reminder_hours),
            visit_preparation=self.visit_preparation,
        )


class BreakGlassOutcome(models.TextChoices):
    """A privacy officer's finding on an emergency access (BTG-03)."""

    APPROPRIATE = "appropriate", "Appropriate"
    INAPPROPRIATE = "inappropriate", "Inappropriate"


class BreakGlassGrant(models.Model):
    """An emergency ("break-glass") access: one clinician may read one patient outside their
    sites until `expires_at` (BTG-01, BTG-02; security-reliability-interop.md §1.6). The grant
    is also the review item: open until an auditor or clinic administrator of the patient's
    site other than the clinician records an outcome (BTG-03). sustain.care.break_glass."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="break_glass_grants")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(help_text="Why, in the clinician's words")
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Ended by hand or expired")
    expired = models.BooleanField(default=False, help_text="Ended by its time running out")
    review_outcome = models.CharField(max_length=15, choices=BreakGlassOutcome.choices, blank=True)
    review_note = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-started_at", "-pk"]
        permissions: ClassVar = [
            ("break_glass", "Open one patient outside one's sites in an emergency"),
            ("review_break_glass", "Review the emergency accesses to a site's patients"),
        ]
        constraints: ClassVar = [
            # One open grant a clinician at a time: one patient (BTG-02).
            models.UniqueConstraint(
                fields=["user"], condition=Q(ended_at__isnull=True), name="breakglass_one_open"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("started_at")), name="breakglass_expires_after_start"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="breakglass_reason"),
            # Reviewed by a second person, with an outcome, all or nothing.
            models.CheckConstraint(
                condition=Q(reviewed_by__isnull=True) | ~Q(reviewed_by=F("user")),
                name="breakglass_second_person",
            ),
            models.CheckConstraint(
                condition=(
                    Q(review_outcome="", reviewed_by__isnull=True, reviewed_at__isnull=True)
                    | (
                        Q(review_outcome__in=BreakGlassOutcome.values)
                        & Q(reviewed_by__isnull=False, reviewed_at__isnull=False)
                    )
                ),
                name="breakglass_review_whole",
            ),
        ]
