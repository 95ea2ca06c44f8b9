"""Issue 3's done-when: a link from the outbox, answered on a phone, seen by the clinic."""

import re

import pytest
from django.utils import timezone

from sustain.accounts.models import OutboxMessage
from sustain.portal import services as portal
from tests.sustain.browser.test_patient_page import SCREENSHOTS, chromium_page, needs_chromium
from tests.sustain.second_factor import sign_in_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@needs_chromium
def test_patient_answers_on_a_phone_and_the_nurse_sees_scores_and_alert(
    live_server, settings, ben, pat
):
    settings.SUSTAIN_BASE_URL = live_server.url
    portal.invite_patient(
        patient=pat, instrument_codes=["phq9", "gad7"], channel="email", timepoint="follow_up",
        by=ben, now=timezone.now(),
    )  # fmt: skip
    link = re.search(r"http://\S+/r/\S+/", OutboxMessage.objects.get().body).group(0)
    ben.set_password("correct horse battery staple")
    ben.save(update_fields=["password"])

    with chromium_page(width=390, height=844) as phone:
        phone.goto(link)
        assert "988" in phone.locator(".crisis").inner_text()
        for item, answer in enumerate([2, 2, 1, 1, 1, 1, 1, 1, 1], start=1):
            phone.get_by_role("group", name=re.compile(rf"^{item}\. ")).first.get_by_label(
                ["Not at all", "Several days", "More than half the days", "Nearly every day"][
                    answer
                ]
            ).check()
        for item in range(1, 8):
            phone.locator(f"input[name='gad7-{item}'][value='2']").check()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=SCREENSHOTS / "self-report-phone.png", full_page=True)
        phone.get_by_role("button", name="Send my answers").click()
        assert phone.locator("h1").inner_text() == "Thank you"
        phone.goto(link)
        assert "already been used" in phone.locator("main").inner_text()

        phone.goto(f"{live_server.url}/patients/{pat.pk}/")
        sign_in_page(phone, "ben")
        phone.wait_for_selector("h1:has-text('Quinn, Pat')")
        measures = phone.locator("section.measure")
        assert measures.count() == 2
        assert "latest 11 (moderate)" in measures.nth(0).inner_text()  # PHQ-9
        assert "latest 14 (moderate)" in measures.nth(1).inner_text()  # GAD-7
        assert "patient (link)" in measures.nth(0).inner_text()
        assert "Suicide item positive" in phone.get_by_role("alert").first.inner_text()
