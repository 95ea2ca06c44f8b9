"""The patient page: one read that gathers what each app shows of a patient, each part through
its app's named query, which leaves out (never loads) what the user's role may not see."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Prefetch

from sustain.accounts.models import User
from sustain.care import protocol_versions
from sustain.care import queries as care_queries
from sustain.care import services as care_services
from sustain.care.models import (
    Alert,
    Consent,
    ConsentRevision,
    ContraindicationScreen,
    Course,
    CourseTransition,
    Patient,
    PatientRevision,
    WeightMeasurement,
)
from sustain.infusion import queries as infusion_queries
from sustain.portal.models import Invitation
from sustain.scheduling import queries as scheduling_queries
from sustain.scheduling.enums import AppointmentStatus
from sustain.scheduling.models import Appointment
from sustain.scheduling.services import SERIES_BOOKABLE
from sustain_core import course as course_rules
from sustain_core import maintenance, measurement, protocols
from sustain_core.errors import ClinicalValueError


@dataclass(frozen=True)
class CourseDetails:
    """The course's record for the roles that see it (care.view_course)."""

    timeline: list[CourseTransition]
    consents: list[Consent]  # each with its corrections (revisions), latest first
    screen: ContraindicationScreen | None
    # What the latest screen marks present, each listed on the course card (never a tick
    # over them), and the age the protocol asks for when the patient is younger.
    absolute_present: list[str]
    relative_present: list[str]
    under_minimum_age: int | None


@dataclass(frozen=True)
class PatientPage:
    """Everything the patient page shows; a part is None when the role may not see it."""

    patient: Patient
    course: Course | None
    protocol: protocols.Protocol | None
    weight: WeightMeasurement | None
    appointments: list[Appointment]
    next_visit: Appointment | None
    can_book_series: bool
    due: tuple[measurement.DueItem, ...]
    details: CourseDetails | None
    measures: list[care_queries.MeasureSummary] | None
    alerts: list[Alert] | None
    boosters: list[tuple[maintenance.Booster, care_queries.Visit | None]] | None
    doses: infusion_queries.DoseView | None
    invitations: list[Invitation] | None
    medications: care_queries.MedicationList | None
    allergies: care_queries.AllergyList | None
    corrections: list[PatientRevision]


def patient_page(user: User, patient_id: int, *, now: dt.datetime) -> PatientPage:
    """The patient's page for `user`: one audited read of the record (get_patient_for_user),
    then each app's part as the role allows."""
    patient = care_queries.get_patient_for_user(user, patient_id, now=now)
    tz = patient.site.tz
    course = (
        care_services.active_course(patient) or patient.courses.order_by("-enrolled_at").first()
    )
    protocol = protocol_versions.protocol_for(course) if course else None
    # Cancelled visits too: the page keeps them, struck through, with a re-book (as_visits and
    # the rest below leave them out).
    appointments = list(patient.appointments.select_related("chair", "cancelled_by"))
    visits = scheduling_queries.as_visits(appointments)
    next_visit = next((a for a in appointments if a.status == AppointmentStatus.BOOKED), None)
    assessments = care_queries.scored_assessments(user, patient)
    induction = course.induction_infusions(protocol) if course and protocol else None
    measures = (
        None
        if assessments is None
        else care_queries.measure_summaries(
            assessments, visits, protocol=protocol, tz=tz, induction_infusions=induction
        )
    )
    details = None
    if course is not None and protocol is not None and user.has_perm(care_queries.COURSE_DETAILS):
        screen = course.screens.select_related("signed_by").first()
        age = course_rules.age_years(patient.date_of_birth, now.astimezone(tz).date())
        minimum = protocol.minimum_age_years
        details = CourseDetails(
            timeline=list(course.transitions.select_related("by")),
            consents=list(
                course.consents.prefetch_related(
                    Prefetch("revisions", ConsentRevision.objects.select_related("changed_by"))
                )
            ),
            screen=screen,
            absolute_present=screen.present(protocol.contraindications_absolute) if screen else [],
            relative_present=screen.present(protocol.contraindications_relative) if screen else [],
            under_minimum_age=minimum if minimum is not None and age < minimum else None,
        )
    return PatientPage(
        patient=patient,
        course=course,
        protocol=protocol,
        weight=patient.weights.first(),
        appointments=appointments,
        next_visit=next_visit,
        can_book_series=course is not None
        and course.status in SERIES_BOOKABLE
        and not any(
            a.course_id == course.pk and a.status != AppointmentStatus.CANCELLED
            for a in appointments
        ),
        due=care_queries.due_measures(
            course, visits, care_queries.completions(patient), now=now, protocol=protocol
        ),
        details=details,
        measures=measures,
        alerts=care_queries.open_alerts(user, patient),
        boosters=None
        if measures is None
        else care_queries.due_boosters(
            course, visits, measures, today=now.astimezone(tz).date(), tz=tz
        ),
        doses=infusion_queries.dose_view(
            user,
            course,
            protocol=protocol,
            next_visit=next_visit,
            responded=measures is not None and care_queries.has_responded(measures, protocol),
        ),
        invitations=list(patient.invitations.select_related("created_by")[:5])
        if user.has_perm("portal.add_invitation")
        else None,
        medications=care_queries.medication_list(
            user, patient, day=now.astimezone(tz).date(), protocol=protocol
        ),
        allergies=care_queries.allergy_list(user, patient),
        corrections=care_queries.corrections(patient),
    )


def consent_form_for_user(
    user: User, patient_id: int, *, now: dt.datetime
) -> tuple[Patient, protocols.Protocol]:
    """The patient (an audited read, get_patient_for_user: the roles that see patients) and
    the protocol of their latest course, whose consent form is printed for them. Refused for
    a patient not enrolled: the form is the protocol's. A break-glass grant at `now` counts
    (a read)."""
    patient = care_queries.get_patient_for_user(user, patient_id, now=now)
    course = (
        care_services.active_course(patient) or patient.courses.order_by("-enrolled_at").first()
    )
    if course is None:
        raise ClinicalValueError(
            "course", "enrol the patient first: the consent form is the protocol's"
        )
    return patient, protocol_versions.protocol_for(course)


DISCHARGE = "infusion.view_infusionrecord"  # the chair-side roles hand the sheet over


def discharge_for_user(
    user: User, appointment_id: int
) -> tuple[Appointment, protocols.Protocol, Appointment | None]:
    """A visit at one of the user's sites (the chair-side roles), its course's protocol and
    the patient's next booked visit after it, for the discharge instructions. The read of the
    patient is audited."""
    visit = infusion_queries.get_visit_for_change(user, appointment_id, DISCHARGE)
    care_queries.record_patient_read(user, visit.patient)
    next_visit = (
        Appointment.objects.filter(
            patient_id=visit.patient_id,
            status=AppointmentStatus.BOOKED,
            starts_at__gte=visit.ends_at,
        )
        .order_by("starts_at")
        .first()
    )
    return visit, protocol_versions.protocol_for(visit.course), next_visit
