"""Issue 13, item 2 in a real browser, at desk and at phone size: a clinic administrator adds a
user with a role; the new nurse chooses a password from the invitation's link, signs in and
lands on the day board; the auditor lands on the audit page, and a page refused to them keeps
the navigation and the sign-out. The new nurse enrols her second factor at that first sign-in
(issue 14)."""

import base64
import re

import pytest
from django_otp.oath import totp

from tests.sustain.browser.test_infusion_day import serious_accessibility_violations
from tests.sustain.browser.test_patient_page import SCREENSHOTS, chromium_page, needs_chromium
from tests.sustain.conftest import make_user
from tests.sustain.second_factor import PASSWORD
from tests.sustain.second_factor import sign_in_page as sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@needs_chromium
@pytest.mark.parametrize("width", [1300, 390])
def test_administrator_adds_a_nurse_who_sets_a_password_and_lands_on_the_day(
    live_server, north, width
):
    alex = make_user("alex", "clinic_admin", north)
    ivy = make_user("ivy", "auditor", north)
    for user in (alex, ivy):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])

    with chromium_page(width=width) as page:
        page.goto(f"{live_server.url}/accounts/login/")
        sign_in(page, "alex")
        assert page.url == f"{live_server.url}/schedule/"  # the administrator's landing
        page.get_by_role("link", name="Staff accounts").click()
        page.wait_for_load_state()
        page.fill("#id_username", "dana")
        page.fill("#id_first_name", "Dana")
        page.fill("#id_last_name", "Reyes")
        page.fill("#id_email", "dana@clinic.example")
        page.get_by_label("Infusion nurse").check()
        with page.expect_navigation():
            page.click("button:text-is('Invite')")
        listed = page.content()
        wide = page.evaluate("document.documentElement.scrollWidth")
        violations = serious_accessibility_violations(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"staff-accounts-{width}.png", full_page=True)
        # With the default backend the invitation waits in the outbox, for the administrator.
        page.get_by_role("link", name="Outbox").click()
        page.wait_for_load_state()
        (path,) = set(
            re.findall(
                r'href="http://127\.0\.0\.1:8000(/accounts/set-password/[^"]+/)"', page.content()
            )
        )
        page.click("button:text-is('Sign out')")
        page.wait_for_load_state()

        page.goto(live_server.url + path)
        page.fill("#id_new_password1", "a brand new passphrase")
        page.fill("#id_new_password2", "a brand new passphrase")
        with page.expect_navigation():
            page.click("button:text-is('Save the password')")
        page.get_by_role("link", name="Sign in").click()
        page.wait_for_load_state()
        # Her first sign-in: the password, then she enrols an authenticator app with the key
        # the page shows (typed in, as an app would be given it) and sees ten recovery codes.
        page.fill("#id_username", "dana")
        page.fill("#id_password", "a brand new passphrase")
        with page.expect_navigation():
            page.click("button[type=submit]")
        enrol_wide = page.evaluate("document.documentElement.scrollWidth")
        enrol_violations = serious_accessibility_violations(page)
        secret = page.locator("#otp-secret").inner_text()
        key = base64.b32decode(secret + "=" * (-len(secret) % 8))
        page.fill("#id_token", f"{totp(key):06d}")
        with page.expect_navigation():
            page.click("main button[type=submit]")
        recovery_codes = page.locator("ul.recovery-codes li").count()
        with page.expect_navigation():
            page.get_by_role("link", name="I have kept them: continue").click()
        nurse_lands = page.url
        page.click("button:text-is('Sign out')")
        page.wait_for_load_state()

        sign_in(page, "ivy")
        auditor_lands = page.url
        page.goto(f"{live_server.url}/patients/new/")
        refused = page.content()

    assert "is invited" in listed and "Dana Reyes" in listed and "Infusion nurse" in listed
    assert wide <= width  # no sideways scrolling, at the desk or on a phone
    assert violations == []
    assert (enrol_wide <= width, enrol_violations, recovery_codes) == (True, [], 10)
    assert nurse_lands == f"{live_server.url}/schedule/"
    assert auditor_lands == f"{live_server.url}/accounts/audit/"
    assert "Not allowed" in refused and "Sign out" in refused and ">Audit</a>" in refused
