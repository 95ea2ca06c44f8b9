"""The site's details from the browser (issue 13, item 2): name, time zone, address and
telephone; a new time zone refused while visits or shifts are booked ahead."""

import datetime as dt

import pytest
import time_machine

from sustain.accounts.models import AuditEvent, Site
from sustain.scheduling import sites, staff
from sustain.scheduling.enums import StaffRole
from sustain_core.errors import ClinicalValueError
from tests.sustain.scheduling.test_site_calendar import booked_series

pytestmark = pytest.mark.api

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)  # Friday 10:00 in New York
FORM = {
    "name": "North Clinic", "timezone": "America/New_York",
    "address": "12 Harbour Road\nPortland, ME 04101", "phone": "+1 (207) 555-0142",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def change(site: Site, by, **changes: str) -> Site:
    return sites.change_site_details(site=site, by=by, now=NOW, **(FORM | changes))


def test_an_administrator_sets_the_details_audited(login, alex, north):
    response = login(alex).post("/schedule/site/", FORM | {"site": north.pk})
    assert (response.status_code, response["Location"]) == (302, f"/schedule/site/?site={north.pk}")
    north.refresh_from_db()
    assert (north.address, north.phone) == (FORM["address"], FORM["phone"])
    event = AuditEvent.objects.get(actor=alex, object_type="accounts.Site", action="update")
    assert (event.reason, event.site_id) == ("site address phone", north.pk)
    page = login(alex).get("/schedule/site/").content.decode()
    assert "12 Harbour Road" in page


def test_the_time_zone_changes_when_nothing_is_booked(alex, north):
    change(north, alex, timezone="America/Chicago")
    assert Site.objects.get(pk=north.pk).timezone == "America/Chicago"


def test_a_new_time_zone_is_refused_while_visits_and_shifts_are_booked(
    login, alex, ada, sam, pat, north
):
    booked_series(pat, ada, sam)
    staff.add_shifts(
        site=north,
        request=staff.ShiftRequest(
            staff=ada, role=StaffRole.PRESCRIBER, day=dt.date(2026, 11, 30),
            starts=dt.time(8), ends=dt.time(16),
        ),
        by=alex,
    )  # fmt: skip
    response = login(alex).post(
        "/schedule/site/", FORM | {"site": north.pk, "timezone": "America/Chicago"}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "The time zone cannot change while 6 visits and 1 shift are booked from now on" in html
    assert Site.objects.get(pk=north.pk).timezone == "America/New_York"
    change(north, alex, phone="207 555 0199")  # the other details still change


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "'Mars/Olympus' is not a time zone name "
                                       "(e.g. America/New_York)"),
        ({"name": "South Clinic"}, "another site is named South Clinic"),
        ({"name": "  "}, "the site's name is 1 to 120 characters"),
        ({"phone": "call us"}, "a telephone number is 5 to 30 digits, spaces and + ( ) - . only"),
        ({"address": "x" * 301}, "the address is at most 300 characters"),
        ({"address": "", "phone": ""}, "nothing to change"),
    ],
)  # fmt: skip
def test_refusals_name_what_is_allowed(alex, north, south, changes, message):
    before = AuditEvent.objects.count()
    with pytest.raises(ClinicalValueError) as error:
        change(north, alex, **changes)
    assert error.value.message == message
    assert AuditEvent.objects.count() == before


def test_only_an_administrator_of_the_site(ada, alex, south):
    with pytest.raises(ClinicalValueError, match="only a clinic administrator"):
        change(south, ada)
    with pytest.raises(ClinicalValueError, match="you are not a member of South Clinic"):
        change(south, alex, name="South Clinic")
