"""An infusion is given only on the day of its visit, in the site's zone (issue 10: an
infusion was recorded for a visit two days ahead). For every role and path (the API's are in
test_api_chairside)."""

import datetime as dt

import pytest
import time_machine

from sustain.clinic import story
from sustain.infusion import chairside
from sustain.infusion.models import ChairsideRecord, InfusionRecord
from sustain.infusion.services import StepRefused
from tests.sustain import clinic_builders as build

pytestmark = pytest.mark.db


@pytest.mark.parametrize("who", ["ada", "ben"])
@pytest.mark.parametrize(
    "when",
    [
        pytest.param(dt.datetime(2026, 11, 28, 14, 0, tzinfo=dt.UTC), id="two-days-ahead"),
        pytest.param(dt.datetime(2026, 12, 1, 13, 0, tzinfo=dt.UTC), id="the-next-morning"),
    ],
)
def test_a_check_in_on_another_day_is_refused_for_every_role(visits, ada, ben, who, when):
    with pytest.raises(StepRefused) as refused:
        chairside.check_in(appointment=visits[0], by={"ada": ada, "ben": ben}[who], now=when)
    assert refused.value.message.startswith("this visit is on 2026-11-30, not today (")
    assert ChairsideRecord.objects.count() == 0


def test_the_check_in_page_refuses_a_future_visit_and_saves_nothing(login, visits, ben):
    with time_machine.travel(dt.datetime(2026, 11, 28, 14, 0, tzinfo=dt.UTC), tick=False):
        client = login(ben)
        response = client.post(f"/visits/{visits[0].pk}/infusion/check-in/", follow=True)
    assert "This visit is on 2026-11-30, not today (2026-11-28)" in response.content.decode()
    assert ChairsideRecord.objects.count() == 0


def test_a_record_checked_in_yesterday_cannot_start_today(visits, ben):
    """Checked in late on the Monday, the start is refused after midnight (the gate's
    visit_today), and nothing is given."""
    late = dt.datetime(2026, 12, 1, 4, 50, tzinfo=dt.UTC)  # 23:50 on Monday in New York
    record = story.check_in_and_ready(visits[0], ben, at=late)
    with pytest.raises(StepRefused) as refused:
        chairside.start_infusion(
            record=record, container=build.vial(record.appointment.site), by=ben,
            now=late + dt.timedelta(minutes=15),
        )  # fmt: skip
    assert "this visit is on 2026-11-30, not today (2026-12-01)" in refused.value.message
    assert InfusionRecord.objects.count() == 0


def test_the_infusion_is_given_on_its_day(visits, ben):
    record = build.give_infusion(visits[0], ben)
    assert record.appointment.status == "completed"


def test_the_sites_day_decides_not_utcs(visits, ben):
    # 23:30 on the Monday in New York is already Tuesday in UTC: still the visit's day.
    late = dt.datetime(2026, 12, 1, 4, 30, tzinfo=dt.UTC)
    record = chairside.check_in(appointment=visits[0], by=ben, now=late)
    assert record.checked_in_at == late
