"""The hand-computed cohort (tests/core/cohort_cases.py) written to the database.

Rows are made directly (the booking and chair-side services have their own tests): a patient
per case, a course, its scores, its visits (given = COMPLETED, check-in 0 minutes so the
infusion starts with the visit) and, where the case has adverse events, an infusion record
for its first infusion holding them.
"""

import datetime as dt
from decimal import Decimal

from sustain.accounts.models import Site, User
from sustain.care import rules as care_rules
from sustain.care.enums import CourseStatus, Timepoint
from sustain.care.models import Assessment, Course
from sustain.infusion.models import AdverseEvent, InfusionRecord
from sustain.scheduling.enums import AppointmentStatus
from sustain.scheduling.models import Appointment
from sustain_core import clinic_rules
from tests.core import cohort_cases
from tests.sustain import clinic_builders

FAMILY = "Cohortson"  # every patient's family name: the outcomes page must never show it


def build(
    site: Site, *, prescriber: User, nurse: User, copy: int = 1, only: str = ""
) -> dict[str, Course]:
    """Write every case at `site`; return the courses by case name. A second `copy` (other
    patients, the same dates) takes the site's second chair and saves its clinic rules as
    version 2. `only`: the names of the cases to write (all by default)."""
    chair = site.chairs.order_by("pk")[copy - 1]
    rules_row = care_rules._row(
        site, clinic_rules.DEFAULT, version=copy, reason="cohort test",
        changed_by=prescriber, changed_at=cohort_cases.T0,
    )  # fmt: skip
    rules_row.save()
    courses = {}
    for case in cohort_cases.CASES:
        if only and case.name not in only:
            continue
        patient = clinic_builders.register(
            site,
            nurse,
            f"Zed{case.name}",
            FAMILY,
            on=(cohort_cases.T0 - dt.timedelta(days=5)).date(),
        )
        course = Course.objects.create(
            patient=patient, protocol_key=case.protocol[0], protocol_version=case.protocol[1],
            status=CourseStatus.MAINTENANCE, prescriber=prescriber,
            enrolled_at=case.instant(-2), enrolled_by=prescriber,
        )  # fmt: skip
        courses[case.name] = course
        instrument = "phq9" if case.protocol == cohort_cases.DEPRESSION else "madrs"
        for day, score in case.scores:
            Assessment.objects.create(
                patient=patient, course=course, instrument=instrument,
                timepoint=Timepoint.BASELINE if day < 0 else Timepoint.FOLLOW_UP,
                completed_at=case.instant(day), recorded_by=nurse, total_score=Decimal(score),
            )  # fmt: skip
        visits = sorted(
            [(d, AppointmentStatus.COMPLETED) for d in case.given]
            + [(d, AppointmentStatus.NO_SHOW) for d in case.no_shows]
            + [(d, AppointmentStatus.CANCELLED) for d in case.cancelled]
            + [(d, AppointmentStatus.BOOKED) for d in case.booked]
        )
        first_given = None
        for number, (day, status) in enumerate(visits, start=1):
            visit = Appointment.objects.create(
                site=site, chair=chair, patient=patient, course=course, number=number,
                starts_at=case.instant(day), ends_at=case.instant(day) + cohort_cases.VISIT,
                status=status, booked_at=case.instant(-2), booked_by=nurse, check_in_minutes=0,
                cancel_reason="patient_request" if status == AppointmentStatus.CANCELLED else "",
            )  # fmt: skip
            if first_given is None and status == AppointmentStatus.COMPLETED:
                first_given = visit
        if case.adverse:
            assert first_given is not None
            record = InfusionRecord.objects.create(
                appointment=first_given, patient=patient, course=course,
                weight_kg=Decimal("64.0"), mg_per_kg=Decimal("0.5"), dose_mg=Decimal("32"),
                vial_mg_per_ml=Decimal("50"), drug_volume_ml=Decimal("0.64"),
                bag_volume_ml=Decimal("100"), infusion_minutes=40,
                pump_rate_ml_per_h=Decimal("150"), confirmed_at=first_given.starts_at,
                confirmed_by=nurse, clinic_rules=rules_row,
            )  # fmt: skip
            for severity in case.adverse:
                AdverseEvent.objects.create(
                    infusion=record, kind="nausea", severity=severity,
                    description="Nausea, settled", recorded_by=nurse,
                    recorded_at=first_given.ends_at,
                )  # fmt: skip
    return courses
