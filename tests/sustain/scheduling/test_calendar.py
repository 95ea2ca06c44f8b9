"""Patient calendars: a secret, revocable iCalendar feed per patient and an .ics per visit
(issue 7; security-reliability-interop.md ICS-01..ICS-04)."""

import datetime as dt
import hashlib
import re
import zoneinfo
from decimal import Decimal

import icalendar
import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sustain.accounts.models import AuditEvent
from sustain.care import services as care_services
from sustain.scheduling import calendar, services
from sustain.scheduling.models import Appointment, CalendarFeed, Chair

pytestmark = pytest.mark.api

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)  # a Friday
PREPARATION = (
    "Please do not eat for 6 hours before your visit (clear fluids until 2 hours before), "
    "bring an adult to take you home, and do not drive until the next day."
)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def course(pat, ada):
    return care_services.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )


def book(course, sam, local: dt.datetime) -> Appointment:
    """Book a visit as the scheduler did a week before it (some are in the past now)."""
    chair = Chair.objects.filter(site=course.patient.site).first()
    return services.book_visit(
        course=course, chair=chair, starts_at=local, by=sam, now=local - dt.timedelta(days=7)
    )


def create_feed(client: Client, patient) -> str:
    """Create a feed through the patient page; return its path, as shown once."""
    response = client.post(f"/patients/{patient.pk}/calendar/")
    assert response.status_code == 201
    url = response.context["new_url"]
    assert url.startswith("http://127.0.0.1:8000/calendar/")
    return url.removeprefix("http://127.0.0.1:8000")


def unfold(body: bytes) -> list[str]:
    """The content lines of an .ics, unfolded (RFC 5545 §3.1)."""
    return body.decode().replace("\r\n ", "").removesuffix("\r\n").split("\r\n")


def feed_events(feed_path: str) -> list[tuple[str, ...]]:
    parsed = icalendar.Calendar.from_ical(Client().get(feed_path).content)
    return [
        (str(e["UID"]), e["DTSTART"].to_ical().decode(), str(e["STATUS"]), int(e["SEQUENCE"]))
        for e in parsed.walk("VEVENT")
    ]


# Creating and revoking feeds


@pytest.mark.parametrize("user", ["sam", "ben", "ada"])
def test_staff_create_a_feed_and_see_its_url_once(request, login, pat, user):
    staff = request.getfixturevalue(user)
    client = login(staff)

    path = create_feed(client, pat)

    token = re.fullmatch(r"/calendar/([A-Za-z0-9_-]{43})\.ics", path).group(1)
    feed = CalendarFeed.objects.get()
    assert (feed.patient, feed.created_by, feed.created_at, feed.revoked_at) == (
        pat, staff, NOW, None
    )  # fmt: skip
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in client.get(f"/patients/{pat.pk}/calendar/").content.decode()
    assert Client().get(path).status_code == 200
    created = AuditEvent.objects.get(object_type="scheduling.CalendarFeed", action="create")
    assert (created.actor, created.patient_id, created.category) == (staff, pat.pk, "schedule")


def test_a_new_feed_replaces_the_old_one(login, ben, pat):
    client = login(ben)
    old = create_feed(client, pat)

    new = create_feed(client, pat)

    assert (Client().get(old).status_code, Client().get(new).status_code) == (404, 200)
    assert CalendarFeed.objects.filter(revoked_at__isnull=True).count() == 1
    assert CalendarFeed.objects.filter(revoked_by=ben, revoked_at=NOW).count() == 1


def test_revoked_feed_is_not_found(login, ben, pat):
    client = login(ben)
    path = create_feed(client, pat)

    response = client.post(f"/patients/{pat.pk}/calendar/revoke/")

    assert response.status_code == 302
    assert response["Location"] == f"/patients/{pat.pk}/calendar/"
    assert Client().get(path).status_code == 404
    feed = CalendarFeed.objects.get()
    assert (feed.revoked_at, feed.revoked_by) == (NOW, ben)
    revoked = AuditEvent.objects.get(object_type="scheduling.CalendarFeed", action="update")
    assert (revoked.actor, revoked.patient_id) == (ben, pat.pk)


def test_revoking_without_a_feed_says_so(login, ben, pat):
    response = login(ben).post(f"/patients/{pat.pk}/calendar/revoke/", follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "There was no calendar link to revoke."
    ]


def test_patient_page_has_the_calendar_card(login, ben, pat):
    html = login(ben).get(f"/patients/{pat.pk}/").content.decode()
    assert f'action="/patients/{pat.pk}/calendar/"' in html
    assert f'href="/patients/{pat.pk}/calendar/"' in html


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/patients/{id}/calendar/"),
        ("post", "/patients/{id}/calendar/"),
        ("post", "/patients/{id}/calendar/revoke/"),
    ],
)
def test_auditors_may_not_manage_feeds(login, ivy, pat, method, path):
    response = getattr(login(ivy), method)(path.format(id=pat.pk))
    assert response.status_code == 403
    assert CalendarFeed.objects.count() == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/patients/{id}/calendar/"),
        ("post", "/patients/{id}/calendar/"),
        ("post", "/patients/{id}/calendar/revoke/"),
    ],
)
def test_another_sites_patient_is_not_found_and_audited(login, carl, pat, method, path):
    response = getattr(login(carl), method)(path.format(id=pat.pk))
    denied = AuditEvent.objects.filter(actor=carl, outcome="denied").get()
    assert response.status_code == 404
    assert (denied.patient_id, denied.action) == (pat.pk, "read")
    assert CalendarFeed.objects.count() == 0


def test_one_active_feed_per_patient_is_a_database_constraint(pat, ben):
    calendar.create_feed(patient=pat, by=ben, now=NOW)
    with pytest.raises(IntegrityError), transaction.atomic():
        CalendarFeed.objects.create(
            patient=pat, token_hash="0" * 64, created_at=NOW, created_by=ben
        )


# Feed content


def test_feed_is_exact_with_utc_times_either_side_of_dst(login, ben, pat, course, sam):
    before_dst_end = book(course, sam, dt.datetime(2026, 10, 29, 8, 0, tzinfo=NEW_YORK))  # EDT
    after_dst_end = book(course, sam, dt.datetime(2026, 11, 30, 8, 0, tzinfo=NEW_YORK))  # EST
    book(course, sam, dt.datetime(2026, 10, 26, 8, 0, tzinfo=NEW_YORK))  # > 30 days ago
    path = create_feed(login(ben), pat)

    response = Client().get(path)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="clinic-visits.ics"'
    assert "no-store" in response["Cache-Control"]
    event = [
        "BEGIN:VEVENT",
        "SUMMARY:Clinic visit",
        "DTSTART:{start}",
        "DTEND:{end}",
        "DTSTAMP:20261127T150000Z",
        "UID:{uid}@sustain",
        "SEQUENCE:0",
        "DESCRIPTION:" + PREPARATION.replace(",", "\\,"),
        "LOCATION:North Clinic",
        "STATUS:CONFIRMED",
        "END:VEVENT",
    ]
    assert unfold(response.content) == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Sustain//Clinic visits//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H",
        *[
            line.format(start="20261029T120000Z", end="20261029T140000Z", uid=before_dst_end.uid)
            for line in event
        ],
        *[
            line.format(start="20261130T130000Z", end="20261130T150000Z", uid=after_dst_end.uid)
            for line in event
        ],
        "END:VCALENDAR",
    ]


def test_feed_shows_only_the_patients_own_visits(login, ben, pat, course, sam, north, ada):
    other = care_services.register_patient(
        by=sam, site=north, given_name="Olga", family_name="Other", sex="female",
        date_of_birth=dt.date(1970, 1, 1), phone="", email="", primary_condition="depression",
        weight_kg=Decimal("60"), today=NOW.date(), now=timezone.now()
    )  # fmt: skip
    other_course = care_services.enrol_patient(
        patient=other,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    mine = book(course, sam, dt.datetime(2026, 11, 30, 8, 0, tzinfo=NEW_YORK))
    book(other_course, sam, dt.datetime(2026, 11, 30, 10, 0, tzinfo=NEW_YORK))

    events = feed_events(create_feed(login(ben), pat))

    assert events == [(f"{mine.uid}@sustain", "20261130T130000Z", "CONFIRMED", 0)]


def test_uid_is_stable_and_sequence_rises_after_touch(login, ben, pat, course, sam):
    visit = book(course, sam, dt.datetime(2026, 11, 30, 8, 0, tzinfo=NEW_YORK))
    path = create_feed(login(ben), pat)
    first = feed_events(path)

    calendar.touch_appointment(visit)
    calendar.touch_appointment(visit)

    assert visit.sequence == 2
    assert feed_events(path) == [(f"{visit.uid}@sustain", "20261130T130000Z", "CONFIRMED", 2)]
    assert first == [(f"{visit.uid}@sustain", "20261130T130000Z", "CONFIRMED", 0)]


def test_cancelled_visit_stays_in_the_feed_as_cancelled(login, ben, pat, course, sam):
    visit = book(course, sam, dt.datetime(2026, 11, 30, 8, 0, tzinfo=NEW_YORK))
    path = create_feed(login(ben), pat)

    services.cancel_visit(
        appointment=visit, reason="patient_request", note="", by=sam, now=timezone.now()
    )

    assert feed_events(path) == [(f"{visit.uid}@sustain", "20261130T130000Z", "CANCELLED", 1)]


def test_feed_is_valid_rfc5545(login, ben, pat, course, sam):
    for day in (30, 2):
        month = 11 if day == 30 else 12
        book(course, sam, dt.datetime(2026, month, day, 8, 0, tzinfo=NEW_YORK))

    body = Client().get(create_feed(login(ben), pat)).content

    assert body.endswith(b"\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")  # CRLF only
    lines = body.split(b"\r\n")
    assert max(len(line) for line in lines) <= 75  # octets (RFC 5545 §3.1)
    assert any(line.startswith(b" ") for line in lines)  # the long DESCRIPTION is folded
    parsed = icalendar.Calendar.from_ical(body)
    parsed.validate()
    assert {k: str(parsed[k]) for k in ("VERSION", "PRODID", "CALSCALE", "METHOD")} == {
        "VERSION": "2.0",
        "PRODID": "-//Sustain//Clinic visits//EN",
        "CALSCALE": "GREGORIAN",
        "METHOD": "PUBLISH",
    }
    events = parsed.walk("VEVENT")
    assert len(events) == 2
    for event in events:
        assert {"UID", "DTSTAMP", "DTSTART", "DTEND"} <= set(event)
        assert event.start.utcoffset() == dt.timedelta(0)
        assert event["DTSTART"].to_ical().endswith(b"Z")
        assert str(event["DESCRIPTION"]) == PREPARATION


def test_feed_without_visits_is_still_valid(login, ben, pat):
    body = Client().get(create_feed(login(ben), pat)).content

    parsed = icalendar.Calendar.from_ical(body)
    parsed.validate()
    assert [c.name for c in parsed.subcomponents] == ["VTIMEZONE"]
    assert parsed.walk("VEVENT") == []


def test_feed_and_visit_file_carry_no_patient_data_or_drug(login, ben, pat, course, sam):
    visit = book(course, sam, dt.datetime(2026, 11, 30, 8, 0, tzinfo=NEW_YORK))
    client = login(ben)
    bodies = [
        Client().get(create_feed(client, pat)).content,
        client.get(f"/visits/{visit.pk}/visit.ics").content,
    ]
    for body in bodies:
        text = body.decode().replace("\r\n ", "").lower()
        for secret in (
            "pat", "quinn", "1980-05-17", "19800517", "555-0100", "example.com",
            "ketamine", "ketalar", "depression", "infusion", "mg",
        ):  # fmt: skip
            assert secret not in text, secret


# Feed access and audit


def test_every_feed_fetch_is_audited(login, ben, pat):
    path = create_feed(login(ben), pat)
    before = AuditEvent.objects.latest("id").id

    Client().get(path)
    Client().get(path)

    events = list(AuditEvent.objects.filter(id__gt=before))
    assert [
        (e.actor_id, e.actor_username, e.action, e.category, e.patient_id, e.outcome)
        for e in events
    ] == [(None, "calendar-feed", "read", "schedule", pat.pk, "success")] * 2


def test_unknown_and_revoked_tokens_are_not_found_and_audited(login, ben, pat):
    client = login(ben)
    path = create_feed(client, pat)
    client.post(f"/patients/{pat.pk}/calendar/revoke/")
    before = AuditEvent.objects.latest("id").id

    revoked = Client().get(path)
    unknown = Client().get("/calendar/" + "x" * 43 + ".ics")

    assert (revoked.status_code, unknown.status_code) == (404, 404)
    events = list(AuditEvent.objects.filter(id__gt=before))
    assert [(e.actor_username, e.patient_id, e.outcome, e.reason) for e in events] == [
        ("calendar-feed", pat.pk, "denied", "revoked"),
        ("calendar-feed", None, "denied", "unknown-token"),
    ]


def test_feed_queries_do_not_grow_with_visits(login, ben, pat, course, sam):
    path = create_feed(login(ben), pat)
    book(course, sam, dt.datetime(2026, 11, 30, 8, 0, tzinfo=NEW_YORK))
    with CaptureQueriesContext(connection) as one:
        Client().get(path)
    for day in (1, 2):
        book(course, sam, dt.datetime(2026, 12, day, 8, 0, tzinfo=NEW_YORK))
    with CaptureQueriesContext(connection) as three:
        body = Client().get(path).content
    assert body.count(b"BEGIN:VEVENT") == 3
    assert len(three) == len(one)


def test_feed_refuses_other_methods(login, ben, pat):
    path = create_feed(login(ben), pat)
    assert Client().post(path).status_code == 405


# One visit as .ics (staff)


def test_staff_download_one_visit_as_the_same_event(login, ben, pat, course, sam):
    visit = book(course, sam, dt.datetime(2026, 11, 30, 8, 0, tzinfo=NEW_YORK))
    client = login(ben)
    feed = Client().get(create_feed(client, pat)).content
    before = AuditEvent.objects.latest("id").id

    response = client.get(f"/visits/{visit.pk}/visit.ics")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="visit.ics"'
    [single] = icalendar.Calendar.from_ical(response.content).walk("VEVENT")
    [in_feed] = icalendar.Calendar.from_ical(feed).walk("VEVENT")
    assert single.to_ical() == in_feed.to_ical()
    event = AuditEvent.objects.get(id__gt=before)
    assert (event.actor, event.action, event.category, event.patient_id, event.object_id) == (
        ben, "read", "schedule", pat.pk, str(visit.pk)
    )  # fmt: skip


def test_another_sites_visit_file_is_not_found_and_audited(login, carl, pat, course, sam):
    visit = book(course, sam, dt.datetime(2026, 11, 30, 8, 0, tzinfo=NEW_YORK))

    response = login(carl).get(f"/visits/{visit.pk}/visit.ics")

    assert response.status_code == 404
    denied = AuditEvent.objects.get(actor=carl, outcome="denied")
    assert (denied.action, denied.category) == ("read", "schedule")


def test_auditor_may_not_download_a_visit_file(login, ivy, pat, course, sam):
    visit = book(course, sam, dt.datetime(2026, 11, 30, 8, 0, tzinfo=NEW_YORK))
    assert login(ivy).get(f"/visits/{visit.pk}/visit.ics").status_code == 403


def test_calendar_page_lists_visits_with_their_files(login, sam, pat, course):
    visit = book(course, sam, dt.datetime(2026, 11, 30, 8, 0, tzinfo=NEW_YORK))

    response = login(sam).get(f"/patients/{pat.pk}/calendar/")

    assert response.status_code == 200
    assert list(response.context["visits"]) == [visit]
    assert response.context["feed"] is None
    assert f'href="/visits/{visit.pk}/visit.ics"' in response.content.decode()
