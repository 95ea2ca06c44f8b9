"""Issue 13, items 1 and 5 in a real browser, at desk and at phone size: the front desk
corrects a date of birth on the correction page (the old value listed under "Corrections"),
a nurse records an allergy, shown prominently on the patient page; the correction page fits
the screen and axe-core finds no serious violation on it."""

import pytest

from tests.sustain.browser.test_infusion_day import (
    PASSWORD,
    press,
    serious_accessibility_violations,
    sign_in,
)
from tests.sustain.browser.test_patient_page import chromium_page, needs_chromium

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@needs_chromium
@pytest.mark.parametrize("width", [1300, 390])
def test_front_desk_corrects_a_birth_date_and_a_nurse_records_an_allergy(
    live_server, sam, ben, pat, width
):
    for user in (sam, ben):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    with chromium_page(width=width) as page:
        page.goto(f"{live_server.url}/patients/{pat.pk}/")
        sign_in(page, "sam")
        with page.expect_navigation():
            page.get_by_role("link", name="Correct the details").click()
        wide = page.evaluate("document.documentElement.scrollWidth")
        violations = serious_accessibility_violations(page)
        page.fill("#id_date_of_birth", "1980-07-15")
        page.fill("#id_reason", "typed wrong at registration")
        said = press(page, "Save the correction")
        page.get_by_text("Corrections (1)").click()
        corrected = page.locator("#corrections").inner_text()
        facts = page.locator("p.facts").first.inner_text()
        front_desk_sees_allergies = page.locator("#allergies").count()

        page.context.clear_cookies()  # signed out
        page.goto(f"{live_server.url}/patients/{pat.pk}/")
        sign_in(page, "ben")
        page.get_by_text("Record an allergy").click()
        page.fill("#id_substance", "Penicillin")
        page.fill("#id_reaction", "anaphylaxis")
        page.select_option("#id_severity", "severe")
        recorded = press(page, "Record the allergy")
        allergies = page.locator("#allergies").inner_text()

    assert said == "Details corrected; the old values are kept."
    assert "Born 1980-07-15" in facts
    assert "typed wrong at registration" in corrected
    assert "date of birth 1980-05-17 → 1980-07-15" in corrected
    assert front_desk_sees_allergies == 0  # allergies are clinical: never shown to the desk
    assert recorded == "Allergy to Penicillin recorded."
    assert "Penicillin: anaphylaxis (severe)" in allergies
    assert wide <= width  # no sideways scrolling, at the desk or on a phone
    assert violations == []
