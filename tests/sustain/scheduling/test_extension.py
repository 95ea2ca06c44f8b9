"""Extending the induction series for partial and late responders (issue 11, item 4): more
visits under the protocol's series rules, up to its maximum in all, refused in plain words
otherwise."""

import dataclasses
import datetime as dt

import pytest
import time_machine
from django.contrib.messages import get_messages

from sustain.accounts.models import Membership
from sustain.care import protocol_versions
from sustain.care.models import Course
from sustain.scheduling import extension
from sustain.scheduling.models import Appointment
from sustain_core import protocols, series
from sustain_core.errors import ClinicalValueError
from tests.sustain import clinic_builders as build
from tests.sustain.care.test_outcome_rules import MONDAY, REGISTERED, ptsd_course, record
from tests.sustain.infusion.test_course_reviews import depression_course, give


def director(user, site) -> None:
    """Make `user` a medical director of `site` (test setup; designation is tested in
    tests/sustain/care/test_medical_directors.py)."""
    Membership.objects.filter(user=user, site=site).update(medical_director=True)


pytestmark = pytest.mark.db
LIBRARY = protocols.PROTOCOLS[build.PROTOCOL]  # extension up to 12 [Ekstrand2022]


def after_induction(north, ada, ben, sam, *, latest: int, protocol=build.PROTOCOL):
    """A depression course (baseline PHQ-9 18) through its 6 infusions, then a PHQ-9 of
    `latest` the day after: in review."""
    patient = build.register(north, sam, "Zed", "Hart", on=REGISTERED)
    course = build.ready_for_series(
        patient, prescriber=ada, nurse=ben, now=build.at(north, REGISTERED, 10),
        phq9_total=18, gad7_total=12, protocol=protocol,
    )  # fmt: skip
    visits = build.book_series(
        course, sam, first=build.at(north, MONDAY, 8), now=build.at(north, REGISTERED, 11)
    )
    give(visits, ben, ada, phq9=latest)
    day_after = visits[-1].ends_at + dt.timedelta(days=1)
    record(patient, ben, "phq9", latest, day_after)
    course.refresh_from_db()
    assert course.status == "review"
    return course, visits, day_after


def test_a_partial_responder_is_extended_from_the_review(login, north, ada, ben, sam, stocked):
    """PHQ-9 18 → 13 (−27.8 %): a partial response. Three more visits are booked under the
    protocol's rules (48 h apart, at most 3 a week, within 21 days), the course goes back to
    induction, and it reaches its review again only after infusion 9."""
    course, visits, day_after = after_induction(north, ada, ben, sam, latest=13)

    with time_machine.travel(day_after, tick=False):
        response = login(ada).post(f"/patients/{course.patient_id}/extend/", {"extra": "3"})

    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Series extended: 3 more visits booked."
    ]
    course.refresh_from_db()
    added = list(course.appointments.filter(number__gt=6).order_by("number"))
    assert (course.status, course.extended_to, [a.number for a in added]) == (
        "induction", 9, [7, 8, 9]
    )  # fmt: skip
    assert course.transitions.last().reason == (
        "series extended from 6 to 9 infusions: partial response on PHQ-9 (-27.8 % from baseline)"
    )
    starts = [v.starts_at for v in visits] + [a.starts_at for a in added]
    everything = dataclasses.replace(
        LIBRARY.series, count=9, max_span=starts[-1] - starts[0] + LIBRARY.visit_length
    )
    assert series.check_series(everything, starts, tz=north.tz) == []
    assert added[0].starts_at - visits[-1].starts_at >= LIBRARY.series.min_gap
    assert added[-1].ends_at - added[0].starts_at <= LIBRARY.series.max_span

    give(added[:2], ben, ada, phq9=12)
    course.refresh_from_db()
    assert course.status == "induction"
    give(added[2:], ben, ada, phq9=12)
    course.refresh_from_db()
    assert course.status == "review"  # after infusion 9, the extended induction's last


def test_a_late_responder_is_extended_up_to_the_maximum_only(north, ada, ben, sam, stocked):
    """No response yet (18 → 16): late responders may continue [Shiroma2014], up to 12 in all."""
    course, _, day_after = after_induction(north, ada, ben, sam, latest=16)
    with pytest.raises(ClinicalValueError) as refused:
        extension.extend_series(course=course, extra=7, earliest=day_after, by=ada, now=day_after)
    assert str(refused.value) == (
        "extra: at most 6 more at a time: the extension is booked as a series under the "
        "protocol's rules (6 within 21 days); extend again for more"
    )

    booked = extension.extend_series(
        course=course, extra=6, earliest=day_after, by=ada, now=day_after
    )
    assert [a.number for a in booked] == [7, 8, 9, 10, 11, 12]

    with pytest.raises(ClinicalValueError) as refused:
        extension.extend_series(course=course, extra=1, earliest=day_after, by=ada, now=day_after)
    assert str(refused.value) == (
        "extra: the protocol allows at most 12 induction infusions in all; 12 are given or "
        "booked, so no more can be booked"
    )


@pytest.mark.parametrize(
    ("latest", "partial_only", "message"),
    [
        pytest.param(
            9, False,
            "outcome: the patient's PHQ-9 shows response: sign the post-induction review and "
            "choose maintenance; an extension is for partial and late responders",
            id="responder",
        ),
        pytest.param(
            16, True,
            "outcome: this protocol extends partial responders only (PHQ-9 at least 25 % "
            "below baseline); the latest score shows no response",
            id="non-partial-where-the-protocol-says-so",
        ),
    ],
)  # fmt: skip
def test_extension_refused_by_the_outcome(
    north, ada, ben, sam, latest, partial_only, message, stocked
):
    protocol = build.PROTOCOL
    if partial_only:
        data = protocols.protocol_to_dict(LIBRARY) | {"extension_for": "partial_response"}
        director(ada, north)  # a dosing or outcome change: the medical director's (item 3)
        row = protocol_versions.save_version(
            site=north, based_on=LIBRARY, data=data, change_note="Partial responders only",
            by=ada, now=build.at(north, REGISTERED, 9),
        )  # fmt: skip
        protocol = (row.key, row.version)
    course, _, day_after = after_induction(north, ada, ben, sam, latest=latest, protocol=protocol)

    with pytest.raises(ClinicalValueError) as refused:
        extension.extend_series(course=course, extra=3, earliest=day_after, by=ada, now=day_after)

    assert str(refused.value) == message
    course.refresh_from_db()
    assert (course.status, course.extended_to, course.appointments.count()) == ("review", None, 6)


def test_extension_needs_a_prescriber_and_a_protocol_that_allows_it(login, north, ada, ben, sam):
    course, visits = ptsd_course(north, ada, ben, sam)  # Feder 2021: no extension
    now = visits[0].starts_at
    assert (
        login(ben).post(f"/patients/{course.patient_id}/extend/", {"extra": "1"}).status_code == 403
    )
    with pytest.raises(ClinicalValueError) as refused:
        extension.extend_series(course=course, extra=1, earliest=now, by=ben, now=now)
    assert str(refused.value) == "by: a prescriber extends the series"

    with pytest.raises(ClinicalValueError) as refused:
        extension.extend_series(course=course, extra=1, earliest=now, by=ada, now=now)
    assert str(refused.value) == (
        "course: the series is extended during induction or at the post-induction review; the "
        "course is in Screening"
    )
    Course.objects.filter(pk=course.pk).update(status="induction")
    response = login(ada).post(f"/patients/{course.patient_id}/extend/", {"extra": "1"})
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "PTSD (Feder 2021): 6 infusions over 2 weeks, 0.5 mg/kg over 40 min allows no "
        "extension of the series"
    ]
    assert Appointment.objects.filter(course=course).count() == 6


def test_an_extension_during_induction_after_the_futility_review(north, ada, ben, sam, stocked):
    """Decided at the futility checkpoint: extend while induction runs; the new visits follow
    the last booked one and the course stays in induction."""
    course, visits = depression_course(north, ada, ben, sam)
    give(visits[:3], ben, ada, phq9=13)  # 18 → 13 before infusion 3: partial
    now = visits[2].ends_at

    booked = extension.extend_series(course=course, extra=2, earliest=now, by=ada, now=now)

    course.refresh_from_db()
    assert (course.status, course.extended_to, [a.number for a in booked]) == (
        "induction", 8, [7, 8]
    )  # fmt: skip
    assert booked[0].starts_at - visits[-1].starts_at >= LIBRARY.series.min_gap
    assert course.transitions.last().to_status == "induction"


def test_the_extension_keeps_the_weekly_maximum_across_the_join(north, ada, ben, sam, stocked):
    """At most 2 a week (a clinic version): the series runs Monday and Wednesday for three
    weeks, so the last week is full; the extension does not take that Friday (a third visit in
    the week) but starts the next Monday."""
    data = protocols.protocol_to_dict(LIBRARY)
    data["series"]["max_per_week"] = 2
    director(ada, north)  # a dosing or outcome change: the medical director's (item 3)
    row = protocol_versions.save_version(
        site=north, based_on=LIBRARY, data=data, change_note="Twice weekly", by=ada,
        now=build.at(north, REGISTERED, 9),
    )  # fmt: skip
    patient = build.register(north, sam, "Abe", "Nash", on=REGISTERED)
    course = build.ready_for_series(
        patient, prescriber=ada, nurse=ben, now=build.at(north, REGISTERED, 10),
        phq9_total=18, gad7_total=12, protocol=(row.key, row.version),
    )  # fmt: skip
    visits = build.book_series(
        course, sam, first=build.at(north, MONDAY, 8), now=build.at(north, REGISTERED, 11)
    )
    assert [v.starts_at.astimezone(north.tz).strftime("%a %d") for v in visits[-2:]] == [
        "Mon 14", "Wed 16"
    ]  # fmt: skip
    give(visits[:2], ben, ada, phq9=16)
    now = visits[1].ends_at

    booked = extension.extend_series(course=course, extra=2, earliest=now, by=ada, now=now)

    assert [a.starts_at.astimezone(north.tz).strftime("%a %d") for a in booked] == [
        "Mon 21", "Wed 23"
    ]  # fmt: skip
