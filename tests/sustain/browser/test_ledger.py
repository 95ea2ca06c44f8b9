"""Issue 12's done-when "the day's count balances", as a nurse does it in headless Chromium:
the end of day shows the safe not counted and hides the balances (the count is blind), the
count form lists the vials and no balance, a second nurse confirms with their password, every
vial matches the ledger and the balances appear; a count 5 mg short opens a discrepancy. Each
page has no serious or critical axe-core violation."""

from typing import TYPE_CHECKING

import pytest

from sustain.accounts.models import Site, User
from sustain.ledger.models import Container
from tests.sustain.browser.test_infusion_day import (
    PASSWORD,
    press,
    serious_accessibility_violations,
    sign_in,
)
from tests.sustain.browser.test_patient_page import chromium_page, needs_chromium
from tests.sustain.conftest import make_user

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def open_link(page: "Page", name: str) -> None:
    with page.expect_navigation():
        page.get_by_role("link", name=name, exact=True).first.click()


def accessible(page: "Page") -> None:
    assert serious_accessibility_violations(page) == [], page.url


def count_safe(page: "Page", link: str, holds_ml: dict[str, str], *, confirmer: str) -> str:
    """Follow `link` to the count form and count the safe: what each vial holds (mL), the
    confirmer and their password; return the flash after the redirect to the count's result."""
    open_link(page, link)
    assert "500" not in page.inner_text("main"), "the blind count form shows a balance"
    for vial, ml in holds_ml.items():
        page.get_by_label(f"Amount in {vial}").fill(ml)
    page.get_by_label("Counted in").select_option("ml")
    page.get_by_label("Confirmed by").select_option(confirmer)
    page.get_by_label("Their password").fill(PASSWORD)
    accessible(page)
    return press(page, "Submit the count")


@needs_chromium
def test_nurse_counts_the_safe_blind_with_a_second_nurse_and_it_balances(
    live_server, north: Site, ben: User, stocked: list[Container]
) -> None:
    cora = make_user("cora", "nurse", north)
    for user in (ben, cora):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    vials = [str(c) for c in stocked]  # "lot K50-261123 #1": 500 mg, 10 mL each
    lot, numbers = stocked[0].lot.lot_number, [f"#{c.number}" for c in stocked]

    with chromium_page() as page:
        page.goto(f"{live_server.url}/ledger/")
        sign_in(page, "ben")
        page.goto(live_server.url)
        open_link(page, "Controlled substances")
        safe = page.inner_text("table.safe")
        assert lot in safe and all(number in safe for number in numbers)
        accessible(page)

        open_link(page, "End of day")
        counts_today = page.inner_text("table.counts-today")
        assert "Safe" in counts_today and "not counted" in counts_today
        assert page.locator("table.balances").count() == 0
        assert "once every location is counted today" in page.inner_text("main")
        accessible(page)

        assert (
            count_safe(page, "Count it", dict.fromkeys(vials, "10"), confirmer="cora")
            == "Safe counted."
        )
        assert "Count of Safe" in page.inner_text("h1")
        result = page.inner_text("main")
        assert "confirmed by cora" in result and "discrepancy opened" not in result
        rows = page.locator("tbody tr").all_inner_texts()
        assert len(rows) == 3
        for vial, row in zip(vials, rows, strict=True):
            assert row.split("\t") == [vial, "500", "10", "500", "0"]
        accessible(page)

        open_link(page, "End of day")
        assert "not counted" not in page.inner_text("table.counts-today")
        balances = page.locator("table.balances tbody tr").all_inner_texts()
        assert len(balances) == 1 and balances[0].split("\t")[1:] == ["3", "1500", "30"]
        assert "None." in page.inner_text("main")  # no unresolved discrepancy
        accessible(page)

        # A second count, one vial 0.1 mL (5 mg) short, opens a discrepancy.
        short = {**dict.fromkeys(vials, "10"), vials[1]: "9.9"}
        assert count_safe(page, "Count", short, confirmer="cora") == "Safe counted."
        assert "-5 (discrepancy opened)" in page.inner_text("main")

        open_link(page, "Discrepancies")
        listed = page.locator("table.discrepancies tbody tr").all_inner_texts()
        assert len(listed) == 1
        assert listed[0].split("\t")[1:] == [
            "Safe",
            vials[1],
            "500",
            "495",
            "-5 mg (-0.1 mL)",
            "open",
        ]
        accessible(page)
