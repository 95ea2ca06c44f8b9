"""Issue 10's done-when: one infusion day at the chair, end to end, on a tablet (a portrait
iPad, 820 × 1180) in headless Chromium. The clock is moved process-wide (time_machine) so the
live server sees the visit's day, the 15-minute readings and the hour of observation."""

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
import time_machine

from sustain.accounts.models import Site, User
from sustain.care.enums import Timepoint
from sustain.infusion import services as infusion
from sustain.infusion.enums import EventKind, Stage
from sustain.infusion.models import ChairsideRecord
from sustain.ledger.visits import visit_ledger
from sustain.scheduling.enums import VisitPhase
from sustain.scheduling.models import Appointment
from tests.sustain.browser.test_patient_page import SCREENSHOTS, chromium_page, needs_chromium
from tests.sustain.clinic_builders import (
    at,
    book_series,
    give_infusion,
    phq9,
    ready_for_series,
    register,
)
from tests.sustain.second_factor import PASSWORD
from tests.sustain.second_factor import sign_in_page as sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

TABLET = {"width": 820, "height": 1180}  # a portrait iPad
CALM = {"systolic": 122, "diastolic": 78, "rate": 72, "spo2": 98, "breaths": 14}
DURING = {"systolic": 131, "diastolic": 83, "rate": 79, "spo2": 97, "breaths": 15}
TOO_HIGH = {"systolic": 185, "diastolic": 95, "rate": 88, "spo2": 97, "breaths": 16}
AFTER = {"systolic": 126, "diastolic": 80, "rate": 74, "spo2": 98, "breaths": 14}
VITALS_LABELS = {
    "systolic": "Systolic (mmHg)",
    "diastolic": "Diastolic (mmHg)",
    "rate": "Heart rate (/min)",
    "spo2": "SpO₂ (%)",
    "breaths": "Respiratory rate (/min)",
}


def mid_series_visit(north: Site, *, ada: User, ben: User, sam: User) -> Appointment:
    """A patient at infusion 3 of 6: infusions 1 and 2 given (Monday and Wednesday of a week
    ahead of the real clock, so the browser's session cookie is never in its past), and the
    pre-infusion PHQ-9 of Friday's visit done 15 minutes before it."""
    real_today = dt.datetime.now(tz=north.tz).date()
    monday = real_today + dt.timedelta(days=14 - real_today.weekday())
    patient = register(north, sam, "Rowan", "Tablet", on=monday - dt.timedelta(days=3))
    course = ready_for_series(
        patient, prescriber=ada, nurse=ben, now=at(north, monday - dt.timedelta(days=3), 10),
        phq9_total=18, gad7_total=12,
    )  # fmt: skip
    visits = book_series(
        course, sam, first=at(north, monday, 8), now=at(north, monday - dt.timedelta(days=3), 11)
    )
    give_infusion(visits[0], ben, prescriber=ada)
    give_infusion(visits[1], ben, pre_phq9=phq9(15), prescriber=ada)
    visit = visits[2]
    before = visit.starts_at - dt.timedelta(minutes=15)
    infusion.record_visit_assessment(
        appointment=visit, instrument="phq9", answers=phq9(13), timepoint=Timepoint.PRE_INFUSION,
        by=ben, completed_at=before, now=before,
    )  # fmt: skip
    return visit


def press(page: "Page", button: str) -> str:
    """Click a button that posts a form; return the page's messages after the redirect."""
    with page.expect_navigation():
        page.get_by_role("button", name=button, exact=True).click()
    return " ".join(page.locator("p.flash").all_inner_texts())


def record_vitals(page: "Page", vitals: Mapping[str, int]) -> str:
    for key, label in VITALS_LABELS.items():
        page.get_by_label(label).fill(str(vitals[key]))
    return press(page, "Record vital signs")


def advance(traveller: time_machine.Traveller, page: "Page", minutes: int) -> None:
    """Move the clock on by `minutes`, reloading the page every 10 minutes so the session (15
    idle minutes) stays alive; the caller's next request follows the last move."""
    while minutes > 0:
        step = min(minutes, 10)
        traveller.shift(dt.timedelta(minutes=step))
        minutes -= step
        if minutes:
            page.reload()


def serious_accessibility_violations(page: "Page") -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    from axe_playwright_python.sync_playwright import Axe  # noqa: PLC0415 - only with chromium

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"])
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def discharge_with(page: "Page", *, dissociation: bool, escort: bool) -> str:
    for item in ("Activity", "Respiration", "Circulation", "Consciousness", "Oxygen saturation"):
        page.get_by_label(item).select_option("2")
    page.get_by_label("Dissociation resolved").set_checked(dissociation)
    page.get_by_label("Escort present").set_checked(escort)
    return press(page, "Discharge")


@needs_chromium
def test_nurse_runs_an_infusion_day_at_the_chair_on_a_tablet(
    live_server, north, ada, ben, sam, stocked
):
    visit = mid_series_visit(north, ada=ada, ben=ben, sam=sam)
    for user in (ben, ada):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    previous = visit.course.infusions.order_by("confirmed_at").last()
    assert previous is not None
    # The patient arrives once 48 h have passed since infusion 2 started (the protocol's gap).
    arrived = previous.confirmed_at + dt.timedelta(hours=48, minutes=1)
    assert arrived.astimezone(north.tz).date() == visit.starts_at.astimezone(north.tz).date()
    chair = f"{live_server.url}/visits/{visit.pk}/infusion/"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    with time_machine.travel(arrived, tick=True) as traveller, chromium_page(**TABLET) as page:
        page.goto(chair)
        sign_in(page, "ben")
        assert press(page, "The patient has arrived: check in") == "Checked in."

        # The gate lists what is missing, then every check holds once answered.
        gate = page.locator("ul.gate").inner_text()
        assert "Confirm the patient's identity" in gate
        assert "Record the pre-infusion vital signs" in gate
        page.screenshot(path=SCREENSHOTS / "infusion-day-tablet-gate.png", full_page=True)
        now = dt.datetime.now(tz=north.tz)
        page.get_by_label("Identity confirmed").check()
        page.get_by_label("Last ate (site's time)").fill(
            f"{now - dt.timedelta(hours=10):%Y-%m-%dT%H:%M}"
        )
        page.get_by_label("Last drank clear fluids").fill(
            f"{now - dt.timedelta(hours=3):%Y-%m-%dT%H:%M}"
        )
        page.get_by_label("A responsible adult takes them home").check()
        page.get_by_label("Will not drive today").check()
        page.get_by_label("Pregnancy test").select_option("not_applicable")
        page.get_by_label("Asked about alcohol and drug use").check()
        page.get_by_label("Asked about medication changes").check()
        assert press(page, "Save the checks") == "Checks saved."
        assert (
            page.locator("ul.gate").inner_text() == "✘ Record the pre-infusion vital signs (nurse)"
        )
        assert record_vitals(page, CALM) == "Vital signs recorded."
        assert page.locator("ul.gate").count() == 0
        assert "Every check holds: the infusion may start." in page.inner_text("main")

        # The dose verified and drawn from a numbered vial of the site's stock, and started.
        assert page.locator("p.dose").inner_text() == "32 mg"
        vial = stocked[1]
        page.get_by_label("Vial drawn from").select_option(str(vial.pk))
        page.get_by_label(
            "I have checked the patient, the weight, the dose and the pump rate"
        ).check()
        assert press(page, "Verify, draw and start") == "Infusion started."
        assert page.locator(".bar .status").inner_text() == "Infusing"
        assert serious_accessibility_violations(page) == []

        # Four readings 15 min apart; the fourth is past the stop threshold.
        for vitals in (DURING, DURING, DURING, TOO_HIGH):
            advance(traveller, page, 15)
            assert record_vitals(page, vitals) == "Vital signs recorded."
        assert page.locator(".bar .status").inner_text() == "Stopped: a prescriber decides"
        alert = " ".join(page.get_by_role("alert").inner_text().split())
        assert alert == "Stopped. A prescriber decides whether it resumes."
        assert "Systolic 185 mmHg is above the stop threshold 180 mmHg" in page.inner_text("table")
        threshold = page.locator("svg.vitals line.threshold").first
        assert threshold.evaluate("line => getComputedStyle(line).strokeDasharray") != "none"
        page.screenshot(path=SCREENSHOTS / "infusion-day-tablet-stopped.png", full_page=True)
        assert page.get_by_role("button", name="Resume (prescriber)").count() == 0
        day = visit.starts_at.astimezone(north.tz).date()
        page.goto(f"{live_server.url}/schedule/?day={day:%Y-%m-%d}")
        board = page.locator("div.visit.infusing").inner_text()
        assert "infusion 3 · Infusing" in board
        assert "Ledger open: 32 mg drawn, not yet given" in board

        # The prescriber, on her own tablet, resumes with a reason.
        prescriber = page.context.browser.new_context(viewport=TABLET).new_page()
        prescriber.goto(chair)
        sign_in(prescriber, "ada")
        prescriber.get_by_label("Reason").fill("Rechecked at 150/90 after 5 min: resume")
        assert press(prescriber, "Resume (prescriber)") == "Infusion resumed."
        prescriber.context.close()

        page.goto(chair)
        assert page.locator(".bar .status").inner_text() == "Infusing"
        # Too high again: stopped, not resumed; the nurse ends it with what the pump delivered
        # and wastes the rest with the prescriber as witness.
        advance(traveller, page, 2)
        assert record_vitals(page, TOO_HIGH) == "Vital signs recorded."
        page.get_by_label("Stopped: mg the pump delivered").fill("28.5")
        assert press(page, "End the infusion: recovery") == "Infusion ended: recovery."
        ledger = page.locator("section", has_text="Controlled-substance ledger")
        assert "3.5 mg drawn for this visit is neither given nor wasted" in ledger.inner_text()
        page.locator("select[name=witness]").select_option(label="ada")
        page.get_by_label("Witness's password").fill(PASSWORD)
        page.get_by_label("I confirm the remainder is wasted").check()
        assert press(page, "Waste the remainder (3.5 mg), witnessed") == (
            "Remainder wasted, witnessed."
        )
        row = " ".join(ledger.locator("tbody tr").inner_text().split())
        assert row == f"lot {vial.lot.lot_number} #2 (50 mg/mL) 32 28.5 3.5 ada"

        # The CADSS, through the page's link.
        page.get_by_role("link", name="Record the CADSS").click()
        page.get_by_label("Timepoint").select_option("follow_up")
        for item in range(1, 24):
            page.check(f"input[name='cadss-{item}'][value='{1 if item <= 2 else 0}']")
        assert press(page, "Record CADSS") == "CADSS recorded: 2."
        page.goto(chair)

        # Discharge is refused right after the infusion: the observation time is named.
        discharge = {"dissociation": True, "escort": True}
        assert discharge_with(page, **discharge) == (
            "Observed 0 min of the 60 min needed after the infusion; "
            "take the vital signs after the infusion"
        )
        assert page.locator(".bar .status").inner_text() == "Recovering"

        # An hour of observation with readings every 15 min, then the patient may leave.
        for _ in range(4):
            advance(traveller, page, 15)
            assert record_vitals(page, AFTER) == "Vital signs recorded."
        advance(traveller, page, 2)
        assert discharge_with(page, **discharge) == "Discharged."
        assert "modified Aldrete 10" in page.locator("section", has_text="Signatures").inner_text()
        page.get_by_label("I confirm the record is complete and correct").check()
        assert press(page, "Sign the record") == "Signed."

        prescriber = page.context.browser.new_context(viewport=TABLET).new_page()
        prescriber.goto(chair)
        sign_in(prescriber, "ada")
        prescriber.get_by_label("I confirm I have reviewed the record").check()
        assert press(prescriber, "Co-sign (prescriber)") == "Co-signed: the record is locked."
        assert ": locked." in prescriber.locator("section", has_text="Signatures").inner_text()
        assert prescriber.locator(".bar .status").inner_text() == "Co-signed and locked"
        prescriber.screenshot(path=SCREENSHOTS / "infusion-day-tablet.png", full_page=True)

        # The record as a PDF, fetched with the prescriber's session.
        href = prescriber.get_by_role("link", name="record (PDF)").get_attribute("href")
        pdf = prescriber.request.get(f"{live_server.url}{href}")
        assert pdf.status == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.body().startswith(b"%PDF")
        prescriber.context.close()

    record = ChairsideRecord.objects.get(appointment=visit)
    assert record.stage == Stage.COSIGNED
    assert (record.nurse_signed_by, record.prescriber_signed_by) == (ben, ada)
    assert [e.kind for e in record.events.order_by("at")] == [
        EventKind.STOP, EventKind.RESUME, EventKind.STOP,
    ]  # fmt: skip
    assert record.vitals.count() == 10
    assert visit_ledger(visit).closed
    assert Appointment.objects.get(pk=visit.pk).phase == VisitPhase.DISCHARGED
    assert record.appointment.infusion.dose_mg == Decimal("32.0")
