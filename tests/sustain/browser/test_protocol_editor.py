"""The protocol editor in a real browser (issue 13, item 7): a medical director changes the
dose in the regimen section, sees the change in words, and saves it; axe finds nothing serious
on the editor or the contraindication screen."""

import datetime as dt
from decimal import Decimal

import pytest

from sustain.accounts import directors
from sustain.care import services as care
from sustain.care.models import ClinicProtocol
from sustain_core import protocols
from tests.sustain.browser.test_infusion_day import serious_accessibility_violations
from tests.sustain.browser.test_patient_page import SCREENSHOTS, chromium_page, needs_chromium
from tests.sustain.second_factor import sign_in_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test user's


def sign_in(page, url: str, username: str) -> None:
    page.goto(url)
    sign_in_page(page, username)


@needs_chromium
@pytest.mark.parametrize("width", [390, 1100])
def test_a_director_changes_the_dose_sees_it_in_words_and_saves(
    live_server, north, ada, alex, width
):
    directors.designate_medical_director(site=north, user=ada, designated=True, by=alex)
    ada.set_password(PASSWORD)
    ada.save(update_fields=["password"])

    with chromium_page(width=width, height=900) as page:
        sign_in(page, f"{live_server.url}/protocols/depression-induction/v1/new-version/", "ada")
        page.wait_for_selector("legend:has-text('Regimen')")
        assert serious_accessibility_violations(page) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.fill("[name='regimen.mg_per_kg']", "0.6")
        page.fill("[name='titration.0.limit_mg_per_kg']", "0.85")
        page.fill("#id_change_note", "Start at 0.6 mg/kg")
        page.click("button:has-text('Show the changes')")

        page.wait_for_selector("h2:has-text('The changes to save')")
        rows = [  # cell by cell: on a phone the table is laid out as a list (static/fit.js)
            " | ".join(cell.strip() for cell in row.locator("th, td").all_inner_texts())
            for row in page.locator("table.diff tbody tr").all()
        ]
        assert rows == [
            "Regimen › Dose per session (mg/kg) dosing or safety | 0.5 | 0.6",
            "Regimen › Titration rule 1 › Limit (mg/kg) dosing or safety | 0.75 | 0.85",
        ]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"protocol-editor-diff-{width}.png"))
        page.locator("button:has-text('Save the new version')").first.click()
        page.wait_for_selector("h1:has-text('Depression induction')")

    built = protocols.protocol_from_dict(ClinicProtocol.objects.get().data)
    assert (built.regimen.mg_per_kg, built.titration[0].limit_mg_per_kg) == (
        Decimal("0.6"), Decimal("0.85")
    )  # fmt: skip


@needs_chromium
def test_the_screen_shows_plain_items_with_footnotes_to_their_sources(live_server, ada, pat):
    care.enrol_patient(
        patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada,
        now=dt.datetime.now(tz=dt.UTC),
    )  # fmt: skip
    ada.set_password(PASSWORD)
    ada.save(update_fields=["password"])

    with chromium_page(width=1100, height=1400) as page:
        sign_in(page, f"{live_server.url}/patients/{pat.pk}/", "ada")
        page.click("summary:has-text('Contraindication screen')")
        legend = page.locator("legend:has-text('History of psychosis')")
        assert legend.inner_text().strip() == "Relative: History of psychosis7"
        page.click("legend:has-text('History of psychosis') sup a")
        source = page.locator("#screen-source-7")
        assert source.inner_text().startswith("[Sanacora2017-S2] Sanacora G")
        assert page.url.endswith("#screen-source-7")
        assert serious_accessibility_violations(page) == []
