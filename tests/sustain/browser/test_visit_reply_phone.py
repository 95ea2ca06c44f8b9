"""Issue 13, item 9: the patient answers a visit reminder's link on a phone; the scheduler sees
the request on the day page."""

import datetime as dt
import re

import pytest
import time_machine
from django.utils import timezone

from sustain.accounts.models import OutboxMessage
from sustain.scheduling.models import Appointment
from sustain.scheduling.reminders import send_due_reminders
from tests.sustain.browser.test_infusion_day import serious_accessibility_violations
from tests.sustain.browser.test_patient_page import SCREENSHOTS, chromium_page, needs_chromium
from tests.sustain.scheduling.test_visit_replies import book
from tests.sustain.second_factor import sign_in_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@needs_chromium
def test_patient_asks_to_change_a_visit_on_a_phone(live_server, settings, pat, ada, sam):
    settings.SUSTAIN_BASE_URL = live_server.url
    now = timezone.now()
    with time_machine.travel(dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC), tick=False):
        visit = book(pat, ada, sam, dt.datetime(2026, 11, 30, 13, tzinfo=dt.UTC))
    # The visit is tomorrow: its reminder falls due now.
    Appointment.objects.filter(pk=visit.pk).update(
        starts_at=now + dt.timedelta(hours=30), ends_at=now + dt.timedelta(hours=32)
    )
    send_due_reminders(now=now)
    link = re.search(r"http://\S+/v/\S+/", OutboxMessage.objects.get().body).group(0)
    sam.set_password("correct horse battery staple")
    sam.save(update_fields=["password"])

    with chromium_page(width=390, height=844) as phone:
        phone.goto(link)
        assert phone.locator("h1").inner_text() == "Your visit at North Clinic"
        assert "Quinn" not in phone.locator("main").inner_text()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        assert serious_accessibility_violations(phone) == []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=SCREENSHOTS / "visit-reply-phone.png", full_page=True)
        phone.get_by_label("Note for the clinic (optional)").fill("Afternoons are better")
        phone.get_by_role("button", name="Ask to change").click()
        assert phone.locator("h1").inner_text() == "Thank you"
        assert "will contact you to find another time" in phone.locator("main").inner_text()
        assert serious_accessibility_violations(phone) == []
        phone.goto(link)
        assert "already been used" in phone.locator("main").inner_text()

        day = (now + dt.timedelta(hours=30)).astimezone(pat.site.tz).date()
        phone.goto(f"{live_server.url}/schedule/?day={day:%Y-%m-%d}")
        sign_in_page(phone, "sam")
        requests = phone.locator("section[aria-labelledby=change-requests]")
        assert "“Afternoons are better”" in requests.inner_text()
        requests.get_by_role("button", name="Keep this time").click()
        assert "the change request is closed" in phone.locator("main").inner_text()
