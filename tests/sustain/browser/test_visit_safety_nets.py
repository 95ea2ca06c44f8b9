"""Issue 13, item 4 in a real browser, at desk and at phone size: a scheduler cancels a visit
through its confirmation page, sees it struck through and re-books it, then previews a move
that re-times the rest of the series and saves it. Each new page: no serious axe-core
violation and no sideways scrolling."""

import datetime as dt

import pytest
from django.utils import timezone

from sustain.care import services as care
from sustain.scheduling import services as scheduling
from tests.sustain.browser.test_infusion_day import serious_accessibility_violations
from tests.sustain.browser.test_patient_page import SCREENSHOTS, chromium_page, needs_chromium
from tests.sustain.second_factor import sign_in_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test user's


@needs_chromium
@pytest.mark.parametrize("width", [1300, 390])
def test_scheduler_cancels_rebooks_and_previews_a_move(live_server, north, ada, sam, pat, width):
    tz = north.tz
    today = timezone.now().astimezone(tz).date()
    monday = today + dt.timedelta(days=7 - today.weekday())
    course = care.enrol_patient(
        patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada,
        now=timezone.now(),
    )  # fmt: skip
    visits = scheduling.book_series(
        course=course, earliest=dt.datetime.combine(monday, dt.time(0), tzinfo=tz), by=sam,
        now=timezone.now(),
    )  # fmt: skip
    sam.set_password(PASSWORD)
    sam.save(update_fields=["password"])
    third = visits[2].starts_at.astimezone(tz)
    second = visits[1].starts_at.astimezone(tz)
    seen: dict[str, tuple[list[str], int]] = {}

    def check(page, name: str) -> None:
        seen[name] = (
            serious_accessibility_violations(page),
            page.evaluate("document.documentElement.scrollWidth"),
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"visit-{name}-{width}.png", full_page=True)

    with chromium_page(width=width) as page:
        page.goto(f"{live_server.url}/patients/{pat.pk}/")
        sign_in_page(page, "sam")
        row = page.locator("tbody tr").filter(has_text=f"{third:%Y-%m-%d %H:%M}")
        row.locator("summary").click()
        row.get_by_role("link", name="Cancel visit…").click()
        page.wait_for_load_state()
        check(page, "cancel")
        confirmation = page.content()
        page.get_by_label("Why").select_option("illness")
        page.click("button:text-is('Cancel this visit')")
        page.wait_for_load_state()
        cancelled = page.locator("tr.cancelled").inner_text()
        page.locator("tr.cancelled").get_by_role("link", name="Re-book").click()
        page.wait_for_load_state()
        check(page, "rebook")
        page.fill("#id_start_time", "12:00")
        page.click("button:text-is('Book the visit')")
        page.wait_for_load_state()
        rebooked = page.content()

        row = page.locator("tbody tr").filter(has_text=f"{second:%Y-%m-%d %H:%M}")
        row.locator("summary").click()
        row.get_by_label("Day").fill(f"{second + dt.timedelta(days=1):%Y-%m-%d}")
        row.get_by_label("Time").fill(f"{second:%H:%M}")
        row.get_by_role("button", name="Preview the move").click()
        page.wait_for_load_state()
        check(page, "move")
        preview = page.content()
        page.get_by_role("button", name="Save these").click()
        page.wait_for_load_state()
        moved = page.content()

    assert f"This cancels <strong>visit 3</strong> of {pat}" in confirmation
    assert "Cancelled" in cancelled and "by sam: Patient unwell" in cancelled
    assert "Visit 3 booked again." in rebooked
    assert "Nothing is saved until you confirm." in preview
    assert "Visit 2 moved. Visits 3" in moved
    for name, (violations, wide) in seen.items():
        assert violations == [], name
        assert wide <= width, name
