"""Safety nets on visits (issue 13, item 4): no visit into the past, for every path and with the
real reason; a move previews every visit it changes and saves exactly that plan; a cancel is
confirmed and the cancelled visit stays, with a re-book; confirmations before signing the
review and before a final phase. The clock is the shared fixtures' day (conftest), a week
before the series' Monday."""

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sustain.care import services as care
from sustain.scheduling import services
from sustain.scheduling.models import Appointment
from sustain_core.errors import ClinicalValueError
from tests.sustain import clinic_builders as build

pytestmark = pytest.mark.db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
MONDAY = dt.datetime(2026, 11, 30, 0, 0, tzinfo=NEW_YORK)
PAST = "the new time is in the past"


@pytest.fixture
def course(pat, ada):
    return care.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )


@pytest.fixture
def visits(course, sam):
    return services.book_series(course=course, earliest=MONDAY, by=sam, now=timezone.now())


def local(visit: Appointment) -> str:
    visit.refresh_from_db()
    return visit.starts_at.astimezone(NEW_YORK).strftime("%a %d %H:%M")


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# -- no visit into the past ---------------------------------------------------------------------


def test_a_move_into_the_past_is_refused_for_the_past_not_the_taken_chair(visits, ada):
    """Visit 1's time is over and its chair taken then: the refusal names the past, even for a
    prescriber with a reason to break a series rule."""
    now = visits[0].starts_at + dt.timedelta(hours=3)

    with pytest.raises(ClinicalValueError) as excinfo:
        services.reschedule_visit(
            appointment=visits[1], starts_at=visits[0].starts_at, chair=visits[0].chair,
            by=ada, now=now, override_reason="Patient asked",
        )  # fmt: skip

    assert str(excinfo.value) == (
        "starts_at: the new time is in the past: Mon 30 Nov 2026 08:00 is before now "
        "(Mon 30 Nov 2026 11:00); choose a later time"
    )
    assert local(visits[1]) == "Wed 02 08:00"


def test_a_preview_of_a_move_into_the_past_is_refused_too(visits, sam):
    with pytest.raises(ClinicalValueError) as excinfo:
        services.preview_move(
            appointment=visits[2], starts_at=timezone.now() - dt.timedelta(days=1), by=sam,
            now=timezone.now(),
        )  # fmt: skip

    assert excinfo.value.message.startswith(PAST)


def test_one_visit_is_not_booked_into_the_past(course, sam, north):
    yesterday = timezone.now() - dt.timedelta(days=1)

    with pytest.raises(ClinicalValueError) as excinfo:
        services.book_visit(
            course=course, chair=north.chairs.first(), starts_at=yesterday, by=sam,
            now=timezone.now(),
        )  # fmt: skip

    assert excinfo.value.message.startswith(PAST)
    assert course.appointments.count() == 0


def test_a_series_is_not_booked_into_the_past(course, sam):
    """A series searched from a past day would start in the past: refused, nothing booked."""
    with pytest.raises(ClinicalValueError) as excinfo:
        services.book_series(
            course=course, earliest=MONDAY - dt.timedelta(days=14), by=sam, now=timezone.now()
        )

    assert excinfo.value.message.startswith(PAST)
    assert course.appointments.count() == 0


def test_the_api_books_a_series_from_now_when_asked_for_a_past_day(login, course, pat, sam):
    response = login(sam).post(
        f"/api/v1/patients/{pat.pk}/series",
        {"first_day": "2026-11-01"},
        content_type="application/json",
    )

    assert response.status_code == 201
    assert min(v.starts_at for v in course.appointments.all()) > timezone.now()


def test_the_move_form_says_the_time_is_in_the_past(login, visits, ada):
    response = login(ada).post(
        f"/visits/{visits[1].pk}/move/",
        {"chair": visits[1].chair_id, "day": "2026-11-20", "start_time": "09:00"},
        follow=True,
    )

    (message,) = messages_of(response)
    assert message.startswith("The new time is in the past: Fri 20 Nov 2026 09:00")
    assert local(visits[1]) == "Wed 02 08:00"


def test_the_visit_form_says_the_time_is_in_the_past(login, course, pat, sam, north):
    response = login(sam).post(
        f"/patients/{pat.pk}/visits/",
        {"chair": north.chairs.first().pk, "day": "2026-11-20", "start_time": "09:00"},
        follow=True,
    )

    (message,) = messages_of(response)
    assert message.startswith("The new time is in the past: Fri 20 Nov 2026 09:00")
    assert course.appointments.count() == 0


@pytest.mark.parametrize(
    ("day", "time", "reason"),
    [
        ("2026-12-05", "09:00", "the site is closed on Saturday 2026-12-05"),
        ("2026-12-03", "17:30", "Thursday 2026-12-03 opens 08:00–18:00; 17:30–19:30 is outside"),
        ("2026-11-30", "08:00", "the patient is already booked at that time"),
    ],
)
def test_every_refusal_of_a_move_names_its_reason(visits, sam, day, time, reason):
    starts_at = dt.datetime.combine(
        dt.date.fromisoformat(day), dt.time.fromisoformat(time), tzinfo=NEW_YORK
    )
    with pytest.raises(ClinicalValueError) as excinfo:
        services.preview_move(
            appointment=visits[2], starts_at=starts_at, by=sam, now=timezone.now()
        )

    assert excinfo.value.message.startswith(reason)


# -- a move previews every change, and saves exactly that -------------------------------------


def test_the_preview_lists_every_visit_the_move_changes_and_saves_nothing(login, visits, sam):
    thursday = visits[1].starts_at.astimezone(NEW_YORK) + dt.timedelta(days=1)
    move = {"chair": visits[1].chair_id, "day": f"{thursday:%Y-%m-%d}", "start_time": "08:00"}

    response = login(sam).post(f"/visits/{visits[1].pk}/move/", move)

    assert response.status_code == 200
    rows = response.context["rows"]
    old = [(c.number, c.old_start.astimezone(NEW_YORK).strftime("%a %d %H:%M")) for c, _ in rows]
    assert old == [
        (2, "Wed 02 08:00"), (3, "Fri 04 08:00"), (4, "Mon 07 08:00"), (5, "Wed 09 08:00"),
        (6, "Fri 11 08:00"),
    ]  # fmt: skip
    assert rows[1][0].new_start.astimezone(NEW_YORK).strftime("%a %d %H:%M") == "Mon 07 08:00"
    assert "This move changes 5 visits" in response.content.decode()
    assert [local(v) for v in visits[1:3]] == ["Wed 02 08:00", "Fri 04 08:00"]  # nothing saved


def test_saving_applies_exactly_the_previewed_plan(visits, sam):
    thursday = visits[1].starts_at + dt.timedelta(days=1)
    plan = services.preview_move(
        appointment=visits[1], starts_at=thursday, by=sam, now=timezone.now()
    )

    result = services.reschedule_visit(
        appointment=visits[1], starts_at=thursday, by=sam, now=timezone.now(),
        expected=plan.fingerprint,
    )  # fmt: skip

    saved = Appointment.objects.in_bulk([c.visit_id for c in plan.changes])
    assert [(c.new_start, c.new_chair) for c in plan.changes] == [
        (saved[c.visit_id].starts_at, saved[c.visit_id].chair.name) for c in plan.changes
    ]
    assert result.plan == plan


def test_a_plan_changed_since_the_preview_is_refused_and_nothing_saved(visits, sam):
    thursday = visits[1].starts_at + dt.timedelta(days=1)
    plan = services.preview_move(
        appointment=visits[1], starts_at=thursday, by=sam, now=timezone.now()
    )
    # Meanwhile another scheduler moves visit 6 an hour later.
    services.reschedule_visit(
        appointment=visits[5], starts_at=visits[5].starts_at + dt.timedelta(hours=1), by=sam,
        now=timezone.now(),
    )  # fmt: skip

    with pytest.raises(services.BookingConflict) as excinfo:
        services.reschedule_visit(
            appointment=visits[1], starts_at=thursday, by=sam, now=timezone.now(),
            expected=plan.fingerprint,
        )  # fmt: skip

    assert excinfo.value.message.startswith("the visits this move changes are not those previewed")
    assert [local(v) for v in visits[1:3]] == ["Wed 02 08:00", "Fri 04 08:00"]


def test_a_move_of_one_visit_alone_is_confirmed_too(login, visits, sam):
    last = visits[5]
    move = {"chair": last.chair_id, "day": "2026-12-11", "start_time": "10:00"}
    client = login(sam)

    preview = client.post(f"/visits/{last.pk}/move/", move)

    assert [c.number for c, _ in preview.context["rows"]] == [6]
    assert "This move changes this visit only" in preview.content.decode()
    assert local(last) == "Fri 11 08:00"
    fingerprint = preview.context["plan"].fingerprint
    done = client.post(f"/visits/{last.pk}/move/", {**move, "expected": fingerprint}, follow=True)
    assert messages_of(done) == ["Visit 6 moved."]
    assert local(last) == "Fri 11 10:00"


# -- cancel with a confirmation; the cancelled visit stays, with a re-book -----------------------


def test_cancel_is_a_confirmation_page_first(login, visits, sam):
    client = login(sam)

    page = client.get(f"/visits/{visits[2].pk}/cancel/")
    unconfirmed = client.post(f"/visits/{visits[2].pk}/cancel/", {"reason": "illness"})

    html = page.content.decode()
    assert "This cancels <strong>visit 3</strong>" in html
    assert "Friday 4 December 2026, 08:00–10:00" in html
    assert unconfirmed.status_code == 200
    visits[2].refresh_from_db()
    assert visits[2].status == "booked"


def test_a_cancelled_visit_stays_on_the_patient_page_with_who_when_why(login, visits, sam, pat):
    client = login(sam)
    client.post(
        f"/visits/{visits[2].pk}/cancel/",
        {"reason": "other", "note": "Car broke down", "confirm": "1"},
    )

    visits[2].refresh_from_db()
    assert (visits[2].status, visits[2].cancelled_by, visits[2].cancel_note) == (
        "cancelled", sam, "Car broke down"
    )  # fmt: skip
    html = client.get(f"/patients/{pat.pk}/").content.decode()
    assert '<tr class="cancelled">' in html
    assert "by sam: Other (Car broke down)" in html
    assert f'href="/visits/{visits[2].pk}/rebook/">Re-book</a>' in html


def test_cancel_refuses_a_reason_without_a_note_on_the_page(login, visits, sam):
    response = login(sam).post(
        f"/visits/{visits[2].pk}/cancel/", {"reason": "other", "note": "", "confirm": "1"}
    )

    assert "Say why, for a cancellation of kind other" in response.content.decode()
    visits[2].refresh_from_db()
    assert visits[2].status == "booked"


def test_rebook_opens_prefilled_and_books_under_the_same_number(login, visits, sam, pat):
    services.cancel_visit(
        appointment=visits[2], reason="illness", note="", by=sam, now=timezone.now()
    )
    client = login(sam)

    page = client.get(f"/visits/{visits[2].pk}/rebook/")
    done = client.post(
        f"/visits/{visits[2].pk}/rebook/",
        {"chair": visits[2].chair_id, "day": "2026-12-04", "start_time": "12:00"},
        follow=True,
    )

    form = page.context["form"]
    assert (form["day"].value(), form["start_time"].value()) == (
        dt.date(2026, 12, 4), dt.time(8, 0)
    )  # fmt: skip
    assert messages_of(done) == ["Visit 3 booked again."]
    again = pat.appointments.get(status="booked", number=3)
    assert again.starts_at.astimezone(NEW_YORK).strftime("%a %d %H:%M") == "Fri 04 12:00"


def test_rebook_into_the_past_is_refused(visits, sam):
    services.cancel_visit(
        appointment=visits[2], reason="illness", note="", by=sam, now=timezone.now()
    )

    with pytest.raises(ClinicalValueError) as excinfo:
        services.rebook_visit(
            cancelled=visits[2], chair=visits[2].chair,
            starts_at=timezone.now() - dt.timedelta(hours=2), by=sam, now=timezone.now(),
        )  # fmt: skip

    assert excinfo.value.message.startswith(PAST)


def test_only_a_cancelled_visit_is_rebooked(login, visits, sam):
    assert login(sam).get(f"/visits/{visits[2].pk}/rebook/").status_code == 404


# -- confirmations before irreversible steps -------------------------------------------------


def test_a_final_phase_is_confirmed_first(login, course, ada, pat):
    client = login(ada)

    asked = client.post(
        f"/patients/{pat.pk}/course-status/", {"status": "discontinued", "reason": "Moved away"}
    )
    course.refresh_from_db()
    assert course.status == "screening"
    assert "Yes, move the course to Discontinued" in asked.content.decode()

    client.post(
        f"/patients/{pat.pk}/course-status/",
        {"status": "discontinued", "reason": "Moved away", "confirm": "1"},
    )
    course.refresh_from_db()
    assert course.status == "discontinued"


def test_signing_the_review_is_confirmed_first(login, north, ada, ben, sam):
    patient = build.register(north, sam, "Rhea", "Review", on=dt.date(2026, 11, 23))
    course = build.ready_for_series(
        patient, prescriber=ada, nurse=ben, now=timezone.now(), phq9_total=18, gad7_total=12
    )
    build.book_series(course, sam, first=MONDAY, now=timezone.now())
    for status, given in (("ready", 0), ("induction", 1), ("review", 6)):
        care.change_course_status(
            course=course, status=status, by=ada, at=timezone.now(), infusions_given=given
        )
    client = login(ada)

    asked = client.post(f"/patients/{patient.pk}/review/", {"option": "0", "notes": "Good"})

    course.refresh_from_db()
    assert (course.status, course.reviews.count()) == ("review", 0)
    assert "Yes, sign the review" in asked.content.decode()
    client.post(f"/patients/{patient.pk}/review/", {"option": "0", "notes": "Good", "confirm": "1"})
    course.refresh_from_db()
    assert (course.status, course.reviews.count()) == ("maintenance", 1)


def test_a_no_show_is_confirmed_first(login, visits, sam, pat):
    first = visits[0]
    with time_machine.travel(first.starts_at + dt.timedelta(minutes=20), tick=False):
        client = login(sam)
        assert 'id="confirm-no-show-' in client.get(f"/patients/{pat.pk}/").content.decode()
        unconfirmed = client.post(f"/visits/{first.pk}/no-show/", follow=True)
        assert messages_of(unconfirmed) == [
            "I confirm the patient did not come: the no-show stays on record (the visit can be "
            "moved): tick the box to confirm this; nothing was changed"
        ]
        first.refresh_from_db()
        assert first.status == "booked"
        client.post(f"/visits/{first.pk}/no-show/", {"confirm": "on"})
    first.refresh_from_db()
    assert first.status == "no_show"


def test_cancelled_visits_add_no_query_to_the_patient_page(login, visits, sam, pat):
    """Who cancelled each visit is read with the visits (no query per cancelled visit)."""
    client = login(sam)

    def queries_with(cancelled: list[Appointment]) -> int:
        for visit in cancelled:
            services.cancel_visit(
                appointment=visit, reason="staffing", note="", by=sam, now=timezone.now()
            )
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/patients/{pat.pk}/").status_code == 200
        return len(captured)

    assert queries_with(visits[5:]) == queries_with(visits[2:5])
