"""Issue 13's done-when as one journey in a real browser, at desk and at phone size, each step
by the role that does it at a clinic:

1. the front desk (a scheduler) finds a patient by a part of the name;
2. registers a second patient of the same name and birth date: refused, the possible duplicate
   named, then registered when "Register anyway" is ticked;
3. corrects a date of birth, with a reason, and sees old → new under "Corrections";
4. the clinic administrator closes the site on the public holidays and sees the series search
   skip the next one;
5. the administrator invites a user with a role and sees them listed with it;
6. the front desk cancels a visit (its confirmation page), sees it struck through, re-books it;
7. a prescriber books a booster from the maintenance plan;
8. a nurse prints the discharge instructions: the PDF downloaded is the visit's document, which
   names the patient and the site (its text read from WeasyPrint's layout, as
   tests/sustain/test_documents.py reads it: pypdf is no dependency).

Every page visited fits the width (no sideways scrolling) and axe-core finds no serious or
critical violation on it. The data are built on the real clock: visits in the weeks ahead, booked
around the public holidays of the coming weeks, closed already; the administrator adds the
rest of the year's, and the series search is asked from the first of those."""

import datetime as dt
import re
from typing import TYPE_CHECKING

import holidays
import pytest
from django.utils import timezone

from sustain.accounts.models import Site, User
from sustain.care import services as care
from sustain.care.models import Patient
from sustain.clinic import documents, queries
from sustain.scheduling import hours
from sustain.scheduling.models import Appointment, Closure
from sustain_core import protocols
from tests.sustain import clinic_builders as build
from tests.sustain.browser.test_infusion_day import (
    PASSWORD,
    press,
    serious_accessibility_violations,
    sign_in,
)
from tests.sustain.browser.test_patient_page import SCREENSHOTS, chromium_page, needs_chromium
from tests.sustain.test_documents import text_of

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WEEKDAYS = 5  # the fixtures' sites open Monday to Friday
BOOKED_AHEAD = dt.timedelta(days=70)  # the visits booked here: two series and a booster


def close_the_coming_holidays(site: Site, admin: User, days_off: dict[dt.date, str]) -> dt.date:
    """Close the site on the public holidays of the next BOOKED_AHEAD days (the clinic books
    its visits around them), through the service; the first weekday holiday after them, the
    one the administrator's closing of its year adds."""
    today = timezone.now().astimezone(site.tz).date()
    horizon = today + BOOKED_AHEAD
    for day, name in sorted(days_off.items()):
        if today <= day <= horizon:
            hours.add_closures(
                site=site, first=day, last=None, reason=name, by=admin, now=timezone.now()
            )
    return min(d for d in days_off if d > horizon and d.weekday() < WEEKDAYS)


def in_maintenance(patient: Patient, *, ada: User, ben: User, sam: User, first: dt.datetime):
    """The patient's induction series booked from `first`, the review signed on the taper
    ("Weekly ×4 in responders"): booster 1 is due a week after the sixth visit
    (as tests/sustain/scheduling/test_boosters.py builds it)."""
    now = timezone.now()
    course = build.ready_for_series(
        patient, prescriber=ada, nurse=ben, now=now, phq9_total=18, gad7_total=12
    )
    build.book_series(course, sam, first=first, now=now)
    for status, given in (("ready", 0), ("induction", 1), ("review", 6)):
        care.change_course_status(
            course=course, status=status, by=ada, at=now, infusions_given=given
        )
    taper = protocols.PROTOCOLS[build.PROTOCOL].maintenance_options[0]
    care.sign_review(course=course, option=taper, summary={}, notes="", by=ada, now=now)


def discharge_text(pdf: bytes, nurse: User, visit: Appointment, times: list[dt.datetime]) -> str:
    """The text of the visit's discharge instructions, once `pdf` is shown to be that very
    document (WeasyPrint writes the same bytes for the same page; the page prints the minute
    it was made, one of `times`)."""
    visit, protocol, next_visit = queries.discharge_for_user(nurse, visit.pk)
    for now in times:
        html = documents.discharge_html(
            visit=visit, protocol=protocol, next_visit=next_visit, now=now
        )
        if documents.pdf(html) == pdf:
            return text_of(html)
    raise AssertionError("the download is not the visit's discharge instructions")


@needs_chromium
@pytest.mark.parametrize("width", [1300, 390])
def test_front_desk_and_administrator_journey(live_server, north, ada, ben, sam, alex, pat, width):
    north.address, north.phone = "12 Elm Street\nAlbany, NY 12207", "518-555-0142"
    north.save(update_fields=["address", "phone"])
    today = timezone.now().astimezone(north.tz).date()
    us = holidays.US(years=range(today.year, today.year + 2))
    holiday = close_the_coming_holidays(north, alex, dict(us.items()))
    monday = today + dt.timedelta(days=7 - today.weekday())
    now = timezone.now().astimezone(north.tz)  # its date is the site's today
    course = build.ready_for_series(
        pat, prescriber=ada, nurse=ben, now=now, phq9_total=14, gad7_total=11
    )
    visits = build.book_series(course, sam, first=build.at(north, monday, 8), now=now)
    rhea = build.register(north, sam, "Rhea", "Booster", on=today)
    in_maintenance(rhea, ada=ada, ben=ben, sam=sam, first=build.at(north, monday, 8))
    ida = build.register(north, sam, "Ida", "Early", on=today)
    build.enrol(ida, ada, now=now)
    for user in (ada, ben, sam, alex):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    third = visits[2].starts_at.astimezone(north.tz)
    seen: dict[str, tuple[list[str], int]] = {}

    def check(page: "Page", name: str) -> None:
        """The page as it stands: axe-core's serious violations and its scrolling width."""
        page.wait_for_load_state()
        seen[f"{len(seen) + 1:02} {name}"] = (
            serious_accessibility_violations(page),
            page.evaluate("document.documentElement.scrollWidth"),
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"\W+", "-", name).strip("-")
        page.screenshot(
            path=SCREENSHOTS / f"journey-{len(seen):02}-{slug}-{width}.png", full_page=True
        )

    def follow(page: "Page", link: "Locator", name: str) -> None:
        with page.expect_navigation():
            link.click()
        check(page, name)

    def as_user(page: "Page", username: str, path: str) -> None:
        page.context.clear_cookies()  # signed out
        page.goto(live_server.url + path)
        check(page, f"sign-in ({username})")
        sign_in(page, username)
        check(page, f"{path} ({username})")

    with chromium_page(width=width) as page:
        # 1. The front desk finds Pat by a part of her family name.
        as_user(page, "sam", "/")
        page.get_by_label("Search").fill("uin")
        follow(page, page.get_by_role("button", name="Search", exact=True), "search")
        found = page.locator("tbody tr").all_inner_texts()

        # 2. A second Pat Quinn born the same day: asked about, then registered anyway.
        follow(page, page.get_by_role("link", name="Register a patient"), "register")
        page.fill("#id_given_name", "Pat")
        page.fill("#id_family_name", "Quinn")
        page.fill("#id_date_of_birth", "1980-05-17")
        page.select_option("#id_sex", "female")
        page.select_option("#id_primary_condition", "depression")
        page.fill("#id_weight_kg", "61.5")
        page.fill("#id_height_cm", "158")
        follow(page, page.get_by_role("button", name="Register", exact=True), "register refused")
        asked = page.locator("[role=alert]").inner_text()
        page.get_by_label("Register anyway").check()
        registered = press(page, "Register")
        check(page, "registered")
        second_pat = page.url

        # 3. Pat's date of birth corrected, with the reason; the old value kept.
        page.goto(f"{live_server.url}/patients/{pat.pk}/")
        check(page, "patient")
        follow(page, page.get_by_role("link", name="Correct the details"), "correct the details")
        page.fill("#id_date_of_birth", "1980-07-15")
        page.fill("#id_reason", "typed wrong at registration")
        corrected_said = press(page, "Save the correction")
        check(page, "corrected")
        page.get_by_text("Corrections (1)").click()
        corrections = page.locator("#corrections").inner_text()

        # 4. The administrator closes the site on the public holidays; the series skips one.
        as_user(page, "alex", "/schedule/calendar/")
        page.fill("#id_country", "US")
        follow(page, page.get_by_role("button", name="Save", exact=True), "holiday country")
        page.fill("#id_year", str(holiday.year))
        closed_said = press(page, "Add the holidays")
        check(page, "holidays closed")
        closure_row = (
            page.locator("table.closures tr")
            .filter(has_text=f"{holiday:%a %-d %b %Y}")
            .inner_text()
        )
        page.goto(f"{live_server.url}/patients/{ida.pk}/series/")
        check(page, "series search")
        page.fill("#id_first_day", f"{holiday:%Y-%m-%d}")
        follow(page, page.get_by_role("button", name="Find visits"), "series proposal")
        proposal = page.locator("main").inner_text()

        # 5. The administrator invites a nurse; listed with the role.
        follow(page, page.get_by_role("link", name="Staff accounts"), "staff accounts")
        page.fill("#id_username", "dana")
        page.fill("#id_first_name", "Dana")
        page.fill("#id_last_name", "Reyes")
        page.fill("#id_email", "dana@clinic.example")
        page.get_by_label("Infusion nurse").check()
        invited_said = press(page, "Invite")
        check(page, "invited")
        dana = page.locator("tr").filter(has_text="Dana Reyes").inner_text()

        # 6. The front desk cancels Pat's third visit, then books it again.
        as_user(page, "sam", f"/patients/{pat.pk}/")
        row = page.locator("tbody tr").filter(has_text=f"{third:%Y-%m-%d %H:%M}")
        row.locator("summary").click()
        follow(page, row.get_by_role("link", name="Cancel visit…"), "cancel confirmation")
        page.get_by_label("Why").select_option("illness")
        follow(page, page.get_by_role("button", name="Cancel this visit"), "cancelled")
        struck = page.locator("tr.cancelled td.when").evaluate(
            "cell => getComputedStyle(cell).textDecorationLine"
        )
        cancelled = page.locator("tr.cancelled").inner_text()
        follow(page, page.locator("tr.cancelled").get_by_role("link", name="Re-book"), "re-book")
        page.fill("#id_start_time", "12:00")
        rebooked_said = press(page, "Book the visit")
        check(page, "re-booked")

        # 7. The prescriber books booster 1 from Rhea's maintenance plan.
        as_user(page, "ada", f"/patients/{rhea.pk}/")
        booster_1 = page.get_by_role("button", name="Book the earliest free time").first
        follow(page, booster_1, "booster booked")
        booster_said = " ".join(page.locator("p.flash").all_inner_texts())

        # 8. The nurse prints Pat's discharge instructions.
        as_user(page, "ben", f"/patients/{pat.pk}/")
        link = page.get_by_role("link", name="Discharge instructions (PDF)").first
        href = link.get_attribute("href")
        before = timezone.now()
        response = page.request.get(f"{live_server.url}{href}")  # with the nurse's session
        after = timezone.now()
        pdf, headers = response.body(), response.headers

    # 1.
    assert len(found) == 1 and "Quinn, Pat" in found[0]
    # 2.
    assert "Possibly already registered" in asked and "Quinn, Pat, born 1980-05-17" in asked
    assert registered == "Patient registered."
    assert re.fullmatch(rf"{live_server.url}/patients/\d+/", second_pat)
    assert Patient.objects.filter(family_name="Quinn", given_name="Pat").count() == 2
    # 3.
    assert corrected_said == "Details corrected; the old values are kept."
    assert "typed wrong at registration" in corrections
    assert "date of birth 1980-05-17 → 1980-07-15" in corrections
    # 4.
    closed = set(Closure.objects.filter(site=north).values_list("date", flat=True))
    assert holiday in closed and "public holiday" in closed_said
    assert us[holiday].split(" (")[0] in closure_row
    days = re.findall(r"\d{4}-\d\d-\d\d", proposal)
    assert len(days) == 6 and not closed & {dt.date.fromisoformat(d) for d in days}
    after_holiday = (holiday + dt.timedelta(days=n) for n in range(1, 10))
    assert days[0] == str(
        next(d for d in after_holiday if d.weekday() < WEEKDAYS and d not in closed)
    )
    # 5.
    assert "is invited" in invited_said and "Infusion nurse" in dana
    # 6.
    assert struck == "line-through"
    assert "Cancelled" in cancelled and "by sam: Patient unwell" in cancelled
    assert rebooked_said == "Visit 3 booked again."
    # 7.
    assert booster_said.startswith("Booster 1 booked: ")
    booster = rhea.courses.get().appointments.get(number=7, status="booked")
    booked_on = booster.starts_at.astimezone(north.tz)
    assert booster_said.startswith(f"Booster 1 booked: {booked_on:%a %d %b %H:%M}")
    assert booked_on.date() not in closed
    # 8.
    assert href == f"/visits/{visits[0].pk}/discharge.pdf"
    assert headers["content-type"] == "application/pdf" and pdf.startswith(b"%PDF-")
    assert 'filename="discharge-instructions.pdf"' in headers["content-disposition"]
    text = discharge_text(pdf, ben, visits[0], [before, after])
    for expected in (
        "Pat Quinn",
        "North Clinic",
        "12 Elm Street",
        "Albany, NY 12207",
        "518-555-0142",
    ):
        assert expected in text
    # Every page.
    for name, (violations, wide) in seen.items():
        assert violations == [], name
        assert wide <= width, f"{name}: {wide} px wide at {width} px"
