"""Issue 5 in a real browser: a scheduler puts a nurse and a prescriber on shift, books two
series that must share the one nurse, and the day board shows the staffing it left."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.utils import timezone

from sustain.care import services as care
from sustain.scheduling import staff
from sustain.scheduling.models import Appointment
from tests.sustain.browser.test_patient_page import SCREENSHOTS, chromium_page, needs_chromium
from tests.sustain.conftest import make_user
from tests.sustain.scheduling.test_staffing import put_on_shift
from tests.sustain.second_factor import sign_in_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@needs_chromium
def test_scheduler_staffs_a_day_and_books_two_series_that_share_the_nurse(
    live_server, north, ada, ben, sam, pat
):
    today = dt.datetime.now(tz=zoneinfo.ZoneInfo("America/New_York")).date()
    monday = today + dt.timedelta(days=7 - today.weekday())  # next week's Monday
    admin = make_user("alex", "clinic_admin", north)
    # One nurse looks after one infusing patient; a prescriber must be on site for it.
    staff.set_phase_staffing(
        site=north,
        rules={"check_in": (2, False), "infusion": (1, True), "recovery": (2, False)},
        by=admin,
        now=dt.datetime.now(tz=dt.UTC),
    )
    other = care.register_patient(
        by=sam, site=north, given_name="Noor", family_name="Second", sex="female",
        date_of_birth=dt.date(1979, 3, 3), phone="", email="", primary_condition="depression",
        weight_kg=Decimal("64"), today=today, now=timezone.now()
    )  # fmt: skip
    for patient in (pat, other):
        care.enrol_patient(
            patient=patient,
            protocol_key="depression-induction",
            protocol_version=1,
            by=ada,
            now=timezone.now(),
        )
    # Wednesday and Friday as set up before; Monday in the browser.
    put_on_shift(north, nurse=ben, prescriber=ada, by=admin, days=(2, 4), first=monday)
    sam.set_password("correct horse battery staple")
    sam.save(update_fields=["password"])

    with chromium_page(width=1300) as page:
        page.goto(f"{live_server.url}/schedule/staff/?week={monday:%Y-%m-%d}")
        sign_in_page(page, "sam")
        for person, role in ((ben, "nurse"), (ada, "prescriber")):
            page.select_option("#id_staff", str(person.pk))
            page.select_option("#id_role", role)
            page.fill("#id_day", f"{monday:%Y-%m-%d}")
            page.fill("#id_starts", "08:00")
            page.fill("#id_ends", "12:00")
            page.fill("#id_weeks", "3")
            page.click("button:has-text('Add')")
            page.wait_for_load_state()
        rota = page.locator("table.rota").inner_text()
        assert (
            rota.count("08:00–12:00") == 6
        )  # Monday's two added here, and Wednesday's and Friday's

        for patient in (pat, other):
            page.goto(f"{live_server.url}/patients/{patient.pk}/series/")
            page.fill("#id_first_day", f"{monday:%Y-%m-%d}")
            page.click("button:has-text('Find visits')")
            page.click("button:has-text('Book these 6 visits')")
            page.wait_for_load_state()

        page.goto(f"{live_server.url}/schedule/?day={monday:%Y-%m-%d}")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "day-board-staffing.png", full_page=True)
        board = page.locator("div.board").inner_text()
        strip = page.locator(".staffing").inner_text()

    # The second infusion waits for the nurse: 10:00, after the first (8:15–8:55) and its
    # recovery, which takes half of her until 9:55.
    assert "check-in 08:00 · infusion 08:15–08:55 · recovery until 09:55 · out 10:00" in board
    assert "check-in 09:45 · infusion 10:00–10:40 · recovery until 11:40 · out 11:45" in board
    assert "Short" not in strip
    assert "1.00 of 1" in strip
    assert Appointment.objects.count() == 12
