"""Every change of clinical data goes through one of these functions.

Each runs in one transaction and writes one audit event in it (ARCHITECTURE: Data and time).
Bad input raises sustain_core.errors.ClinicalValueError naming the field; nothing is saved.
"""

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from functools import partial
from typing import cast

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models, transaction

from sustain.accounts.audit import PATIENT_LINK, record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import Site, User
from sustain.care import protocol_versions
from sustain.care.enums import (
    REVIEW_KINDS,
    AlertKind,
    AlertStatus,
    AllergySeverity,
    AssessmentSource,
    Condition,
    ContactChannel,
    CourseStatus,
    Sex,
    Timepoint,
)
from sustain.care.models import (
    ACTIVE_COURSE_STATUSES,
    Alert,
    Allergy,
    Assessment,
    AssessmentAnswer,
    Consent,
    ConsentRevision,
    ContraindicationScreen,
    Course,
    CourseReview,
    CourseTransition,
    Medication,
    MrnSequence,
    Patient,
    PatientRevision,
    WeightMeasurement,
)
from sustain.care.rules import current_rules
from sustain.care.tasks import notify_alert
from sustain_core import (
    clinic_rules,
    dosing,
    instruments,
    maintenance,
    medications,
    outcomes,
    protocols,
)
from sustain_core import course as course_rules
from sustain_core.errors import ClinicalValueError, OutOfRange
from sustain_core.numbers import plain
from sustain_core.protocols import guardrails

EARLIEST_DATE_OF_BIRTH = dt.date(1900, 1, 1)
# A postal address fits in this many characters (the column holds it; a bound against pasting
# errors, not a rule).
ADDRESS_MAX_CHARS = 300
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


def _check_address(address: str) -> None:
    if len(address.strip()) > ADDRESS_MAX_CHARS:
        raise ClinicalValueError(
            "address", f"the address is at most {ADDRESS_MAX_CHARS} characters"
        )


class PossibleDuplicates(ClinicalValueError):
    """A registration (or a correction of a name or date of birth) refused until confirmed:
    `patients` may be the same person."""

    def __init__(self, patients: list[Patient], *, doing: str = "register") -> None:
        super().__init__(
            "confirm_duplicate",
            f"{len(patients)} patient(s) at this site may be the same person: check them, "
            f"then confirm to {doing} anyway",
        )
        self.patients = patients


def possible_duplicates(
    site: Site, *, given_name: str, family_name: str, date_of_birth: dt.date
) -> list[Patient]:
    """The site's patients who may be the one being registered (issue 13): the same family
    name and date of birth, or the same given and family name born within a day of it (a
    typing slip), names compared case-insensitively."""
    within_a_day = (date_of_birth - dt.timedelta(days=1), date_of_birth + dt.timedelta(days=1))
    return list(
        Patient.objects.filter(
            models.Q(date_of_birth=date_of_birth)
            | models.Q(given_name__iexact=given_name.strip(), date_of_birth__range=within_a_day),
            site=site,
            family_name__iexact=family_name.strip(),
        )
    )


def next_mrn(site: Site) -> str:
    """The site's next medical record number, "S<site id>-<number, 6 digits>" (issue 13):
    the site's sequence row is locked until the caller's transaction ends, so two
    registrations at once take two numbers (the database's unique (site, MRN) holds it
    too)."""
    sequence, _ = MrnSequence.objects.select_for_update().get_or_create(site=site)
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return f"S{site.pk}-{sequence.last:06d}"


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
    address: str = "",
    confirm_duplicate: bool = False,
    contacts: Mapping[str, str] | None = None,
) -> Patient:
    """Register a patient at a site the user is a member of, with the site's next MRN
    (next_mrn) and any of the CONTACT_FIELDS in `contacts` (checked as correct_patient checks
    them). Refused (PossibleDuplicates, nothing saved) while the site has a possible duplicate
    (possible_duplicates), unless `confirm_duplicate`."""
    if unknown := sorted(set(contacts or {}) - set(CONTACT_FIELDS)):
        raise ClinicalValueError(unknown[0], f"{unknown[0]} is not a contact")
    contact_values = {
        name: _clean_detail(name, value, today=today) for name, value in (contacts or {}).items()
    }
    validate_date_of_birth(date_of_birth, today=today)
    dosing.validate_weight_kg(weight_kg)
    if height_cm is not None:
        dosing.validate_height_cm(height_cm)
    if not site.memberships.filter(user=by).exists():
        raise ClinicalValueError("site", f"you are not a member of {site.name}")
    _check_address(address)
    if not confirm_duplicate and (
        duplicates := possible_duplicates(
            site, given_name=given_name, family_name=family_name, date_of_birth=date_of_birth
        )
    ):
        raise PossibleDuplicates(duplicates)
    patient = Patient(
        site=site,
        mrn=next_mrn(site),
        given_name=given_name.strip(),
        family_name=family_name.strip(),
        date_of_birth=date_of_birth,
        sex=sex,
        phone=phone.strip(),
        email=email.strip(),
        address=address.strip(),
        primary_condition=primary_condition,
        height_cm=height_cm,
        created_at=now,
        created_by=by,
        **contact_values,
    )
    _check_channel(patient)
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
def record_height(*, patient: Patient, height_cm: Decimal, by: User, now: dt.datetime) -> Patient:
    """Record the patient's height, which the BMI of an ideal or adjusted dosing weight needs
    (the site's clinic rules; sustain_core.dosing.dosing_weight_kg).

    Refused, naming ``height_cm``, outside 100–250 cm or finer than 0.1 cm (a bound against
    typing errors, not a clinical rule), or when it is the height already recorded. The old
    height is kept as a correction (PatientRevision); the audit event says the old and the new.
    """
    dosing.validate_height_cm(height_cm)
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    old = patient.height_cm
    if old == height_cm:
        raise ClinicalValueError("height_cm", f"the height is already {plain(height_cm)} cm")
    patient.height_cm = height_cm
    patient.save(update_fields=["height_cm"])
    _keep_revision(patient, {"height_cm": (old, height_cm)}, "height measured", by=by, now=now)
    was = "none" if old is None else f"{plain(old)} cm"
    record_patient_event(
        by=by, patient=patient, category=DataCategory.DEMOGRAPHICS, obj=patient,
        action=AuditAction.UPDATE, reason=f"height: {was} → {plain(height_cm)} cm",
    )  # fmt: skip
    return patient


@transaction.atomic
def record_indication(
    *, patient: Patient, primary_condition: str, by: User, now: dt.datetime
) -> Patient:
    """Record the indication of a patient who has none yet (one taken in by `sustain
    fhir-import`, "not yet assessed"): a prescriber's assessment (care.prescribe), kept as a
    revision and audited. Refused, naming ``primary_condition``, for a condition the program
    does not treat, or once an indication is recorded (registration records it; changing it is
    not this action)."""
    if not by.has_perm("care.prescribe"):
        raise ClinicalValueError("primary_condition", "a prescriber records the indication")
    if primary_condition not in Condition.values:
        allowed = ", ".join(str(label) for label in Condition.labels)
        raise ClinicalValueError("primary_condition", f"the indication is one of: {allowed}")
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.primary_condition:
        raise ClinicalValueError(
            "primary_condition",
            f"the indication is already recorded: {patient.get_primary_condition_display()}",
        )
    patient.primary_condition = primary_condition
    patient.save(update_fields=["primary_condition"])
    _keep_revision(
        patient, {"primary_condition": ("", primary_condition)}, "indication assessed", by=by,
        now=now,
    )  # fmt: skip
    record_patient_event(
        by=by, patient=patient, category=DataCategory.PATIENT_RECORD, obj=patient,
        action=AuditAction.UPDATE, reason="indication recorded",
    )  # fmt: skip
    return patient


@transaction.atomic
def record_address(*, patient: Patient, address: str, by: User, now: dt.datetime) -> Patient:
    """Record the patient's postal address, which the controlled-substance dispensing record
    names with each administration [CFR1304.22]. Refused, naming ``address``, when blank,
    longer than ADDRESS_MAX_CHARS or the address already recorded. The old address is kept as
    a correction (PatientRevision); audited as a change of demographics (the address itself is
    not written to the audit trail)."""
    address = address.strip()
    if not address:
        raise ClinicalValueError("address", "enter the address")
    _check_address(address)
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.address == address:
        raise ClinicalValueError("address", "this address is already recorded")
    was = "recorded" if patient.address else "none"
    old, patient.address = patient.address, address
    patient.save(update_fields=["address"])
    _keep_revision(patient, {"address": (old, address)}, "address recorded", by=by, now=now)
    record_patient_event(
        by=by, patient=patient, category=DataCategory.DEMOGRAPHICS, obj=patient,
        action=AuditAction.UPDATE, reason=f"address: {was} → changed",
    )  # fmt: skip
    return patient


# What a correction may change (issue 13): the demographics, then the contacts.
DEMOGRAPHIC_FIELDS = (
    "given_name", "family_name", "date_of_birth", "sex", "phone", "email", "address",
    "height_cm",
)  # fmt: skip
CONTACT_FIELDS = (
    "emergency_contact_name", "emergency_contact_relation", "emergency_contact_phone",
    "escort_name", "escort_phone", "contact_channel",
)  # fmt: skip
_IDENTITY_FIELDS = {"given_name", "family_name", "date_of_birth"}


def _field(model: type[models.Model], name: str) -> models.Field:
    return cast(models.Field, model._meta.get_field(name))


def _label(name: str) -> str:
    return str(_field(Patient, name).verbose_name)


def _clean_detail(name: str, value: object, *, today: dt.date) -> object:
    """One corrected value, checked as registration checks it; refused naming the field."""
    if name == "date_of_birth":
        if not isinstance(value, dt.date):
            raise ClinicalValueError(name, "enter the date of birth as a date")
        validate_date_of_birth(value, today=today)
        return value
    if name == "height_cm":
        return None if value is None else dosing.validate_height_cm(value)  # type: ignore[arg-type]
    text = str(value or "").strip()
    if name in {"given_name", "family_name"} and not text:
        raise ClinicalValueError(name, f"the {_label(name)} cannot be blank")
    if name == "sex" and text not in Sex.values:
        raise ClinicalValueError(name, f"sex is one of {', '.join(Sex.values)}")
    if name == "contact_channel" and text and text not in ContactChannel.values:
        allowed = ", ".join(ContactChannel.values)
        raise ClinicalValueError(name, f"the preferred contact is one of {allowed}, or blank")
    if name == "email" and text:
        try:
            validate_email(text)
        except ValidationError:
            raise ClinicalValueError(name, f"{text} is not an e-mail address") from None
    longest = _field(Patient, name).max_length
    if longest is not None and len(text) > longest:
        raise ClinicalValueError(name, f"the {_label(name)} is at most {longest} characters")
    return text


def _as_text(value: object) -> str:
    return "" if value is None else plain(value) if isinstance(value, Decimal) else str(value)


def _keep_revision(
    patient: Patient, changes: Mapping[str, tuple[object, object]], reason: str, *, by: User,
    now: dt.datetime,
) -> PatientRevision:  # fmt: skip
    """Keep the old and new value of each changed field, as text, with who, when and why."""
    return PatientRevision.objects.create(
        patient=patient,
        changes={name: [_as_text(old), _as_text(new)] for name, (old, new) in changes.items()},
        reason=reason, changed_by=by, changed_at=now,
    )  # fmt: skip


def _check_channel(patient: Patient) -> None:
    """The preferred contact needs its address: a phone for text messages and calls, an
    e-mail for e-mail."""
    needs = {"sms": "phone", "phone": "phone", "email": "email"}.get(patient.contact_channel)
    if needs and not getattr(patient, needs):
        raise ClinicalValueError(
            "contact_channel",
            f"the preferred contact is {patient.get_contact_channel_display().lower()}: "
            f"record the patient's {_label(needs)} first",
        )


@transaction.atomic
def correct_patient(
    *,
    patient: Patient,
    changes: Mapping[str, object],
    reason: str,
    by: User,
    now: dt.datetime,
    confirm_duplicate: bool = False,
) -> PatientRevision:
    """Correct a patient's demographics or contacts (issue 13; who registers patients and
    prescribers: care.change_patient). The old and new value of each field that changed are
    kept as a revision row (who, when, why), listed on the patient page; audited as one
    update naming the revision (never the values).

    Each value is checked as at registration (a date of birth in the past, a height in
    dosing's range); a change of name or date of birth is checked for possible duplicates
    (PossibleDuplicates, unless `confirm_duplicate`); the preferred contact needs its address
    (a phone for text messages and calls, an e-mail for e-mail). Refused, nothing saved, for
    a field that is not editable, a blank reason, or no change at all.
    """
    if not by.has_perm("care.change_patient"):
        raise ClinicalValueError(
            "changed_by", "the front desk, an administrator or a prescriber corrects details"
        )
    if unknown := sorted(set(changes) - set(DEMOGRAPHIC_FIELDS + CONTACT_FIELDS)):
        raise ClinicalValueError(unknown[0], f"{unknown[0]} is not corrected here")
    if not reason.strip():
        raise ClinicalValueError("reason", "say why the details change")
    patient = Patient.objects.select_for_update().select_related("site").get(pk=patient.pk)
    today = now.astimezone(patient.site.tz).date()
    cleaned = {name: _clean_detail(name, value, today=today) for name, value in changes.items()}
    changed = {name: new for name, new in cleaned.items() if getattr(patient, name) != new}
    if not changed:
        raise ClinicalValueError("reason", "nothing to correct: every value is the one recorded")
    old = {name: getattr(patient, name) for name in changed}
    for name, new in changed.items():
        setattr(patient, name, new)
    _check_channel(patient)
    if _IDENTITY_FIELDS & changed.keys() and not confirm_duplicate:
        found = possible_duplicates(
            patient.site, given_name=patient.given_name, family_name=patient.family_name,
            date_of_birth=patient.date_of_birth,
        )  # fmt: skip
        if duplicates := [p for p in found if p.pk != patient.pk]:
            raise PossibleDuplicates(duplicates, doing="correct")
    patient.save(update_fields=list(changed))
    revision = _keep_revision(
        patient, {name: (old[name], new) for name, new in changed.items()}, reason.strip(),
        by=by, now=now,
    )  # fmt: skip
    record_patient_event(
        by=by, patient=patient, category=DataCategory.DEMOGRAPHICS, obj=revision,
        action=AuditAction.UPDATE, reason="details corrected",
    )  # fmt: skip
    return revision


ALLERGY_SEVERITIES = ", ".join(AllergySeverity.values)


def _check_allergies_permission(by: User) -> None:
    if not by.has_perm("care.add_allergy"):
        raise ClinicalValueError("recorded_by", "a prescriber or a nurse records allergies")


@transaction.atomic
def record_allergy(
    *, patient: Patient, substance: str, reaction: str, severity: str, by: User,
    now: dt.datetime,
) -> Allergy:  # fmt: skip
    """Put an allergy on the patient's chart (a prescriber or a nurse): the substance, the
    reaction (optional) and its severity (mild, moderate, severe or unknown). A stated "no
    known allergies" no longer holds and is cleared. Refused, naming the field, for another
    role, a blank or too long substance or reaction, another severity, or a substance already
    on the chart."""
    _check_allergies_permission(by)
    substance, reaction = substance.strip(), reaction.strip()
    if not substance:
        raise ClinicalValueError("substance", "name the substance the patient is allergic to")
    for name, text in (("substance", substance), ("reaction", reaction)):
        longest = _field(Allergy, name).max_length
        if longest is not None and len(text) > longest:
            raise ClinicalValueError(name, f"the {name} is at most {longest} characters")
    if severity not in AllergySeverity.values:
        raise ClinicalValueError("severity", f"the severity is one of {ALLERGY_SEVERITIES}")
    patient = Patient.objects.select_for_update().select_related("site").get(pk=patient.pk)
    if patient.allergies.filter(substance__iexact=substance, removed_at__isnull=True).exists():
        raise ClinicalValueError("substance", f"{substance} is already on the allergy list")
    allergy = Allergy.objects.create(
        patient=patient, substance=substance, reaction=reaction, severity=severity,
        recorded_by=by, recorded_at=now,
    )  # fmt: skip
    if patient.no_known_allergies_at is not None:
        patient.no_known_allergies_at = patient.no_known_allergies_by = None
        patient.save(update_fields=["no_known_allergies_at", "no_known_allergies_by"])
    record_patient_event(by=by, patient=patient, category=DataCategory.PATIENT_RECORD, obj=allergy)
    return allergy


@transaction.atomic
def remove_allergy(*, allergy: Allergy, reason: str, by: User, now: dt.datetime) -> Allergy:
    """Take an allergy off the chart (a prescriber or a nurse; e.g. recorded in error, or
    disproved): it is kept, removed, with who, when and why. Refused for another role, a blank
    reason or an allergy already removed."""
    if not by.has_perm("care.change_allergy"):
        raise ClinicalValueError("removed_by", "a prescriber or a nurse removes allergies")
    if not reason.strip():
        raise ClinicalValueError("reason", "say why the allergy is removed")
    allergy = Allergy.objects.select_for_update().select_related("patient__site").get(pk=allergy.pk)
    if allergy.removed_at is not None:
        raise ClinicalValueError("reason", f"{allergy.substance} was already removed")
    allergy.removed_at, allergy.removed_by, allergy.removed_reason = now, by, reason.strip()
    allergy.save(update_fields=["removed_at", "removed_by", "removed_reason"])
    record_patient_event(
        by=by, patient=allergy.patient, category=DataCategory.PATIENT_RECORD, obj=allergy,
        action=AuditAction.UPDATE,
    )  # fmt: skip
    return allergy


@transaction.atomic
def record_no_known_allergies(*, patient: Patient, by: User, now: dt.datetime) -> Patient:
    """Record that the patient has no known allergies (asked and stated: not the same as none
    recorded). Refused while an allergy is on the chart (remove it first)."""
    _check_allergies_permission(by)
    patient = Patient.objects.select_for_update().select_related("site").get(pk=patient.pk)
    if current := list(patient.allergies.filter(removed_at__isnull=True)):
        names = ", ".join(a.substance for a in current)
        raise ClinicalValueError(
            "no_known_allergies", f"the chart lists {names}: remove them first if recorded in error"
        )
    patient.no_known_allergies_at, patient.no_known_allergies_by = now, by
    patient.save(update_fields=["no_known_allergies_at", "no_known_allergies_by"])
    record_patient_event(
        by=by, patient=patient, category=DataCategory.PATIENT_RECORD, obj=patient,
        action=AuditAction.UPDATE, reason="no known allergies",
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
    if not patient.primary_condition:  # imported (sustain fhir-import), not yet assessed
        raise ClinicalValueError(
            "protocol", "the patient's indication is not yet assessed: record it first"
        )
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
        ymrs_alert_threshold=rules.ymrs_alert_threshold,
    )


def _score_alerts(
    score: instruments.Score, patient: Patient, course: Course | None, completed_at: dt.datetime
) -> list[tuple[AlertKind, str]]:
    """Which alerts a new score raises, each with its detail (issue 3, item 7; issue 11).

    - a positive suicide item: PHQ-9 item 9 above 0 [Kroenke2001] (an implementation
      requirement, unconfirmed as a published rule: clinical-facts §7), QIDS-SR16 item 12 or
      MADRS item 10 at or above the clinic's threshold, or C-SSRS item 2 (active suicidal
      thoughts) yes;
    - C-SSRS screener triage moderate or high ([CSSRS-summary], secondary);
    - a YMRS total above the clinic's threshold (mania; default 12, the remission cut-point
      [PubCompare-CADSS] used as an alert: unconfirmed);
    - a meaningful worsening (``_worsening``), for every instrument with an MCID.
    """
    alerts: list[tuple[AlertKind, str]] = []
    if instruments.Flag.SUICIDE_ITEM_POSITIVE in score.flags:
        alerts.append((AlertKind.SUICIDE_RISK, ""))
    if {instruments.Flag.CSSRS_MODERATE_RISK, instruments.Flag.CSSRS_HIGH_RISK} & set(score.flags):
        alerts.append((AlertKind.CSSRS_RISK, ""))
    if instruments.Flag.MANIA_ABOVE_THRESHOLD in score.flags:
        alerts.append((AlertKind.MANIA, ""))
    worse = _worsening(score, patient, course, completed_at)
    if worse:
        alerts.append((AlertKind.WORSENING, worse))
    return alerts


def _worsening(
    score: instruments.Score, patient: Patient, course: Course | None, completed_at: dt.datetime
) -> str:
    """Why the score is a meaningful worsening, with the numbers, or "" when it is not.

    It is compared with the previous score of the instrument, the best (lowest) score so far
    and the baseline, the last score at or before the course's first infusion
    (sustain_core.outcomes.worsenings), each by the instrument's MCID: PHQ-9 5 [Lowe2004],
    GAD-7 4 [Toussaint2020], PCL-5 10 [PCL5-qxmd], NRS 2 points or 30 % [Farrar2001], BPI-SF
    30 % [ePPOC-BPI] (sustain_core.instruments.Instrument.mcid). "So far" is the scores
    completed at or before this one, of the active course when there is one (an old course's
    best is not this course's), else of the patient; an instrument without an MCID raises none.
    """
    instrument = instruments.get_instrument(score.instrument)
    rules = outcomes.DEFAULT_RULES.get(score.instrument)
    if rules is None or instrument.mcid is None:
        return ""
    earlier = (course.assessments if course else patient.assessments).filter(
        instrument=score.instrument, completed_at__lte=completed_at
    )
    totals = list(earlier.order_by("completed_at", "pk").values_list("completed_at", "total_score"))
    if not totals:
        return ""
    first_infusion = _first_infusion_at(course) if course is not None else None
    before = [total for at, total in totals if first_infusion and at <= first_infusion]
    found = outcomes.worsenings(
        rules,
        current=score.total,
        previous=totals[-1][1],
        best=min(total for _, total in totals),
        baseline=before[-1] if before else None,
    )
    if not found:
        return ""
    changes = "; ".join(w.describe() for w in found)
    total = Decimal(score.total).normalize()
    return (
        f"{instrument.short_title} {total:f}: {changes}. Meaningful change: "
        f"{instrument.mcid.source}."
    )


def _first_infusion_at(course: Course) -> dt.datetime | None:
    """When the course's first infusion was given: its move into induction (the infusion
    record makes it as it gives infusion 1)."""
    return (
        course.transitions.filter(to_status=CourseStatus.INDUCTION)
        .order_by("at")
        .values_list("at", flat=True)
        .first()
    )


def judge_futility(
    *, course: Course, infusions_given: int, latest: Assessment | None, by: User | None,
    at: dt.datetime,
) -> Alert | None:  # fmt: skip
    """Raise the futility review when the course has not responded at the protocol's
    checkpoint (sustain_core.protocols.futility_review [Sanacora2017-medscape]), judged on
    `latest`, the score of the protocol's outcome instrument that shows the checkpoint's
    infusions (None: none does), against the course's baseline (the last score at or before
    the first infusion), by the protocol's own response fraction. Once per course."""
    protocol = protocol_versions.protocol_for(course)
    first = _first_infusion_at(course)
    baseline = (
        course.assessments.filter(instrument=protocol.instrument, completed_at__lte=first)
        .order_by("completed_at", "pk")
        .last()
        if first is not None
        else None
    )
    detail = protocols.futility_review(
        protocol,
        infusions_given=infusions_given,
        baseline_score=baseline.total_score if baseline else None,
        latest_score=latest.total_score if latest else None,
    )
    if detail is None:
        return None
    return raise_review_task(
        course=course, kind=AlertKind.FUTILITY_REVIEW, detail=detail, by=by, at=at
    )


def _judge_futility_on(assessment: Assessment, course: Course | None, by: User | None) -> None:
    """The first score of the protocol's outcome instrument after the futility checkpoint
    shows whether the checkpoint's infusions brought a response: judge it (judge_futility)."""
    checkpoint = course.futility_checkpoint_at if course else None
    if (
        course is None
        or checkpoint is None
        or course.status not in {CourseStatus.INDUCTION, CourseStatus.REVIEW}
        or assessment.completed_at <= checkpoint
    ):
        return
    protocol = protocol_versions.protocol_for(course)
    after = course.assessments.filter(
        instrument=protocol.instrument, completed_at__gt=checkpoint
    ).exclude(pk=assessment.pk)
    if assessment.instrument != protocol.instrument or after.exists():
        return
    judge_futility(
        course=course,
        infusions_given=protocol.futility_after or 0,
        latest=assessment,
        by=by,
        at=assessment.completed_at,
    )


@transaction.atomic
def reach_futility_checkpoint(*, course: Course, at: dt.datetime) -> Course:
    """Note that the course's futility checkpoint was reached at `at` (its protocol's
    futility_after-th infusion given, sustain.infusion.course_reviews): the first score of its
    outcome instrument after it is judged (record_assessment). Kept once."""
    Course.objects.filter(pk=course.pk, futility_checkpoint_at__isnull=True).update(
        futility_checkpoint_at=at
    )
    course.refresh_from_db(fields=["futility_checkpoint_at"])
    return course


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
    course = active_course(patient)
    raised = _score_alerts(score, patient, course, completed_at)
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
    for kind, detail in raised:
        alert = Alert.objects.create(
            patient=patient,
            kind=kind,
            assessment=assessment,
            detail=detail,
            assigned_to=course.prescriber if course else None,
            raised_at=now,
        )
        record_patient_event(by=by, patient=patient, category=DataCategory.ALERT, obj=alert)
        if rules.alert_emails:
            transaction.on_commit(partial(notify_alert.enqueue, alert_id=alert.pk))
    record_patient_event(
        by=by, patient=patient, category=DataCategory.QUESTIONNAIRE, obj=assessment
    )
    _judge_futility_on(assessment, course, by)
    return assessment


@transaction.atomic
def raise_review_task(
    *, course: Course, kind: AlertKind, detail: str, by: User | None, at: dt.datetime
) -> Alert | None:
    """Raise a review task for the course's prescriber (REVIEW_KINDS: the futility review, the
    end of a taper), once per course: None when it was raised before. `detail` says why, with
    the numbers. Assigned to the course's prescriber, e-mailed like any alert when the clinic
    sends alert e-mails, audited; closed by the prescriber's decision (acknowledge_alert)."""
    if kind not in REVIEW_KINDS:
        raise ClinicalValueError("kind", f"{kind} is not a review task")
    Course.objects.select_for_update().get(pk=course.pk)  # two infusions cannot both raise it
    if Alert.objects.filter(course=course, kind=kind).exists():
        return None
    alert = Alert.objects.create(
        patient=course.patient, kind=kind, course=course, detail=detail,
        assigned_to=course.prescriber, raised_at=at,
    )  # fmt: skip
    record_patient_event(
        by=by, patient=course.patient, category=DataCategory.ALERT, obj=alert, unattended="worker"
    )
    if current_rules(course.patient.site).alert_emails:
        transaction.on_commit(partial(notify_alert.enqueue, alert_id=alert.pk))
    return alert


def raise_adverse_event_alert(*, course: Course, detail: str, by: User, at: dt.datetime) -> Alert:
    """Alert the course's prescriber (or, when none is named, the site's prescribers, by
    e-mail) of a severe or serious adverse event at one of its infusions, as a score's alert
    is raised: assigned, audited, e-mailed when the clinic sends alert e-mails (care.tasks:
    the e-mail names no patient). `detail` says what happened. Called inside the adverse
    event's own transaction (infusion.services.record_adverse_event)."""
    alert = Alert.objects.create(
        patient=course.patient, kind=AlertKind.ADVERSE_EVENT, course=course, detail=detail,
        assigned_to=course.prescriber, raised_at=at,
    )  # fmt: skip
    record_patient_event(by=by, patient=course.patient, category=DataCategory.ALERT, obj=alert)
    if current_rules(course.patient.site).alert_emails:
        transaction.on_commit(partial(notify_alert.enqueue, alert_id=alert.pk))
    return alert


@transaction.atomic
def acknowledge_alert(
    *, alert: Alert, by: User, note: str, now: dt.datetime, decision: str = ""
) -> Alert:
    """Close an alert with a note of what was done (required). A review task (REVIEW_KINDS)
    is closed by a prescriber with one of its decisions (Alert.decisions: at the futility
    checkpoint continue, stop or extend); a score's alert takes no decision."""
    if not note.strip():
        raise ClinicalValueError("note", "write what was done before acknowledging the alert")
    if alert.is_review:
        if not by.has_perm("care.prescribe"):
            raise ClinicalValueError("by", "a prescriber decides a review")
        allowed = dict(alert.decisions())
        if decision not in allowed:
            names = ", ".join(label.lower() for label in allowed.values())
            raise ClinicalValueError("decision", f"choose a decision: {names}")
    elif decision:
        raise ClinicalValueError("decision", "only a review task takes a decision")
    updated = Alert.objects.filter(pk=alert.pk, status=AlertStatus.OPEN).update(
        status=AlertStatus.ACKNOWLEDGED,
        acknowledged_at=now,
        acknowledged_by=by,
        note=note.strip(),
        decision=decision,
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
    on_the_list = [
        drug
        for medication in course.patient.medications.current_on(today)
        for drug in medication.drugs
    ]
    return course_rules.CourseFacts(
        consent_signed=course.consents.exists(),
        contraindication_screen_signed_by_prescriber=screen is not None,
        absolute_contraindications=tuple(screen.present(protocol.contraindications_absolute))
        if screen
        else (),
        age_years=course_rules.age_years(course.patient.date_of_birth, today),
        minimum_age_years=protocol.minimum_age_years,
        baseline_measures_missing=tuple(
            code for code in protocol.baseline_measures if code not in measured
        ),
        weight_measured_on=weight.measured_on if weight else None,
        weight_max_age_days=rules.weight_max_age_days,
        induction_infusions_given=infusions_given,
        induction_infusions_planned=course.induction_infusions(protocol),
        review_signed_by_prescriber=course.reviews.exists(),
        today=today,
        medication_classes_missing=tuple(
            code
            for code in protocol.required_medication_classes
            if not medications.has_class(on_the_list, code)
        ),
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


def _check_consent(
    patient: Patient, *, signed_on: dt.date, document: str, now: dt.datetime
) -> None:
    """A consent names its form, and was signed between the patient's registration and today,
    both days in the patient's site (issue 13: a consent dated before registration is a typing
    error). Refused naming the field and the days allowed."""
    if not document.strip():
        raise ClinicalValueError("document", "name the consent form and its version")
    tz = patient.site.tz
    registered, today = patient.created_at.astimezone(tz).date(), now.astimezone(tz).date()
    if not registered <= signed_on <= today:
        raise OutOfRange(
            "signed_on",
            f"the consent is signed between the patient's registration on {registered} and "
            f"today, {today}; got {signed_on}",
        )


@transaction.atomic
def record_consent(
    *, course: Course, signed_on: dt.date, document: str, by: User, now: dt.datetime
) -> Consent:
    """Record that the patient signed the consent form for the course (_check_consent)."""
    _check_consent(course.patient, signed_on=signed_on, document=document, now=now)
    consent = Consent.objects.create(
        course=course, signed_on=signed_on, document=document.strip(), recorded_by=by,
        recorded_at=now,
    )  # fmt: skip
    record_patient_event(by=by, patient=course.patient, category=DataCategory.COURSE, obj=consent)
    return consent


@transaction.atomic
def correct_consent(
    *, consent: Consent, signed_on: dt.date, document: str, reason: str, by: User,
    now: dt.datetime,
) -> ConsentRevision:  # fmt: skip
    """A prescriber corrects a consent's signed date or document (issue 13), with a reason;
    the values before are kept as a revision row (who, when, why) and the change is audited.
    The new values are checked as a new consent's (_check_consent). Refused for another role,
    a blank reason or no change."""
    if not by.has_perm("care.change_consent"):
        raise ClinicalValueError("changed_by", "a prescriber corrects a consent")
    if not reason.strip():
        raise ClinicalValueError("reason", "say why the consent is corrected")
    consent = (
        Consent.objects.select_for_update()
        .select_related("course__patient__site")
        .get(pk=consent.pk)
    )
    patient = consent.course.patient
    _check_consent(patient, signed_on=signed_on, document=document, now=now)
    if (consent.signed_on, consent.document) == (signed_on, document.strip()):
        raise ClinicalValueError("reason", "nothing to correct: the date and document are the same")
    revision = ConsentRevision.objects.create(
        consent=consent, signed_on=consent.signed_on, document=consent.document,
        reason=reason.strip(), changed_by=by, changed_at=now,
    )  # fmt: skip
    consent.signed_on, consent.document = signed_on, document.strip()
    consent.save(update_fields=["signed_on", "document"])
    record_patient_event(
        by=by, patient=patient, category=DataCategory.COURSE, obj=consent,
        action=AuditAction.UPDATE, reason="consent corrected",
    )  # fmt: skip
    return revision


@transaction.atomic
def sign_contraindication_screen(
    *,
    course: Course,
    answers: Mapping[str, bool],
    notes: str,
    by: User,
    now: dt.datetime,
    justification: str = "",
) -> ContraindicationScreen:
    """A prescriber answers every contraindication the protocol lists, and signs.

    A present absolute contraindication blocks induction and every infusion (the screen is
    kept, and counts until a new one is signed: sustain_core.course, infusion_day). A present
    relative one needs the prescriber's written ``justification`` for treating (refused
    without one; the database holds the rule too).
    """
    if not by.has_perm("care.add_contraindicationscreen"):
        raise ClinicalValueError("signed_by", "a prescriber signs the contraindication screen")
    protocol = protocol_versions.protocol_for(course)
    items = [*protocol.contraindications_absolute, *protocol.contraindications_relative]
    unanswered = [item for item in items if item not in answers]
    if unanswered:
        missing = "; ".join(protocols.split_sources(item).text for item in unanswered)
        raise ClinicalValueError("answers", f"answer every item; missing: {missing}")
    relative = [item for item in protocol.contraindications_relative if answers[item]]
    if relative and not justification.strip():
        raise ClinicalValueError(
            "justification",
            "a relative contraindication is present "
            f"({'; '.join(protocols.split_sources(item).text for item in relative)}): write why "
            "treating is justified",
        )
    screen = ContraindicationScreen.objects.create(
        course=course,
        answers={item: bool(answers[item]) for item in items},
        absolute_present=any(answers[item] for item in protocol.contraindications_absolute),
        relative_present=bool(relative),
        justification=justification.strip(),
        notes=notes.strip(),
        signed_by=by,
        signed_at=now,
    )
    record_patient_event(by=by, patient=course.patient, category=DataCategory.COURSE, obj=screen)
    return screen


def absolute_contraindications(course: Course) -> tuple[str, ...]:
    """The absolute contraindications the course's latest screen marks present (none when
    it has no screen yet: the screen's own guard asks for one)."""
    screen = course.screens.first()
    if screen is None:
        return ()
    return tuple(screen.present(protocol_versions.protocol_for(course).contraindications_absolute))


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
def extend_induction(*, course: Course, to: int, reason: str, by: User, at: dt.datetime) -> Course:
    """Record that the prescriber extended the induction series to `to` infusions in all (the
    visits are booked by sustain.scheduling.extension, which checks the protocol allows it).

    From the post-induction review the course goes back to induction, whose guards are checked
    again (consent, the screen, baseline measures, a current weight); during induction the
    change is a row on the timeline. Audited."""
    if not by.has_perm("care.prescribe"):
        raise ClinicalValueError("by", "a prescriber extends the series")
    course = Course.objects.select_for_update().select_related("patient__site").get(pk=course.pk)
    if course.status not in {CourseStatus.INDUCTION, CourseStatus.REVIEW}:
        raise ClinicalValueError(
            "status",
            "the series is extended during induction or at the post-induction review; the "
            f"course is in {course.get_status_display()}",
        )
    protocol = protocol_versions.protocol_for(course)
    before = course.induction_infusions(protocol)
    if to <= before:
        raise ClinicalValueError(
            "to", f"an extension adds infusions to the {before} of the induction; got {to}"
        )
    course.extended_to = to
    course.save(update_fields=["extended_to"])
    why = f"series extended from {before} to {to} infusions: {reason}"
    if course.status == CourseStatus.REVIEW:
        change_course_status(course=course, status=CourseStatus.INDUCTION, by=by, at=at, reason=why)
        course.refresh_from_db()
        return course
    CourseTransition.objects.create(
        course=course, from_status=course.status, to_status=course.status, at=at, by=by,
        reason=why,
    )  # fmt: skip
    record_patient_event(
        by=by, patient=course.patient, category=DataCategory.COURSE, obj=course,
        action=AuditAction.UPDATE,
    )  # fmt: skip
    return course


def _dose_rules(course: Course) -> tuple[protocols.Protocol, Decimal, Decimal]:
    """The course's per-session protocol, its current dose and its titration cap (mg/kg);
    refused for a per-hour regimen, which has no per-session dose to change."""
    protocol = protocol_versions.protocol_for(course)
    cap = guardrails.titration_cap_mg_per_kg(protocol)
    if protocol.regimen.mg_per_kg is None or cap is None:
        raise ClinicalValueError(
            "mg_per_kg", f"{protocol.title} is dosed per hour: it has no per-session dose to change"
        )
    return protocol, course.dose_mg_per_kg or protocol.regimen.mg_per_kg, cap


def _name(user: User) -> str:
    return user.get_full_name() or user.get_username()


def _dose_change(course: Course, *, by: User, at: dt.datetime, reason: str) -> None:
    """One dose step on the course's timeline (same phase before and after) and its audit."""
    CourseTransition.objects.create(
        course=course, from_status=course.status, to_status=course.status, at=at, by=by,
        reason=reason,
    )  # fmt: skip
    record_patient_event(
        by=by, patient=course.patient, category=DataCategory.COURSE, obj=course,
        action=AuditAction.UPDATE,
    )  # fmt: skip


def _locked_active_course(course: Course, by: User) -> Course:
    if not by.has_perm("care.prescribe"):
        raise ClinicalValueError("by", "a prescriber changes the dose")
    course = Course.objects.select_for_update().select_related("patient__site").get(pk=course.pk)
    if course.status not in ACTIVE_COURSE_STATUSES:
        raise ClinicalValueError("status", "the course has ended: its dose no longer changes")
    return course


@transaction.atomic
def set_course_dose(
    *, course: Course, mg_per_kg: Decimal, reason: str, by: User, at: dt.datetime
) -> Course:
    """Set the dose of the course's next infusions, in mg/kg (a prescriber: the protocol's
    titration that sustain.infusion.services.apply_titration decides, or a dose they choose).

    - Above the platform ceiling for the protocol's minutes (at most 3.0 mg/kg and 2 mg/kg/h:
      sustain_core.protocols.guardrails.check_session_dose, a bound against typing errors),
      refused for everyone; so is a dose below 0.1 mg/kg (guardrails.SESSION_MG_PER_KG_MIN,
      [Andrade2017]) or finer than 0.001 mg/kg.
    - Above the protocol's titration cap (its no-response increase limit, or its starting dose
      without one: guardrails.titration_cap_mg_per_kg) and above the course's current dose,
      it is only proposed: the current dose stays until a second, different prescriber
      co-signs it (cosign_course_dose) or it is withdrawn (withdraw_course_dose).
    - Otherwise it applies now and replaces any proposal waiting.

    On the course timeline and audited. Refused for a per-hour regimen (no per-session dose)
    and for a course that has ended.
    """
    course = _locked_active_course(course, by)
    protocol, current, cap = _dose_rules(course)
    lowest = guardrails.SESSION_MG_PER_KG_MIN
    if not (
        isinstance(mg_per_kg, Decimal)
        and mg_per_kg.is_finite()
        and mg_per_kg >= lowest
        and mg_per_kg.quantize(guardrails.COURSE_DOSE_STEP_MG_PER_KG) == mg_per_kg
    ):
        raise OutOfRange(
            "mg_per_kg",
            f"the dose must be at least {lowest} mg/kg (the lowest dose reported to help "
            f"[Andrade2017]), to at most 0.001 mg/kg; got {mg_per_kg}",
        )
    guardrails.check_session_dose(
        mg_per_kg=mg_per_kg, infusion_minutes=protocol.regimen.infusion_minutes
    )
    if not reason.strip():
        raise ClinicalValueError("reason", "say why the dose changes")
    if mg_per_kg > cap and mg_per_kg > current:
        course.dose_proposed_mg_per_kg = mg_per_kg
        course.dose_proposed_by = by
        course.dose_proposed_reason = reason.strip()
        course.save(
            update_fields=["dose_proposed_mg_per_kg", "dose_proposed_by", "dose_proposed_reason"]
        )
        _dose_change(
            course, by=by, at=at,
            reason=f"dose {current} → {mg_per_kg} mg/kg proposed, above the protocol's titration "
            f"cap {cap} mg/kg: awaits a second prescriber's co-signature ({reason.strip()})",
        )  # fmt: skip
        return course
    withdrawn = course.dose_proposed_mg_per_kg
    course.dose_mg_per_kg = mg_per_kg
    course.dose_proposed_mg_per_kg, course.dose_proposed_by = None, None
    course.dose_proposed_reason = ""
    course.save(
        update_fields=[
            "dose_mg_per_kg", "dose_proposed_mg_per_kg", "dose_proposed_by",
            "dose_proposed_reason",
        ]
    )  # fmt: skip
    replaced = f"; the proposed {withdrawn} mg/kg is withdrawn" if withdrawn is not None else ""
    _dose_change(
        course, by=by, at=at, reason=f"dose {current} → {mg_per_kg} mg/kg {reason}{replaced}"
    )
    return course


@transaction.atomic
def cosign_course_dose(*, course: Course, by: User, at: dt.datetime) -> Course:
    """A second prescriber co-signs the dose another proposed above the titration cap
    (set_course_dose): it applies to the course's next infusions. The platform ceiling is
    checked again. On the timeline (by the co-signer, naming the proposer) and audited."""
    course = _locked_active_course(course, by)
    proposed, proposer = course.dose_proposed_mg_per_kg, course.dose_proposed_by
    if proposed is None or proposer is None:
        raise ClinicalValueError("dose", "no proposed dose awaits a co-signature")
    if proposer.pk == by.pk:
        raise ClinicalValueError(
            "by", "a second prescriber co-signs: not the one who proposed the dose"
        )
    protocol, current, cap = _dose_rules(course)
    guardrails.check_session_dose(
        mg_per_kg=proposed, infusion_minutes=protocol.regimen.infusion_minutes
    )
    course.dose_mg_per_kg = proposed
    course.dose_proposed_mg_per_kg, course.dose_proposed_by = None, None
    reason, course.dose_proposed_reason = course.dose_proposed_reason, ""
    course.save(
        update_fields=[
            "dose_mg_per_kg", "dose_proposed_mg_per_kg", "dose_proposed_by",
            "dose_proposed_reason",
        ]
    )  # fmt: skip
    _dose_change(
        course, by=by, at=at,
        reason=f"dose {current} → {proposed} mg/kg, above the titration cap {cap} mg/kg: "
        f"co-signed by {_name(by)}, proposed by {_name(proposer)} ({reason})",
    )  # fmt: skip
    return course


@transaction.atomic
def withdraw_course_dose(*, course: Course, reason: str, by: User, at: dt.datetime) -> Course:
    """A prescriber (the proposer or another) withdraws a proposed dose before it is
    co-signed: the current dose stays. On the timeline and audited."""
    course = _locked_active_course(course, by)
    proposed = course.dose_proposed_mg_per_kg
    if proposed is None:
        raise ClinicalValueError("dose", "no proposed dose awaits a co-signature")
    if not reason.strip():
        raise ClinicalValueError("reason", "say why the proposed dose is withdrawn")
    course.dose_proposed_mg_per_kg, course.dose_proposed_by = None, None
    course.dose_proposed_reason = ""
    course.save(
        update_fields=["dose_proposed_mg_per_kg", "dose_proposed_by", "dose_proposed_reason"]
    )
    _dose_change(
        course, by=by, at=at, reason=f"proposed dose {proposed} mg/kg withdrawn: {reason.strip()}"
    )
    return course


MEDICATION_DOSE_MAX_CHARACTERS = 300  # a bound against typing errors, not a clinical rule


@transaction.atomic
def add_medication(
    *,
    patient: Patient,
    name: str,
    dose: str,
    started_on: dt.date | None,
    by: User,
    now: dt.datetime,
) -> Medication:
    """Put a medication on the patient's list (a prescriber or a nurse).

    A name the drug table knows (sustain_core.medications.lookup: "Lorazepam", "valproate")
    is recorded as that ingredient with its RxNorm code where one was verified; any other is
    kept as typed and matched by name. Refused, naming the field, for another role, a blank
    or too long name or dose, or a start after today in the patient's site.
    """
    if not by.has_perm("care.add_medication"):
        raise ClinicalValueError("recorded_by", "a prescriber or a nurse records medications")
    name = medications.validate_name(name)
    if len(dose.strip()) > MEDICATION_DOSE_MAX_CHARACTERS:
        raise ClinicalValueError(
            "dose", f"the dose and notes are at most {MEDICATION_DOSE_MAX_CHARACTERS} characters"
        )
    today = now.astimezone(patient.site.tz).date()
    if started_on is not None and started_on > today:
        raise ClinicalValueError(
            "started_on", f"the medication was started on {started_on}, after today ({today})"
        )
    drug = medications.lookup(name)
    medication = Medication(
        patient=patient,
        name=drug.name if drug else name,
        rxcui=(drug.rxcui or "") if drug else "",
        dose=dose.strip(),
        started_on=started_on,
        recorded_by=by,
        recorded_at=now,
    )
    medication.full_clean()
    medication.save(force_insert=True)
    record_patient_event(
        by=by, patient=patient, category=DataCategory.PATIENT_RECORD, obj=medication
    )
    return medication


@transaction.atomic
def stop_medication(
    *, medication: Medication, stopped_on: dt.date, by: User, now: dt.datetime
) -> Medication:
    """Record that the patient stopped a medication on `stopped_on` (a prescriber or a nurse);
    it stays on the list as stopped. Refused, naming the field, for another role, a medication
    already stopped, or a day after today or before it started."""
    if not by.has_perm("care.change_medication"):
        raise ClinicalValueError("stopped_by", "a prescriber or a nurse stops medications")
    medication = (
        Medication.objects.select_for_update().select_related("patient__site").get(pk=medication.pk)
    )
    if medication.stopped_on is not None:
        raise ClinicalValueError(
            "stopped_on", f"{medication.name} was already stopped on {medication.stopped_on}"
        )
    today = now.astimezone(medication.patient.site.tz).date()
    if stopped_on > today:
        raise ClinicalValueError(
            "stopped_on", f"the medication cannot be stopped on {stopped_on}, after today ({today})"
        )
    if medication.started_on is not None and stopped_on < medication.started_on:
        raise ClinicalValueError(
            "stopped_on",
            f"{medication.name} was started on {medication.started_on}; it cannot stop before",
        )
    medication.stopped_on, medication.stopped_by, medication.stop_recorded_at = stopped_on, by, now
    medication.save(update_fields=["stopped_on", "stopped_by", "stop_recorded_at"])
    record_patient_event(
        by=by, patient=medication.patient, category=DataCategory.PATIENT_RECORD, obj=medication,
        action=AuditAction.UPDATE,
    )  # fmt: skip
    return medication
