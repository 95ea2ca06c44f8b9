"""Print and export in a real browser (issue 13, item 8): a nurse prints a visit's discharge
instructions from the patient page, and the front desk exports the patient list it searched,
at desk and at phone size."""

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from django.utils import timezone

from sustain.scheduling.models import Appointment
from tests.sustain import clinic_builders as build
from tests.sustain.browser.test_patient_page import chromium_page, needs_chromium
from tests.sustain.second_factor import PASSWORD
from tests.sustain.second_factor import sign_in_page as sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SIZES = [(1100, 1400), (390, 844)]  # a desk, a phone


@pytest.fixture
def booked(north, ada, ben, sam, pat) -> list[Appointment]:
    north.address, north.phone = "12 Elm Street\nAlbany, NY 12207", "518-555-0142"
    north.save(update_fields=["address", "phone"])
    now = timezone.now()
    course = build.ready_for_series(
        pat, prescriber=ada, nurse=ben, now=now, phq9_total=14, gad7_total=11
    )
    first = now.astimezone(north.tz) + dt.timedelta(days=7)
    visits = build.book_series(course, sam, first=first.replace(hour=8, minute=0), now=now)
    for user in (ben, sam):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    return visits


@needs_chromium
@pytest.mark.parametrize(("width", "height"), SIZES)
def test_nurse_prints_the_discharge_instructions(live_server, pat, booked, width, height):
    with chromium_page(width, height) as page:
        page.goto(f"{live_server.url}/patients/{pat.pk}/")
        sign_in(page, "ben")
        link = page.get_by_role("link", name="Discharge instructions (PDF)").first
        href = link.get_attribute("href")
        assert href == f"/visits/{booked[0].pk}/discharge.pdf"
        pdf = page.request.get(live_server.url + href)
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.body().startswith(b"%PDF-")
        consent = page.get_by_role("link", name="Print the consent form (PDF)")
        assert page.request.get(live_server.url + consent.get_attribute("href")).ok


@needs_chromium
@pytest.mark.parametrize(("width", "height"), SIZES)
def test_front_desk_exports_the_patient_list_it_searched(
    live_server, north, sam, pat, booked, width, height
):
    build.register(north, sam, "Una", "Other", on=timezone.localdate(timezone=north.tz))
    with chromium_page(width, height) as page:
        page.goto(f"{live_server.url}/")
        sign_in(page, "sam")
        page.get_by_label("Search").fill("qui")
        with page.expect_navigation():
            page.get_by_role("button", name="Search").click()
        with page.expect_download() as download:
            page.get_by_role("button", name="Export CSV").click()
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        assert [(r["family_name"], r["given_name"]) for r in rows] == [("Quinn", "Pat")]
        assert "open_alerts" not in rows[0]
