"""Query-count guards (issue 9, item 7): the patient page, the patient list, the day board, the
week view and the series booking preview make a fixed number of queries, whatever the number
of patients, visits and scores. Each page is measured at two sizes and must make exactly the
same number at both; the number counts everything the request does (session, permissions and
the audit event it writes).

The clinic follows its own version of the protocol, so each course's protocol is a database
read (a library protocol is not), and checks staffing, so the board and the booking search
read shifts, visits and other schedulers' holds.
"""

import datetime as dt

import pytest
import time_machine

from sustain.accounts.models import Site, User
from sustain.care.models import Course
from sustain.care.protocol_versions import protocol_for, protocols_for
from sustain.clinic import story
from sustain.infusion.enums import AdverseEventKind, AdverseEventSeverity
from sustain.scheduling import staff
from sustain.scheduling.enums import StaffRole
from sustain.scheduling.models import SeriesHold
from sustain_core.errors import ClinicalValueError
from tests.sustain import clinic_builders as build
from tests.sustain.reports import cohort_db
from tests.sustain.second_factor import SECOND_FACTOR

pytestmark = pytest.mark.api

MONDAY = dt.date(2026, 11, 30)
TUESDAY = dt.datetime(2026, 12, 1, 15, 30, tzinfo=dt.UTC)  # 10:30 in New York
SATURDAY = dt.datetime(2026, 12, 5, 15, 0, tzinfo=dt.UTC)  # after infusion 3 (Friday)
RULES = {"check_in": (4, False), "infusion": (4, True), "recovery": (4, False)}

# The exact counts, the same at both sizes. Before the fixes (issue 9, item 7) the day board
# made 26 + 1 per patient on the board (their courses' protocols, read one by one), the
# booking preview 33 + 3 per course another scheduler held chairs for, the week view 30 (each
# day read apart) and the patient page 42, 40 and 25 (41, 39 and 24 after them; the clinical
# roles' page then gained one query: the site's clinic rules, which the next dose is planned
# under, and one more with issue 10: the last infusion's chair-side record, which the
# titration suggestion reads in one query; and one more with issue 11: the medication list,
# read in one query, which the front desk's page never reads).
# Two more with issue 13's pagination: the matching patients counted, then the page's found
# (only they are read with their course and alerts).
PATIENT_LIST = 17
# The patient page's chart facts (issue 13): one more for every role, the corrections of the
# details; two more for the clinical roles, the allergies and the consents' corrections.
# One more for the clinical roles with issue 17: the site's latest relapse fit (none here).
PATIENT_PAGE = {"prescriber": 48, "nurse": 46, "scheduler": 25}
# One more each with issue 12: the visits whose ledger is open (ledger.visits.open_visits).
# One more for the page (not the fragment) with issue 13: the visits whose patient asked to
# change them through a reminder's link (scheduling.queries.change_requests).
DAY_BOARD = {"page": 28, "fragment": 26}
WEEK_VIEW = 17
# 34 until issue 14: a GET preview no longer holds chairs (SEC-16); 30 until issue 15: the
# search reads the site's cached diary index (its version: one query) instead of the hours,
# closures, staffing rules, shifts and visits, and the holds once instead of three times.
SERIES_PREVIEW = 25
# The chair-side record (issue 10), whatever its readings and events; 32 with issue 11: the
# medication list (the last doses asked are read only when it holds an interacting one); 33
# with issue 12: the visit's ledger lines (ledger.visits.visit_ledger); 34 with issue 13: the
# patient's allergies.
CHAIRSIDE_PAGE = 34
# A patient's progress report (issue 17, item 2), either version, whatever the number of
# infusions, scores and adverse events; 24 with the scores' item answers (the clinician's
# latest answers).
PROGRESS_REPORT = 24
# The cohort outcomes page (issue 17): the courses, their visits, the patients' other courses,
# the scores and the adverse events (reports.cohort.course_records), then for chair use the
# chairs, hours, closures and visits given, and the read event; whatever the number of courses.
OUTCOMES_PAGE = 29


@pytest.fixture
def protocol(north: Site, ada: User, ben: User, alex: User, stocked: object) -> tuple[str, int]:
    """North checks staffing, with Ben and Ada on shift 8:00–18:00 every weekday for four
    weeks from 23 November, and has its stock; returns North's own version of the
    protocol."""
    staff.set_phase_staffing(
        site=north, rules=RULES, by=alex, now=build.at(north, dt.date(2026, 11, 20), 9)
    )
    for person, role in ((ben, StaffRole.NURSE), (ada, StaffRole.PRESCRIBER)):
        for weekday in range(5):
            staff.add_shifts(
                site=north,
                request=staff.ShiftRequest(
                    staff=person, role=role, day=dt.date(2026, 11, 23 + weekday),
                    starts=dt.time(8), ends=dt.time(18), weeks=4,
                ),
                by=alex,
            )  # fmt: skip
    return build.own_version(north, ada, now=build.at(north, dt.date(2026, 11, 20), 9))


def in_series(
    count: int, protocol: tuple[str, int], north: Site, ada: User, ben: User, sam: User
) -> list[Course]:
    """`count` patients with their baselines, the induction series booked from Monday 30
    November (three at most fit one Monday's first slots) and infusion 1 given after a PHQ-9
    with item 9 positive (an open alert each)."""
    courses = []
    for n in range(count):
        patient = build.register(north, sam, f"P{n}", "Series", on=dt.date(2026, 11, 23))
        course = build.ready_for_series(
            patient, prescriber=ada, nurse=ben, now=build.at(north, dt.date(2026, 11, 23), 10),
            phq9_total=14, gad7_total=11, protocol=protocol,
        )  # fmt: skip
        series = build.book_series(
            course, sam, first=build.at(north, MONDAY, 8),
            now=build.at(north, dt.date(2026, 11, 23), 11),
        )  # fmt: skip
        build.give_infusion(series[0], ben, pre_phq9=build.phq9(12, item9=1), prescriber=ada)
        courses.append(course)
    return courses


@pytest.mark.parametrize("patients", [1, 3])
def test_patient_list(login, protocol, north, ada, ben, sam, patients, django_assert_num_queries):
    in_series(patients, protocol, north, ada, ben, sam)
    with time_machine.travel(TUESDAY, tick=False):
        client = login(ben)
        with django_assert_num_queries(PATIENT_LIST + SECOND_FACTOR):
            response = client.get("/")
    assert [p.open_alerts for p in response.context["patients"]] == [1] * patients


@pytest.mark.parametrize("patients", [3, 60])
def test_patient_list_search(login, north, sam, ben, patients, django_assert_num_queries):
    """A search, sorted and paged (issue 13): the same queries for 3 patients as for 60 (page 2
    of 2, or the only one when page 2 is past the end)."""
    for n in range(patients):
        build.register(north, sam, f"P{n:02d}", "Searched", on=dt.date(2026, 11, 23))
    build.register(north, sam, "Not", "Found", on=dt.date(2026, 11, 23))
    client = login(ben)
    with django_assert_num_queries(PATIENT_LIST + SECOND_FACTOR):
        response = client.post("/", {"q": "search", "sort": "-name", "page": "2"})
    assert [p.given_name for p in response.context["patients"]] == [
        f"P{n:02d}" for n in reversed(range(patients))
    ][-10 if patients == 60 else 0 :]


@pytest.mark.parametrize("role", list(PATIENT_PAGE))
@pytest.mark.parametrize("size", ["few", "many"])
def test_patient_page(login, protocol, north, ada, ben, sam, role, size, django_assert_num_queries):
    """Few: one patient, one infusion, four scores (the baselines, the PHQ-9 before it, the
    CADSS at its end), one alert. Many: three patients; the one shown has three infusions, each
    after a PHQ-9 with item 9 positive (an alert each) and with a CADSS, the later two with an
    adverse event."""
    course, *_ = in_series(1 if size == "few" else 3, protocol, north, ada, ben, sam)
    if size == "many":
        for visit in course.appointments.order_by("starts_at")[1:3]:
            build.give_infusion(
                visit, ben, pre_phq9=build.phq9(12, item9=1), prescriber=ada,
                cadss_answers={str(n): 1 for n in range(1, 24)},
                adverse_event=(AdverseEventKind.NAUSEA, AdverseEventSeverity.MILD, "", ""),
            )  # fmt: skip
    users = {"prescriber": ada, "nurse": ben, "scheduler": sam}
    with time_machine.travel(SATURDAY, tick=False):
        client = login(users[role])
        with django_assert_num_queries(PATIENT_PAGE[role] + SECOND_FACTOR):
            response = client.get(f"/patients/{course.patient_id}/")
    page = response.context["page"]
    assert len(page.appointments) == 6
    if role != "scheduler":
        assert len(page.alerts) == (1 if size == "few" else 3)
        assert sum(len(m.assessments) for m in page.measures) == (4 if size == "few" else 8)


@pytest.mark.parametrize("audience", ["clinician", "patient"])
@pytest.mark.parametrize("size", ["few", "many"])
def test_progress_report(
    login, protocol, north, ada, ben, sam, audience, size, django_assert_num_queries
):
    """As the patient page's: few, one infusion and four scores; many, three infusions, each
    after a PHQ-9, with a CADSS, the later two with an adverse event."""
    course, *_ = in_series(1 if size == "few" else 3, protocol, north, ada, ben, sam)
    if size == "many":
        for visit in course.appointments.order_by("starts_at")[1:3]:
            build.give_infusion(
                visit, ben, pre_phq9=build.phq9(12, item9=1), prescriber=ada,
                cadss_answers={str(n): 1 for n in range(1, 24)},
                adverse_event=(AdverseEventKind.NAUSEA, AdverseEventSeverity.MILD, "", ""),
            )  # fmt: skip
    with time_machine.travel(SATURDAY, tick=False):
        client = login(ben)
        with django_assert_num_queries(PROGRESS_REPORT + SECOND_FACTOR):
            response = client.get(
                f"/outcomes/patients/{course.patient_id}/progress/", {"for": audience}
            )
    report = response.context["p"]
    assert len(report.infusions) == (1 if size == "few" else 3)
    assert len(report.adverse_events) == (0 if size == "few" else 2)


@pytest.mark.parametrize("board", list(DAY_BOARD))
@pytest.mark.parametrize("patients", [1, 3])
def test_day_board(
    login, protocol, north, ada, ben, sam, patients, board, django_assert_num_queries
):
    in_series(patients, protocol, north, ada, ben, sam)
    with time_machine.travel(TUESDAY, tick=False):
        client = login(ben)
        with django_assert_num_queries(DAY_BOARD[board] + SECOND_FACTOR):
            query = {"day": "2026-12-02"} | ({"fragment": "1"} if board == "fragment" else {})
            response = client.get("/schedule/", query)
    visits = [visit for _, visits in response.context["rows"] for visit in visits]
    assert len(visits) == patients
    assert [[d.instrument for d in due] for _, due, _, _ in visits] == [["phq9"]] * patients


@pytest.mark.parametrize("patients", [1, 3])
def test_week_view(login, protocol, north, ada, ben, sam, patients, django_assert_num_queries):
    in_series(patients, protocol, north, ada, ben, sam)
    with time_machine.travel(TUESDAY, tick=False):
        client = login(ben)
        with django_assert_num_queries(WEEK_VIEW + SECOND_FACTOR):
            response = client.get("/schedule/week/", {"day": "2026-12-02"})
    per_day = [sum(len(v[d]) for _, v in response.context["rows"]) for d in range(7)]
    assert per_day == [patients, 0, patients, 0, patients, 0, 0]  # infusions 1, 2 and 3


@pytest.mark.parametrize("others", [1, 3])
def test_series_preview(login, protocol, north, ada, ben, sam, others, django_assert_num_queries):
    """Wes's series previewed, with `others` patients booked and `others` more whose series
    another scheduler is previewing (held chair time)."""
    in_series(others, protocol, north, ada, ben, sam)
    wes = build.register(north, sam, "Wes", "Waiting", on=dt.date(2026, 11, 25))
    build.enrol(wes, ada, now=build.at(north, dt.date(2026, 11, 25), 10), protocol=protocol)
    with time_machine.travel(TUESDAY, tick=False):
        for n in range(others):
            held = build.register(north, sam, f"H{n}", "Held", on=dt.date(2026, 11, 25))
            build.enrol(held, ada, now=TUESDAY, protocol=protocol)
            login(ada).post(
                f"/patients/{held.pk}/series/", {"first_day": "2026-12-07", "search": "1"}
            )  # "Find visits" holds (issue 14: a GET holds nothing)
        assert SeriesHold.objects.filter(held_by=ada).values("course").distinct().count() == others
        client = login(sam)
        with django_assert_num_queries(SERIES_PREVIEW + SECOND_FACTOR):
            response = client.get(f"/patients/{wes.pk}/series/", {"first_day": "2026-12-07"})
    assert len(response.context["proposal"]) == 6


def test_protocols_for_reads_the_clinic_versions_at_once(
    protocol, north, ada, ben, sam, django_assert_num_queries
):
    courses = in_series(2, protocol, north, ada, ben, sam)
    library = build.register(north, sam, "Lib", "Rary", on=dt.date(2026, 11, 25))
    courses.append(build.enrol(library, ada, now=TUESDAY))
    courses = list(
        Course.objects.filter(pk__in=[c.pk for c in courses])
        .select_related("patient")
        .order_by("pk")
    )
    with django_assert_num_queries(1):
        found = protocols_for(courses)
    assert found == {c.pk: protocol_for(c) for c in courses}
    assert [found[c.pk].key for c in courses] == [protocol[0], protocol[0], "depression-induction"]
    with django_assert_num_queries(0):
        assert protocols_for(courses[2:]) == {courses[2].pk: protocol_for(courses[2])}
    courses[0].protocol_version = 9
    with pytest.raises(ClinicalValueError, match=f"no protocol {protocol[0]} v9 at North Clinic"):
        protocols_for(courses)


@pytest.mark.parametrize("after_end", [1, 50])
def test_chairside_page(login, north, ada, ben, sam, stocked, after_end, django_assert_num_queries):
    """The record in recovery: 1 minute after the infusion (its readings while infusing) or
    50 (three more readings and an adverse event): the same queries."""
    patient = build.register(north, sam, "Cy", "Chair", on=dt.date(2026, 11, 23))
    course = build.ready_for_series(
        patient, prescriber=ada, nurse=ben, now=build.at(north, dt.date(2026, 11, 23), 10),
        phq9_total=14, gad7_total=11,
    )  # fmt: skip
    visit = build.book_series(
        course, sam, first=build.at(north, MONDAY, 8),
        now=build.at(north, dt.date(2026, 11, 23), 11),
    )[0]  # fmt: skip
    end = visit.starts_at + dt.timedelta(minutes=visit.check_in_minutes + visit.infusion_minutes)
    at = end + dt.timedelta(minutes=after_end)
    story.uneventful_infusion(
        visit, ben, None, until=at,
        adverse_event=(AdverseEventKind.NAUSEA, AdverseEventSeverity.MILD, "", ""),
    )  # fmt: skip
    with time_machine.travel(at, tick=False):
        client = login(ben)
        with django_assert_num_queries(CHAIRSIDE_PAGE + SECOND_FACTOR):
            response = client.get(f"/visits/{visit.pk}/infusion/")
    view = response.context["view"]
    assert (view.record.stage, len(view.readings)) == (
        "recovering", 1 + 2 + (3 if after_end == 50 else 0)
    )  # fmt: skip


@pytest.mark.parametrize("copies", [1, 2])
def test_outcomes_page(login, north, ada, ben, copies, django_assert_num_queries):
    """The hand-computed cohort (tests/core/cohort_cases.py) once, then twice: 8 and 16 courses."""
    for n in range(copies):
        cohort_db.build(north, prescriber=ada, nurse=ben, copy=n + 1)
    client = login(ada)
    with django_assert_num_queries(OUTCOMES_PAGE + SECOND_FACTOR):
        response = client.get(
            "/outcomes/", {"site": north.pk, "start": "2026-03-01", "end": "2026-05-30"}
        )
    assert response.context["report"].started == 8 * copies
