"""Every staff page on a phone, a tablet and a desk (issue 13, item 6).

Each staff role opens every page the role-pages table lets it open (tests/sustain/
test_role_pages.py, so a page added there is crawled here too), on the same small clinic. A page
must fit the width of the screen (a wide table scrolls inside its own box, the page never
sideways) at 390 px (a phone), 768 px (a small tablet) and 1280 px (a desk), and axe-core must
find no serious or critical violation. Downloads (PDF, CSV, calendar files), the API and
htmx fragments are not pages: only a full HTML document is checked.
"""

import re
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.test import Client

from tests.sustain.browser.test_infusion_day import serious_accessibility_violations
from tests.sustain.browser.test_patient_page import chromium_page, needs_chromium
from tests.sustain.second_factor import signed_in
from tests.sustain.test_role_pages import OK, PAGES, ROLES, STATUS, _build_clinic

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WIDTHS = (390, 768, 1280)  # a phone, a small tablet (portrait), a desk
FILE = re.compile(r"/api/|\.[a-z]+(\?|$)")  # the API, a PDF, a CSV, a calendar file
STAFF_ROLES = [role for role in ROLES if role != "no role"]


def open_document(page: "Page", url: str) -> bool:
    """Open the URL at phone width; True when it is a full HTML page (not a download, the API's
    JSON or an htmx fragment)."""
    from playwright.sync_api import Error  # noqa: PLC0415 - only with chromium

    if FILE.search(url):
        return False
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})
    try:
        response = page.goto(url)
    except Error as error:  # a download whose URL has no file name
        if "Download is starting" in error.message:
            return False
        raise
    assert response is not None
    assert response.status == OK, url
    html = response.headers.get("content-type", "").startswith("text/html")
    return html and page.evaluate("document.doctype !== null")


def overflow(page: "Page") -> list[str]:
    """The widths at which the page scrolls sideways, with the page's width there."""
    wide = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        if scroll_width > width:
            wide.append(f"{scroll_width} px wide at {width} px")
    return wide


@needs_chromium
def test_every_staff_page_fits_a_phone_and_passes_axe(live_server):
    clinic = _build_clinic()
    sessions = {}
    for role in STAFF_ROLES:
        client = Client()
        signed_in(clinic.users[role], client)
        sessions[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
    problems: dict[str, list[str]] = {}
    checked: set[str] = set()

    with chromium_page(width=WIDTHS[0], height=900) as page:
        for role in STAFF_ROLES:
            page.context.clear_cookies()
            cookie = {"name": settings.SESSION_COOKIE_NAME, "value": sessions[role]}
            page.context.add_cookies([{**cookie, "url": live_server.url}])
            for name, expected in PAGES.items():
                url = live_server.url + expected.url(clinic)
                if STATUS[name][ROLES.index(role)] != OK or not open_document(page, url):
                    continue
                found = serious_accessibility_violations(page) + overflow(page)
                if found:
                    problems[f"{name} ({role})"] = found
                checked.add(name)
    assert problems == {}
    # The crawl really ran, and skipped the downloads and the fragment.
    assert {"patient list", "assessment entry", "day board", "audit log"} <= checked
    assert not {"infusion record PDF", "visit .ics", "day board fragment"} & checked
