"""Every change of clinical data goes through one of these functions.

Each runs in one transaction and writes one audit event in it (ARCHITECTURE: Data and time).
Bad input raises sustain_core.errors.ClinicalValueError naming the field; nothing is saved.
"""

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from functools import partial

from django.db import models, transaction

from sustain.accounts.audit import PATIENT_LINK, record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Site, User
from sustain.care import protocol_versions
from sustain.care.enums import (
    AlertKind,
    AlertStatus,
    AssessmentSource,
    CourseStatus,
    Timepoint,
)
from sustain.care.models import (
    ACTIVE_COURSE_STATUSES,
    Alert,
    Assessment,
    AssessmentAnswer,
    Consent,
    ContraindicationScreen,
    Course,
    CourseReview,
    CourseTransition,
    Patient,
    WeightMeasurement,
)
from sustain.care.rules import current_rules
from sustain.care.tasks import notify_alert
from sustain_core import clinic_rules, dosing, instruments, maintenance, outcomes, protocols
from sustain_core import course as course_rules
from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.numbers import plain

EARLIEST_DATE_OF_BIRTH = dt.date(1900, 1, 1)
INFUSING = (CourseStatus.INDUCTION, CourseStatus.MAINTENANCE, CourseStatus.RELAPSED)


def record_patient_event(
    *,
    by: User | None,
    patient: Patient,
    category: DataCategory,
    obj: models.Model,
    action: AuditAction = AuditAction.CREATE,
    unattended: str = PATIENT_LINK,
    reason: str = "",
) -> None:
    """Audit one action on one patient's record (joins the caller's transaction).

    `by` is None when the patient (through a link) or the worker acted: `unattended` names it.
    `reason` says what changed when the object alone does not (an old and a new value).
    """
    record_event(
        actor=by, username="" if by else unattended, action=action, category=category,
        site=patient.site, patient_id=patient.pk, obj=obj, reason=reason,
    )  # fmt: skip


def validate_date_of_birth(date_of_birth: dt.date, *, today: dt.date) -> None:
    """A date of birth must be a real past date (data-entry check, not a clinical rule)."""
    if date_of_birth > today:
        raise OutOfRange(
            "date_of_birth", f"date of birth {date_of_birth} is in the future (today is {today})"
        )
    if date_of_birth < EARLIEST_DATE_OF_BIRTH:
        raise OutOfRange(
            "date_of_birth", f"date of birth must be on or after {EARLIEST_DATE_OF_BIRTH}"
        )


@transaction.atomic
def register_patient(
    *,
    by: User,
    site: Site,
    given_name: str,
    family_name: str,
    date_of_birth: dt.date,
    sex: str,
    phone: str,
    email: str,
    primary_condition: str,
    weight_kg: Decimal,
    today: dt.date,
    now: dt.datetime,
    height_cm: Decimal | None = None,
) -> Patient:
    validate_date_of_birth(date_of_birth, today=today)
    dosing.validate_weight_kg(weight_kg)
    if height_cm is not None:
        dosing.validate_height_cm(height_cm)
    if not site.memberships.filter(user=by).exists():
        raise ClinicalValueError("site", f"you are not a member of {site.name}")
    patient = Patient(
        site=site,
        given_name=given_name.strip(),
        family_name=family_name.strip(),
        date_of_birth=date_of_birth,
        sex=sex,
        phone=phone.strip(),
        email=email.strip(),
        primary_condition=primary_condition,
        height_cm=height_cm,
        created_at=now,
        created_by=by,
    )
    patient.full_clean()
    patient.save(force_insert=True)
    WeightMeasurement.objects.create(
        patient=patient, weight_kg=weight_kg, measured_on=today, recorded_at=now, recorded_by=by
    )
    record_patient_event(by=by, patient=patient, category=DataCategory.DEMOGRAPHICS, obj=patient)
    return patient


@transaction.atomic
def record_weight(
    *, patient: Patient, weight_kg: Decimal, measured_on: dt.date, by: User, now: dt.datetime
) -> WeightMeasurement:
    """Record a weighed body weight (doses use the latest). Refused, naming the field, for a
    weight outside dosing's range or a date after today in the patient's site."""
    dosing.validate_weight_kg(weight_kg)
    today = now.astimezone(patient.site.tz).date()
    if measured_on > today:
        raise ClinicalValueError(
            "measured_on", f"the weight was measured on {measured_on}, after today ({today})"
        )
    weight = WeightMeasurement.objects.create(
        patient=patient,
        weight_kg=weight_kg,
        measured_on=measured_on,
        recorded_at=now,
        recorded_by=by,
    )
    record_patient_event(by=by, patient=patient, category=DataCategory.PATIENT_RECORD, obj=weight)
    return weight


@transaction.atomic
def record_height(*, patient: Patient, height_cm: Decimal, by: User) -> Patient:
    """Record the patient's height, which the BMI of an ideal or adjusted dosing weight needs
    (the site's clinic rules; sustain_core.dosing.dosing_weight_kg).

    Refused, naming ``height_cm``, outside 100–250 cm or finer than 0.1 cm (a bound against
    typing errors, not a clinical rule), or when it is the height already recorded. The audit
    event says the old and the new height.
    """
    dosing.validate_height_cm(height_cm)
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    old = patient.height_cm
    if old == height_cm:
        raise ClinicalValueError("height_cm", f"the height is already {plain(height_cm)} cm")
    patient.height_cm = height_cm
    patient.save(update_fields=["height_cm"])
    was = "none" if old is None else f"{plain(old)} cm"
    record_patient_event(
        by=by, patient=patient, category=DataCategory.DEMOGRAPHICS, obj=patient,
        action=AuditAction.UPDATE, reason=f"height: {was} → {plain(height_cm)} cm",
    )  # fmt: skip
    return patient


def active_course(patient: Patient) -> Course | None:
    return patient.courses.filter(status__in=ACTIVE_COURSE_STATUSES).first()


@transaction.atomic
def enrol_patient(
    *, patient: Patient, protocol_key: str, protocol_version: int, by: User, now: dt.datetime
) -> Course:
    """Start a course on a protocol; the patient is in screening until the series is booked."""
    protocol = protocol_versions.resolve(patient.site, protocol_key, protocol_version)
    if protocol.condition != patient.primary_condition:
        raise ClinicalValueError(
            "protocol",
            f"{protocol.title} treats {protocol.condition}; the patient's primary condition is "
            f"{patient.primary_condition}",
        )
    # Lock the patient row so two enrolments cannot both pass the check below.
    Patient.objects.select_for_update().get(pk=patient.pk)
    if active_course(patient) is not None:
        raise ClinicalValueError("protocol", "the patient already has an active course")
    course = Course.objects.create(
        patient=patient,
        protocol_key=protocol.key,
        protocol_version=protocol.version,
        status=CourseStatus.SCREENING,
        prescriber=by if by.has_perm("care.prescribe") else None,
        enrolled_at=now,
        enrolled_by=by,
    )
    record_patient_event(by=by, patient=patient, category=DataCategory.COURSE, obj=course)
    return course


def score_answers(
    rules: clinic_rules.ClinicRules, instrument: str, answers: Mapping[str, int | None]
) -> instruments.Score:
    """Score a response exactly as published (sustain_core.instruments.score), with the
    clinic's own scoring settings (the QIDS-SR16 alert threshold, the FIQR minimum)."""
    return instruments.score(
        instrument,
        answers,
        qids_suicide_threshold=rules.qids_suicide_threshold,
        madrs_suicide_threshold=rules.madrs_suicide_threshold,
        fiqr_min_answered_per_domain=rules.fiqr_min_answered_per_domain,
    )


def _alert_kinds(score: instruments.Score, previous: Assessment | None) -> list[AlertKind]:
    """Which alerts a new score raises (issue 3, item 7).

    - a positive suicide item: PHQ-9 item 9 above 0 [Kroenke2001] (an implementation
      requirement, unconfirmed as a published rule: clinical-facts §7), QIDS-SR16 item 12 or
      MADRS item 10 at or above the clinic's threshold, or C-SSRS item 2 (active suicidal
      thoughts) yes;
    - C-SSRS screener triage moderate or high ([CSSRS-summary], secondary);
    - a worsening of at least the instrument's meaningful change since the previous score of
      the same instrument (PHQ-9 5 [Lowe2004], GAD-7 4 [Toussaint2020], PCL-5 10 [PCL5-qxmd],
      NRS 2 points or 30 % [Farrar2001]).
    """
    kinds = []
    if instruments.Flag.SUICIDE_ITEM_POSITIVE in score.flags:
        kinds.append(AlertKind.SUICIDE_RISK)
    if {instruments.Flag.CSSRS_MODERATE_RISK, instruments.Flag.CSSRS_HIGH_RISK} & set(score.flags):
        kinds.append(AlertKind.CSSRS_RISK)
    rules = outcomes.DEFAULT_RULES.get(score.instrument)
    if previous is not None and rules is not None and rules.has_meaningful_change:
        change = outcomes.meaningful_change(
            rules, previous=previous.total_score, current=score.total
        )
        if change > 0:
            kinds.append(AlertKind.WORSENING)
    return kinds


@transaction.atomic
def record_assessment(
    *,
    patient: Patient,
    instrument: str,
    answers: Mapping[str, int | None],
    timepoint: Timepoint,
    by: User | None,
    completed_at: dt.datetime,
    now: dt.datetime,
    source: AssessmentSource = AssessmentSource.STAFF,
) -> Assessment:
    """Score a questionnaire exactly as published and store it item by item, with its alerts.

    Scoring: sustain_core.instruments.score (sources on each instrument). A refused answer
    raises InvalidAnswer naming the item; nothing is saved. `by` is None only for the
    patient's own self-report.
    """
    rules = current_rules(patient.site).as_rules()
    score = score_answers(rules, instrument, answers)
    previous = patient.assessments.filter(instrument=instrument).order_by("completed_at").last()
    course = active_course(patient)
    assessment = Assessment.objects.create(
        patient=patient,
        course=course,
        instrument=instrument,
        timepoint=timepoint,
        source=source,
        completed_at=completed_at,
        recorded_by=by,
        total_score=Decimal(score.total),
        subscales={key: str(value) for key, value in score.subscales.items()},
        severity=score.severity or "",
        flags=list(score.flags),
    )
    AssessmentAnswer.objects.bulk_create(
        AssessmentAnswer(assessment=assessment, item=key, value=value)
        for key, value in answers.items()
        if value is not None
    )
    for kind in _alert_kinds(score, previous):
        alert = Alert.objects.create(
            patient=patient,
            kind=kind,
            assessment=assessment,
            assigned_to=course.prescriber if course else None,
            raised_at=now,
        )
        record_patient_event(by=by, patient=patient, category=DataCategory.ALERT, obj=alert)
        if rules.alert_emails:
            transaction.on_commit(partial(notify_alert.enqueue, alert_id=alert.pk))
    record_patient_event(
        by=by, patient=patient, category=DataCategory.QUESTIONNAIRE, obj=assessment
    )
    return assessment


@transaction.atomic
def acknowledge_alert(*, alert: Alert, by: User, note: str, now: dt.datetime) -> Alert:
    """Close an alert with a note of what was done (required)."""
    if not note.strip():
        raise ClinicalValueError("note", "write what was done before acknowledging the alert")
    updated = Alert.objects.filter(pk=alert.pk, status=AlertStatus.OPEN).update(
        status=AlertStatus.ACKNOWLEDGED,
        acknowledged_at=now,
        acknowledged_by=by,
        note=note.strip(),
    )
    if not updated:
        raise ClinicalValueError("alert", "this alert was already acknowledged")
    alert.refresh_from_db()
    record_patient_event(
        by=by,
        patient=alert.patient,
        category=DataCategory.ALERT,
        obj=alert,
        action=AuditAction.UPDATE,
    )
    return alert


def course_facts(
    course: Course, *, today: dt.date, infusions_given: int | None
) -> course_rules.CourseFacts:
    """What the course's transition guards look at (sustain_core.course), from the database.

    The infusions given are counted by the caller (the infusion record sits above care);
    None when the move is not to review, the one guard that needs them.
    """
    protocol = protocol_versions.protocol_for(course)
    screen = course.screens.first()
    rules = current_rules(course.patient.site).as_rules()
    # A baseline counts if taken within the clinic's rule's days (sustain_core.clinic_rules).
    since = today - dt.timedelta(days=rules.baseline_max_age_days)
    measured = set(
        course.patient.assessments.filter(completed_at__date__gte=since).values_list(
            "instrument", flat=True
        )
    )
    weight = course.patient.weights.first()
    return course_rules.CourseFacts(
        consent_signed=course.consents.exists(),
        contraindication_screen_signed_by_prescriber=screen is not None
        and not screen.absolute_present,
        baseline_measures_missing=tuple(
            code for code in protocol.baseline_measures if code not in measured
        ),
        weight_measured_on=weight.measured_on if weight else None,
        weight_max_age_days=rules.weight_max_age_days,
        induction_infusions_given=infusions_given,
        induction_infusions_planned=protocol.induction_infusions,
        review_signed_by_prescriber=course.reviews.exists(),
        today=today,
    )


@transaction.atomic
def change_course_status(
    *,
    course: Course,
    status: CourseStatus,
    by: User,
    at: dt.datetime,
    reason: str = "",
    infusions_given: int | None = None,
) -> Course:
    """Move a course to its next phase if the lifecycle's guards allow it (sustain_core.course).

    Writes the timeline row and the audit event; entering maintenance starts its weekly
    measures; pausing remembers the phase to resume; discontinuing keeps the reason. A move to
    review needs `infusions_given` (sustain.infusion.queries.infusions_given).
    """
    course = Course.objects.select_for_update().select_related("patient__site").get(pk=course.pk)
    today = at.astimezone(course.patient.site.tz).date()
    course_rules.check_transition(
        course_rules.Phase(course.status),
        course_rules.Phase(status),
        course_facts(course, today=today, infusions_given=infusions_given),
        reason=reason,
    )
    if course.status == CourseStatus.PAUSED and course.paused_from not in {"", status}:
        raise ClinicalValueError(
            "status",
            f"a paused course resumes to {CourseStatus(course.paused_from).label}, "
            f"the phase it left",
        )
    CourseTransition.objects.create(
        course=course, from_status=course.status, to_status=status, at=at, by=by, reason=reason
    )
    fields = ["status"]
    if status == CourseStatus.PAUSED:
        course.paused_from = course.status
        fields.append("paused_from")
    if status == CourseStatus.DISCONTINUED:
        course.ended_reason = reason.strip()
        fields.append("ended_reason")
    if status == CourseStatus.MAINTENANCE and course.maintenance_started_at is None:
        course.maintenance_started_at = at
        fields.append("maintenance_started_at")
    course.status = status
    course.save(update_fields=fields)
    record_patient_event(
        by=by,
        patient=course.patient,
        category=DataCategory.COURSE,
        obj=course,
        action=AuditAction.UPDATE,
    )
    return course


def next_phases(course: Course) -> list[CourseStatus]:
    """The phases the lifecycle allows from here (guards are checked when one is chosen)."""
    allowed = course_rules.allowed_transitions(course_rules.Phase(course.status))
    return [CourseStatus(p.value) for p in course_rules.Phase if p in allowed]


@transaction.atomic
def record_consent(
    *, course: Course, signed_on: dt.date, document: str, by: User, now: dt.datetime
) -> Consent:
    if not document.strip():
        raise ClinicalValueError("document", "name the consent form and its version")
    if signed_on > now.date() + dt.timedelta(days=1):
        raise ClinicalValueError("signed_on", f"the consent date {signed_on} is in the future")
    consent = Consent.objects.create(
        course=course, signed_on=signed_on, document=document.strip(), recorded_by=by,
        recorded_at=now,
    )  # fmt: skip
    record_patient_event(by=by, patient=course.patient, category=DataCategory.COURSE, obj=consent)
    return consent


@transaction.atomic
def sign_contraindication_screen(
    *, course: Course, answers: Mapping[str, bool], notes: str, by: User, now: dt.datetime
) -> ContraindicationScreen:
    """A prescriber answers every contraindication the protocol lists, and signs.

    An absolute contraindication that is present blocks induction (the screen is kept).
    """
    if not by.has_perm("care.add_contraindicationscreen"):
        raise ClinicalValueError("signed_by", "a prescriber signs the contraindication screen")
    protocol = protocol_versions.protocol_for(course)
    items = [*protocol.contraindications_absolute, *protocol.contraindications_relative]
    unanswered = [item for item in items if item not in answers]
    if unanswered:
        raise ClinicalValueError("answers", f"answer every item; missing: {'; '.join(unanswered)}")
    screen = ContraindicationScreen.objects.create(
        course=course,
        answers={item: bool(answers[item]) for item in items},
        absolute_present=any(answers[item] for item in protocol.contraindications_absolute),
        notes=notes.strip(),
        signed_by=by,
        signed_at=now,
    )
    record_patient_event(by=by, patient=course.patient, category=DataCategory.COURSE, obj=screen)
    return screen


@transaction.atomic
def sign_review(
    *,
    course: Course,
    option: maintenance.MaintenanceOption | None,
    summary: Mapping[str, object],
    notes: str,
    by: User,
    now: dt.datetime,
) -> CourseReview:
    """The prescriber signs the post-induction review and chooses the maintenance plan.

    With a plan the course moves into maintenance; without one (no response) it completes.
    """
    if not by.has_perm("care.add_coursereview"):
        raise ClinicalValueError("signed_by", "a prescriber signs the review")
    course = Course.objects.select_for_update().select_related("patient__site").get(pk=course.pk)
    if course.status != CourseStatus.REVIEW:
        raise ClinicalValueError("status", "the course is not awaiting its post-induction review")
    review = CourseReview.objects.create(
        course=course,
        summary=dict(summary),
        plan=protocols.maintenance_option_to_dict(option) if option else {},
        notes=notes.strip(),
        signed_by=by,
        signed_at=now,
    )
    record_patient_event(by=by, patient=course.patient, category=DataCategory.COURSE, obj=review)
    change_course_status(
        course=course,
        status=CourseStatus.MAINTENANCE if option else CourseStatus.COMPLETED,
        by=by,
        at=now,
        reason="post-induction review",
    )
    return review


@transaction.atomic
def set_course_dose(
    *, course: Course, mg_per_kg: Decimal, reason: str, by: User, at: dt.datetime
) -> Course:
    """Set the dose of the course's next infusions (a prescriber, applying the protocol's
    titration: sustain.infusion.services.apply_titration decides it). On the timeline and
    audited."""
    if not by.has_perm("care.prescribe"):
        raise ClinicalValueError("by", "a prescriber changes the dose")
    course = Course.objects.select_for_update().select_related("patient__site").get(pk=course.pk)
    before = course.dose_mg_per_kg or protocol_versions.protocol_for(course).regimen.mg_per_kg
    course.dose_mg_per_kg = mg_per_kg
    course.save(update_fields=["dose_mg_per_kg"])
    CourseTransition.objects.create(
        course=course, from_status=course.status, to_status=course.status, at=at, by=by,
        reason=f"dose {plain(before) if before is not None else 'none'} → {plain(mg_per_kg)} mg/kg "
        f"{reason}",
    )  # fmt: skip
    record_patient_event(
        by=by, patient=course.patient, category=DataCategory.COURSE, obj=course,
        action=AuditAction.UPDATE,
    )  # fmt: skip
    return course
