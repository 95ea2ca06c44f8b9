"""The staffing page (shifts, staffing rules, chair capabilities) and the day board's staffing
strip and visit phases."""

import datetime as dt
import re
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sustain.accounts.models import AuditEvent
from sustain.care import services as care
from sustain.scheduling import services, staff
from sustain.scheduling.enums import StaffRole
from sustain.scheduling.models import Chair, PhaseStaffing, Shift
from tests.sustain.conftest import make_user

pytestmark = pytest.mark.api

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)  # the Friday before
MONDAY = dt.date(2026, 11, 30)
# 1 nurse looks after 2 patients checking in, 1 infusing, 2 recovering; discharge uncounted;
# a prescriber on site for every infusion.
RULES = {"check_in": (2, False), "infusion": (1, True), "recovery": (2, False)}
RULES_FORM = {
    "check_in_ratio": "2",
    "infusion_ratio": "1",
    "infusion_prescriber": "on",
    "recovery_ratio": "2",
    "discharge_ratio": "",
}
WARNING = "Staffing is not checked at this site: set the nurse ratios below"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), NEW_YORK)


def add_shift(site, person, role, day, starts, ends, by, weeks=1):
    return staff.add_shifts(
        site=site,
        request=staff.ShiftRequest(
            staff=person, role=role, day=day, starts=dt.time(starts), ends=dt.time(ends),
            weeks=weeks,
        ),
        by=by,
    )  # fmt: skip


@pytest.fixture
def staffed(north, ada, ben, alex):
    """North checks staffing: Ben nurses and Ada prescribes weekdays 8:00–12:00 for 3 weeks."""
    staff.set_phase_staffing(site=north, rules=RULES, by=alex, now=NOW)
    for day in range(5):
        for person, role in ((ben, StaffRole.NURSE), (ada, StaffRole.PRESCRIBER)):
            add_shift(north, person, role, MONDAY + dt.timedelta(days=day), 8, 12, alex, weeks=3)
    return north


def book_series(pat, ada, sam):
    course = care.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    return services.book_series(course=course, earliest=at(MONDAY, 0), by=sam, now=timezone.now())


def shift_times(**filters) -> list[tuple[str, str]]:
    return [
        (
            f"{s.starts_at.astimezone(NEW_YORK):%Y-%m-%d %H:%M}",
            f"{s.ends_at.astimezone(NEW_YORK):%H:%M}",
        )
        for s in Shift.objects.filter(**filters).order_by("starts_at")
    ]


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# The page and who may do what there


@pytest.mark.parametrize(
    ("user", "status"),
    [("ben", 200), ("ada", 200), ("sam", 200), ("alex", 200), ("ivy", 403), ("nora", 403)],
)
def test_staff_page_is_shown_to_the_roles_that_see_shifts(request, login, alex, user, status):
    response = login(request.getfixturevalue(user)).get("/schedule/staff/")
    assert response.status_code == status


@pytest.mark.parametrize(
    ("user", "forms"),
    [
        ("ben", (False, False, False)),
        ("ada", (False, False, False)),
        ("sam", (True, True, False)),
        ("alex", (True, True, True)),
    ],
)
def test_staff_page_shows_each_role_only_the_forms_it_may_use(request, login, staffed, user, forms):
    client = login(request.getfixturevalue(user))
    html = client.get("/schedule/staff/", {"week": "2026-11-30"}).content.decode()
    shown = (
        'action="/schedule/staff/shifts/"' in html,
        re.search(r'action="/schedule/staff/shifts/\d+/remove/"', html) is not None,
        'action="/schedule/staff/rules/"' in html
        and re.search(r'action="/schedule/staff/chairs/\d+/"', html) is not None,
    )
    assert shown == forms


def test_staff_page_lists_the_weeks_shifts_per_person_and_day(login, staffed, ben, ada, alex):
    add_shift(staffed, ben, StaffRole.NURSE, MONDAY + dt.timedelta(weeks=1), 13, 17, alex)

    response = login(ben).get("/schedule/staff/", {"week": "2026-12-02"})  # a Wednesday

    assert response.context["monday"] == MONDAY
    rota = [
        (row.person.username, row.role.label, [[f"{s.starts_at.astimezone(NEW_YORK):%H:%M}"
                                                for s in d] for d in row.days])
        for row in response.context["rota"]
    ]  # fmt: skip
    week = [["08:00"]] * 5 + [[], []]
    assert rota == [("ben", "Nurse", week), ("ada", "Prescriber", week)]
    html = response.content.decode()
    assert html.count("08:00–12:00") == 10
    assert "13:00–17:00" not in html  # next week's
    assert WARNING not in html


def try_every_change(client, site, person) -> list[int]:
    """Post each change of the staffing page at `site`: a shift for `person`, removing the
    first shift, new rules, a chair's capabilities. Returns the status codes."""
    shift = Shift.objects.filter(site=site).first()
    chair = site.chairs.get(name="Chair 1")
    week = {"site": site.pk, "week": "2026-11-30"}
    new_shift = {"staff": person.pk, "role": "nurse", "day": "2026-12-07"}
    new_shift |= {"starts": "13:00", "ends": "17:00"}
    return [
        client.post("/schedule/staff/shifts/", week | new_shift).status_code,
        client.post(f"/schedule/staff/shifts/{shift.pk}/remove/").status_code,
        client.post(
            "/schedule/staff/rules/", week | RULES_FORM | {"recovery_ratio": "3"}
        ).status_code,
        client.post(
            f"/schedule/staff/chairs/{chair.pk}/", {"capabilities": ["extended"]}
        ).status_code,
    ]


def staffing_state(site) -> tuple[object, ...]:
    return (
        shift_times(),
        list(PhaseStaffing.objects.order_by("phase").values_list("phase", "patients_per_nurse")),
        site.chairs.get(name="Chair 1").capabilities,
    )


@pytest.mark.parametrize("user", ["ben", "ada"])
def test_nurses_and_prescribers_cannot_change_shifts_rules_or_chairs(request, login, staffed, user):
    before = staffing_state(staffed)

    statuses = try_every_change(
        login(request.getfixturevalue(user)), staffed, staffed.shifts.first().staff
    )

    assert statuses == [403, 403, 403, 403]
    assert staffing_state(staffed) == before


def test_scheduler_changes_shifts_but_not_rules_or_chairs(login, staffed, ben, sam):
    before = staffing_state(staffed)

    statuses = try_every_change(login(sam), staffed, ben)

    assert statuses == [302, 302, 403, 403]
    after = staffing_state(staffed)
    assert ("2026-12-07 13:00", "17:00") in after[0]
    assert len(after[0]) == len(before[0])  # one added, one removed
    assert after[1:] == before[1:]


def test_another_sites_staff_see_their_own_site_and_cannot_touch_this_one(
    login, staffed, ben, south
):
    client = login(make_user("sue", "clinic_admin", south))
    before = staffing_state(staffed)

    page = client.get("/schedule/staff/", {"site": staffed.pk})
    statuses = try_every_change(client, staffed, ben)

    assert page.context["site"] == south
    assert page.context["rota"] == []
    assert statuses == [404, 404, 404, 404]
    assert staffing_state(staffed) == before


# Shifts


def test_scheduler_adds_a_shift_repeated_weekly(login, north, ben, sam):
    client = login(sam)
    response = client.post(
        "/schedule/staff/shifts/",
        {"site": north.pk, "week": "2026-11-30", "staff": ben.pk, "role": "nurse",
         "day": "2026-12-08", "starts": "07:30", "ends": "15:30", "weeks": "3"},
    )  # fmt: skip

    assert response.status_code == 302
    assert response["Location"] == f"/schedule/staff/?site={north.pk}&week=2026-12-07"
    assert shift_times(staff=ben, role="nurse", site=north) == [
        ("2026-12-08 07:30", "15:30"),
        ("2026-12-15 07:30", "15:30"),
        ("2026-12-22 07:30", "15:30"),
    ]
    page = client.get(response["Location"])
    assert messages_of(page) == ["Added 3 nurse shifts for ben."]
    assert "07:30–15:30" in page.content.decode()


def test_the_shift_form_offers_only_the_sites_nurses_and_prescribers(
    login, north, south, ben, ada, sam, nora, alex
):
    make_user("olga", "nurse", north)
    make_user("otto", "nurse", south)
    form = login(sam).get("/schedule/staff/").context["shift_form"]

    offered = sorted(u.username for u in form.fields["staff"].queryset)

    # Not Sam the scheduler, Alex the administrator, Nora with no role, nor South's Otto.
    assert offered == ["ada", "ben", "olga"]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"starts": "11:00", "ends": "15:00"}, " already has a shift Mon 30 Nov 08:00–12:00"),
        ({"ends": "07:00"}, "A shift ends after it starts and lasts at most 16 hours; got "
         "08:00–07:00"),
        ({"role": "prescriber"}, " is not a Prescriber"),
    ],
)  # fmt: skip
def test_a_refused_shift_is_shown_on_the_form_and_nothing_is_added(
    login, staffed, ben, sam, data, error
):
    before = shift_times()
    response = login(sam).post(
        "/schedule/staff/shifts/",
        {"site": staffed.pk, "week": "2026-11-30", "staff": ben.pk, "role": "nurse",
         "day": "2026-11-30", "starts": "08:00", "ends": "16:00", "weeks": "2"} | data,
    )  # fmt: skip

    assert response.status_code == 400
    form = response.context["shift_form"]
    assert next(e for errors in form.errors.values() for e in errors).endswith(error)
    assert error.split(";")[0].strip() in response.content.decode().replace("&#x27;", "'")
    assert shift_times() == before


def test_a_person_from_another_site_cannot_be_given_a_shift(login, north, south, sam):
    olga = make_user("olga", "nurse", south)

    response = login(sam).post(
        "/schedule/staff/shifts/",
        {"site": north.pk, "staff": olga.pk, "role": "nurse", "day": "2026-11-30",
         "starts": "08:00", "ends": "12:00"},
    )  # fmt: skip

    assert response.status_code == 400
    assert list(response.context["shift_form"].errors) == ["staff"]
    assert not Shift.objects.exists()


def test_scheduler_removes_a_shift(login, staffed, ben, sam):
    tuesday = Shift.objects.get(staff=ben, starts_at=at(MONDAY + dt.timedelta(days=1), 8))

    response = login(sam).post(f"/schedule/staff/shifts/{tuesday.pk}/remove/", follow=True)

    assert response.redirect_chain == [(f"/schedule/staff/?site={staffed.pk}&week=2026-11-30", 302)]
    assert messages_of(response) == ["Removed ben's shift Tue 01 Dec 08:00–12:00."]
    assert not Shift.objects.filter(pk=tuesday.pk).exists()
    assert AuditEvent.objects.filter(action="delete", category="schedule", actor=sam).count() == 1


def test_removing_a_shift_booked_visits_need_is_refused_with_a_message(
    login, staffed, pat, ada, ben, sam
):
    book_series(pat, ada, sam)
    monday = Shift.objects.get(staff=ben, starts_at=at(MONDAY, 8))

    response = login(sam).post(f"/schedule/staff/shifts/{monday.pk}/remove/", follow=True)

    assert messages_of(response) == [
        "Not removed: removing this shift would leave booked visits without the nurses or "
        "prescriber they need (Mon 30 Nov 08:00–08:15, Mon 30 Nov 08:15–08:55, Mon 30 Nov "
        "08:55–09:55); move the visits or add cover first."
    ]
    assert Shift.objects.filter(pk=monday.pk).exists()


def test_staff_page_queries_do_not_grow_with_shifts(login, staffed, ben, ada, alex):
    client = login(ben)
    with CaptureQueriesContext(connection) as two_people:
        client.get("/schedule/staff/", {"week": "2026-11-30"})
    for name in ("nina", "noel"):
        nurse = make_user(name, "nurse", staffed)
        add_shift(staffed, nurse, StaffRole.NURSE, MONDAY, 12, 18, alex, weeks=1)
    with CaptureQueriesContext(connection) as four_people:
        response = client.get("/schedule/staff/", {"week": "2026-11-30"})
    assert len(response.context["rota"]) == 4
    assert len(four_people) == len(two_people)


# Staffing rules


def test_clinic_admin_sets_the_staffing_rules(login, north, alex):
    client = login(alex)
    assert WARNING in client.get("/schedule/staff/").content.decode()

    response = client.post(
        "/schedule/staff/rules/", {"site": north.pk, "week": "2026-11-30"} | RULES_FORM
    )

    assert response.status_code == 302
    rules = PhaseStaffing.objects.filter(site=north).order_by("phase")
    assert [(r.phase, r.patients_per_nurse, r.prescriber_on_site) for r in rules] == [
        ("check_in", 2, False),
        ("discharge", None, False),
        ("infusion", 1, True),
        ("recovery", 2, False),
    ]
    page = client.get(response["Location"])
    assert messages_of(page) == ["Staffing rules saved."]
    assert WARNING not in page.content.decode()
    assert page.context["rules_form"]["infusion_ratio"].value() == 1


@pytest.mark.parametrize("ratio", ["0", "13", "two"])
def test_a_ratio_outside_1_to_12_is_refused(login, staffed, alex, ratio):
    response = login(alex).post(
        "/schedule/staff/rules/", {"site": staffed.pk} | RULES_FORM | {"recovery_ratio": ratio}
    )

    assert response.status_code == 400
    assert list(response.context["rules_form"].errors) == ["recovery_ratio"]
    assert PhaseStaffing.objects.get(site=staffed, phase="recovery").patients_per_nurse == 2


def test_rules_that_booked_visits_break_are_refused_on_the_form(
    login, staffed, pat, ada, sam, alex
):
    book_series(pat, ada, sam)
    other = care.register_patient(
        by=sam, site=staffed, given_name="Olly", family_name="Other", sex="unknown",
        date_of_birth=dt.date(1985, 1, 1), phone="", email="", primary_condition="depression",
        weight_kg=Decimal("70"), today=NOW.date(), now=timezone.now()
    )  # fmt: skip
    book_series(other, ada, sam)  # checks in at 9:45 while Pat recovers until 9:55
    stricter = RULES_FORM | {"recovery_ratio": "1"}

    response = login(alex).post("/schedule/staff/rules/", {"site": staffed.pk} | stricter)

    assert response.status_code == 400
    errors = response.context["rules_form"].non_field_errors()
    assert [e[:60] for e in errors] == [
        "These rules would leave booked visits without the nurses or "
    ]
    assert PhaseStaffing.objects.get(site=staffed, phase="recovery").patients_per_nurse == 2


# Chair capabilities


def test_clinic_admin_sets_a_chairs_capabilities(login, north, alex):
    chair = north.chairs.get(name="Chair 1")
    client = login(alex)

    response = client.post(
        f"/schedule/staff/chairs/{chair.pk}/",
        {"week": "2026-11-30", "capabilities": ["cardiac_monitor", "extended"]},
    )

    assert response.status_code == 302
    chair.refresh_from_db()
    assert chair.capabilities == ["extended", "cardiac_monitor"]
    page = client.get(response["Location"])
    assert messages_of(page) == ["Chair 1 saved."]
    assert "Extended (fully reclining, for long infusions); Cardiac monitor" in (
        page.content.decode()
    )


def test_an_unknown_chair_capability_is_refused(login, north, alex):
    chair = north.chairs.get(name="Chair 2")

    response = login(alex).post(
        f"/schedule/staff/chairs/{chair.pk}/", {"capabilities": ["cardiac_monitor", "jacuzzi"]}
    )

    assert response.status_code == 400
    form = {c.pk: f for c, _, f in response.context["chairs"]}[chair.pk]
    assert form.errors == {
        "capabilities": ["Select a valid choice. jacuzzi is not one of the available choices."]
    }
    chair.refresh_from_db()
    assert chair.capabilities == ["extended"]


def test_a_capability_booked_visits_need_cannot_be_taken_away(login, north, ada, sam, alex):
    patient = care.register_patient(
        by=sam, site=north, given_name="Ria", family_name="Pain", sex="unknown",
        date_of_birth=dt.date(1985, 1, 1), phone="", email="", primary_condition="chronic_pain",
        weight_kg=Decimal("70"), today=NOW.date(), now=timezone.now()
    )  # fmt: skip
    course = care.enrol_patient(
        patient=patient,
        protocol_key="crps-schwartzman-2009",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    extended = north.chairs.get(name="Chair 2")
    services.book_visit(
        course=course, chair=extended, starts_at=at(MONDAY, 9), by=sam, now=timezone.now()
    )

    response = login(alex).post(f"/schedule/staff/chairs/{extended.pk}/", {"capabilities": []})

    assert response.status_code == 400
    form = {c.pk: f for c, _, f in response.context["chairs"]}[extended.pk]
    assert form.errors == {
        "capabilities": [
            "Visits booked in Chair 2 need extended (the first Mon 30 Nov 09:00); move them to "
            "another chair first"
        ]
    }
    assert Chair.objects.get(pk=extended.pk).capabilities == ["extended"]


# The day board


def board(client, day: dt.date) -> str:
    return client.get("/schedule/", {"day": f"{day}", "fragment": "1"}).content.decode()


def strip_rows(html: str) -> list[list[str]]:
    section = re.search(r'<section class="staffing".*?</section>', html, re.DOTALL)
    if section is None:
        return []
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", section.group(0), re.DOTALL)[1:]
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td>(.*?)</td>", row, re.DOTALL)
        ]
        for row in rows
    ]


def test_board_strip_flags_the_stretches_that_are_short(login, staffed, pat, ada, ben, sam):
    book_series(pat, ada, sam)
    client = login(ben)
    staffed = board(client, MONDAY)
    staffed_rows = strip_rows(staffed)

    # Made short behind the services' back: Ben's Monday shift goes.
    Shift.objects.filter(staff=ben, starts_at=at(MONDAY, 8)).delete()
    html = board(client, MONDAY)

    assert staffed_rows == [
        ["08:00–08:15", "1", "0.50 of 1", "yes", ""],
        ["08:15–08:55", "1", "1.00 of 1", "yes (needed)", ""],
        ["08:55–09:55", "1", "0.50 of 1", "yes", ""],
        ["09:55–12:00", "1", "0.00 of 1", "yes", ""],
        ["12:00–18:00", "0", "0.00 of 0", "no", ""],
    ]
    assert strip_rows(html) == [
        ["08:00–08:15", "0", "0.50 of 0", "yes", "Short"],
        ["08:15–08:55", "0", "1.00 of 0", "yes (needed)", "Short"],
        ["08:55–09:55", "0", "0.50 of 0", "yes", "Short"],
        ["09:55–12:00", "0", "0.00 of 0", "yes", ""],
        ["12:00–18:00", "0", "0.00 of 0", "no", ""],
    ]
    assert html.count('<tr class="short">') == 3
    # The board leads with the chairs; the shortfall, joined into one stretch, is named above
    # them (issue 13, item 6).
    assert "Short of staff" not in staffed
    notice = re.search(r'<p class="flash warning" role="status">(.*?)</p>', html)
    assert notice is not None
    assert re.sub(r"<[^>]+>", "", notice.group(1)) == (
        "Short of staff 08:00–09:55: see Staffing below the chairs."
    )
    assert html.index("Short of staff") < html.index('class="chairs"') < html.index("Staffing</h2>")


def test_board_strip_merges_stretches_with_the_same_figures(login, north, ada, ben, alex):
    staff.set_phase_staffing(site=north, rules=RULES, by=alex, now=NOW)
    nina = make_user("nina", "nurse", north)
    add_shift(north, ben, StaffRole.NURSE, MONDAY, 8, 12, alex)
    add_shift(north, nina, StaffRole.NURSE, MONDAY, 12, 18, alex)  # Nina takes over at noon
    add_shift(north, ada, StaffRole.PRESCRIBER, MONDAY, 8, 18, alex)

    rows = strip_rows(board(login(ben), MONDAY))

    assert rows == [["08:00–18:00", "1", "0.00 of 1", "yes", ""]]


def test_board_has_no_strip_where_staffing_is_not_checked_or_the_site_is_closed(
    login, staffed, north, ben, alex
):
    client = login(ben)
    saturday = board(client, MONDAY + dt.timedelta(days=5))
    checked_page = client.get("/schedule/", {"day": f"{MONDAY:%Y-%m-%d}"}).content.decode()
    PhaseStaffing.objects.filter(site=north).delete()

    unchecked = board(client, MONDAY)

    assert strip_rows(saturday) == strip_rows(unchecked) == []
    assert 'aria-label="Staffing"' not in saturday + unchecked
    # The page (not the refreshed fragment) says so where staffing is unchecked.
    page = client.get("/schedule/", {"day": f"{MONDAY:%Y-%m-%d}"}).content.decode()
    assert "Staffing is not checked at this site: bookings count chairs only" in page
    assert "Staffing is not checked" not in checked_page


def test_board_shows_each_visits_planned_phases(login, north, pat, ada, ben, sam):
    book_series(pat, ada, sam)

    page = login(ben).get("/schedule/", {"day": "2026-11-30"}).content.decode()
    fragment = board(login(ben), MONDAY)

    line = "check-in 08:00 · infusion 08:15–08:55 · recovery until 09:55 · out 10:00"
    assert f'<span class="plan">{line}</span>' in fragment
    assert page.count(line) == 1  # the full page includes the fragment once


def test_board_strip_is_inside_the_refreshed_part_of_the_page(login, staffed, ben):
    page = login(ben).get("/schedule/", {"day": "2026-11-30"}).content.decode()

    refreshed = re.search(r"<div class=\"board\" data-refresh=.*", page, re.DOTALL).group(0)

    assert '<section class="staffing"' in refreshed
    assert 'href="/schedule/staff/?site=' in page  # the board links to the staffing page
