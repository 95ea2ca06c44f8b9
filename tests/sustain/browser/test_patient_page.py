"""The walking skeleton in a real browser: headless Debian Chromium through Playwright."""

import contextlib
import datetime as dt
import os
import shutil
import zoneinfo
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone

from sustain.infusion import services as infusion

if TYPE_CHECKING:
    from playwright.sync_api import Page

from sustain.care import services as care
from sustain.care.protocol_versions import protocol_for
from sustain.clinic import story
from sustain.scheduling import services as scheduling
from sustain_core.protocols import split_sources
from tests.sustain.second_factor import sign_in_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CHROMIUM = shutil.which("chromium")
SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"
if not CHROMIUM and os.environ.get("CI"):
    raise RuntimeError("CI must run the browser tests: install Debian's chromium package")
needs_chromium = pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is not installed")


def ready_for_induction(course, *, by_nurse, by_prescriber, on: dt.date) -> None:
    """Consent recorded and the protocol's contraindication screen signed (all absent)."""
    now = dt.datetime.now(tz=dt.UTC)
    care.record_consent(course=course, signed_on=on, document="Consent v1", by=by_nurse, now=now)
    protocol = protocol_for(course)
    items = [*protocol.contraindications_absolute, *protocol.contraindications_relative]
    care.sign_contraindication_screen(
        course=course, answers=dict.fromkeys(items, False), notes="", by=by_prescriber, now=now
    )


@contextlib.contextmanager
def chromium_page(width: int = 1100, height: int = 1400) -> Iterator["Page"]:
    """A page in headless Debian Chromium.

    Playwright's sync API runs its event loop in a greenlet with its own context, where Django
    would open a second, never-closed connection: use the ORM before entering, not inside.
    """
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only with chromium

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking"]
        )
        yield browser.new_page(viewport={"width": width, "height": height})
        browser.close()


@needs_chromium
def test_nurse_signs_in_and_sees_series_chart_and_dose(live_server, ada, ben, sam, pat, stocked):
    started = dt.datetime.now(tz=zoneinfo.ZoneInfo("America/New_York")) - dt.timedelta(days=3)
    # A weight from the real today: doses need one measured within 30 days of the visit.
    care.record_weight(
        patient=pat,
        weight_kg=Decimal("70.0"),
        measured_on=started.date(),
        by=ben,
        now=timezone.now(),
    )
    course = care.enrol_patient(
        patient=pat,
        protocol_key="depression-induction",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )
    care.record_assessment(
        patient=pat, instrument="phq9", timepoint="baseline", by=ben,
        answers=dict(zip("123456789", [3, 3, 2, 2, 2, 2, 2, 2, 0], strict=True)),
        completed_at=started - dt.timedelta(days=1), now=timezone.now()
    )  # fmt: skip
    care.record_assessment(
        patient=pat, instrument="gad7", timepoint="baseline", by=ben,
        answers=dict.fromkeys("1234567", 2), completed_at=started - dt.timedelta(days=1),
        now=timezone.now(),
    )  # fmt: skip
    ready_for_induction(course, by_nurse=ben, by_prescriber=ada, on=started.date())
    visits = scheduling.book_series(
        course=course, earliest=started, by=sam, now=started - dt.timedelta(days=1)
    )  # booked the day before the series began: no visit is booked into the past
    infusion.record_visit_assessment(
        appointment=visits[0], instrument="phq9", timepoint="pre_infusion", by=ben,
        answers=dict(zip("123456789", [2, 2, 1, 1, 1, 1, 1, 1, 0], strict=True)),
        completed_at=visits[0].starts_at, now=timezone.now(),
    )  # fmt: skip
    story.uneventful_infusion(visits[0], ben, ada)
    ben.set_password("correct horse battery staple")
    ben.save(update_fields=["password"])

    with chromium_page() as page:
        page.goto(f"{live_server.url}/patients/{pat.pk}/")
        sign_in_page(page, "ben")

        page.wait_for_selector("h1:has-text('Quinn, Pat')")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "patient-mid-induction.png", full_page=True)
        assert page.locator("table").first.locator("tbody tr").count() == 6
        phq9_chart = page.locator("section.measure").first.locator("svg.chart")
        assert phq9_chart.locator("circle.point").count() == 2
        assert phq9_chart.locator("line.infusion").count() == 1
        assert page.locator(".dose").inner_text() == "35 mg"
        next_dose = page.locator("section.card", has_text="Next dose").inner_text()
        assert "Pump: 150.0 mL/h for 100 mL" in next_dose
        assert "Withdraw 0.7 mL from the 100 mL bag, then add 0.7 mL of 50 mg/mL" in next_dose


@needs_chromium
def test_a_present_absolute_contraindication_blocks_induction_in_the_browser(
    live_server, ada, ben, pat
):
    """Issue 11: a screen with pregnancy marked present showed a green tick and infusion 1
    went through. The prescriber signs the screen in the browser with pregnancy present; the
    course card lists it, and moving the course on is refused."""
    course = care.enrol_patient(
        patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada,
        now=timezone.now(),
    )  # fmt: skip
    care.record_consent(
        course=course, signed_on=timezone.now().astimezone(pat.site.tz).date(), by=ben,
        document="Consent v1",
        now=timezone.now(),
    )  # fmt: skip
    protocol = protocol_for(course)
    pregnancy = next(i for i in protocol.contraindications_absolute if i.startswith("Pregnancy"))
    pregnancy = split_sources(pregnancy).text  # as the screen and the card say it (issue 13)
    ada.set_password("correct horse battery staple")
    ada.save(update_fields=["password"])

    with chromium_page() as page:
        page.goto(f"{live_server.url}/patients/{pat.pk}/")
        sign_in_page(page, "ada")
        page.get_by_text("Contraindication screen", exact=True).click()
        for fieldset in page.locator("fieldset.item").all():
            present = pregnancy in fieldset.locator("legend").inner_text()
            fieldset.get_by_label("Present" if present else "Absent").check()
        page.get_by_role("button", name="Sign the screen").click()
        page.wait_for_selector("text=An absolute contraindication is present")
        page.get_by_label("Move to").select_option("ready")
        page.get_by_role("button", name="Change phase").click()

        page.wait_for_selector("text=Ready needs: no absolute contraindication")
        card = page.locator("section.card", has_text="Course").first.inner_text()
        assert f"✘ Absolute contraindication present: {pregnancy}" in card
        assert "✔ Contraindication screen" not in card
    course.refresh_from_db()
    assert course.status == "screening"
