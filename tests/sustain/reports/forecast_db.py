"""A site's responders for the relapse forecast, written to the database.

Each patient: a depression course (PHQ-9, 6 induction infusions on days 0, 2, 4, 7, 9, 11 as
COMPLETED visits), a baseline of 20 the day before, then a score every `every` days from day 12:
6 (a response) until the relapse day, where the score is 18 twice, 7 days apart (a confirmed
loss of response), or until `now` for those who do not relapse. Relapse days after the last
induction infusion are deterministic (numpy, seeded). Rows are made directly (bulk), as in
cohort_db.
"""

import datetime as dt
from decimal import Decimal

import numpy as np

from sustain.accounts.models import Site, User
from sustain.care.enums import CourseStatus, Timepoint
from sustain.care.models import Assessment, Course
from sustain.scheduling.enums import AppointmentStatus
from sustain.scheduling.models import Appointment
from tests.core import cohort_cases
from tests.sustain import clinic_builders

DAY = dt.timedelta(days=1)
INDUCTION = cohort_cases.INDUCTION
FAMILY = "Forecastson"


def build(
    site: Site,
    *,
    prescriber: User,
    nurse: User,
    now: dt.datetime,
    n: int = 60,
    seed: int = 1,
    scale_days: float = 120.0,
    every: int = 4,
) -> list[Course]:
    """`n` responders whose inductions started every 3 days from 40 days before `now`; those
    without a relapse by `now` are in maintenance."""
    chair = site.chairs.order_by("pk").first()
    assert chair is not None
    rng = np.random.default_rng(seed)
    starts = [now - DAY * (40 + 3 * i) for i in range(n)]
    relapses = scale_days * rng.weibull(1.5, n)
    courses = []
    scores = []
    visits = []
    for i in range(n):
        # One chair: a start day every 3 days and an hour of its own among 12 keep every
        # patient's visits apart (PostgreSQL's exclusion constraint holds them to it).
        t0 = starts[i].replace(hour=6 + i % 12, minute=0, second=0, microsecond=0)
        patient = clinic_builders.register(site, nurse, f"Zed{i}", FAMILY, on=(t0 - 5 * DAY).date())
        last = t0 + INDUCTION[-1] * DAY
        relapse_at = last + DAY * float(round(relapses[i])) + DAY
        relapsed = relapse_at + 7 * DAY <= now
        course = Course.objects.create(
            patient=patient,
            protocol_key=cohort_cases.DEPRESSION[0],
            protocol_version=cohort_cases.DEPRESSION[1],
            status=CourseStatus.RELAPSED if relapsed else CourseStatus.MAINTENANCE,
            prescriber=prescriber,
            enrolled_at=t0 - 2 * DAY,
            enrolled_by=prescriber,
        )
        courses.append(course)
        for number, day in enumerate(INDUCTION, start=1):
            visits.append(
                Appointment(
                    site=site,
                    chair=chair,
                    patient=patient,
                    course=course,
                    number=number,
                    starts_at=t0 + day * DAY,
                    ends_at=t0 + day * DAY + cohort_cases.VISIT,
                    status=AppointmentStatus.COMPLETED,
                    booked_at=t0 - 2 * DAY,
                    booked_by=nurse,
                    check_in_minutes=0,
                )
            )
        points = [(t0 - DAY, 20, Timepoint.BASELINE)]
        at = last + DAY
        while at < min(relapse_at, now):
            points.append((at, 6, Timepoint.FOLLOW_UP))
            at += every * DAY
        if relapse_at <= now:
            points.append((relapse_at, 18, Timepoint.FOLLOW_UP))
        if relapsed:
            points.append((relapse_at + 7 * DAY, 18, Timepoint.FOLLOW_UP))
        scores.extend(
            Assessment(
                patient=patient,
                course=course,
                instrument="phq9",
                timepoint=timepoint,
                completed_at=when,
                recorded_by=nurse,
                total_score=Decimal(score),
            )
            for when, score, timepoint in points
        )
    Appointment.objects.bulk_create(visits)
    Assessment.objects.bulk_create(scores)
    return courses
