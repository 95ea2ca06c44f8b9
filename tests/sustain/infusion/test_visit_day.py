"""An infusion is recorded only on the day of its visit, in the site's zone (issue 10: an
infusion was recorded for a visit two days ahead). For every role and path."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from sustain.infusion import services as infusion
from sustain.infusion.models import InfusionRecord
from sustain_core.errors import ClinicalValueError
from tests.sustain import clinic_builders as build

pytestmark = pytest.mark.db

MONDAY = dt.date(2026, 11, 30)


@pytest.fixture
def visits(north, pat, ada, ben, sam):
    course = build.ready_for_series(
        pat, prescriber=ada, nurse=ben, now=build.at(north, dt.date(2026, 11, 27), 10),
        phq9_total=18, gad7_total=12,
    )  # fmt: skip
    return build.book_series(
        course, sam, first=build.at(north, MONDAY, 8),
        now=build.at(north, dt.date(2026, 11, 27), 11),
    )  # fmt: skip


@pytest.mark.parametrize("who", ["ada", "ben"])
@pytest.mark.parametrize(
    "when",
    [
        pytest.param(dt.datetime(2026, 11, 28, 14, 0, tzinfo=dt.UTC), id="two-days-ahead"),
        pytest.param(dt.datetime(2026, 12, 1, 13, 0, tzinfo=dt.UTC), id="the-next-morning"),
    ],
)
def test_an_infusion_on_another_day_is_refused_for_every_role(visits, ada, ben, who, when):
    with pytest.raises(ClinicalValueError) as refused:
        infusion.record_infusion(
            appointment=visits[0], vial_mg_per_ml=Decimal("50"), by={"ada": ada, "ben": ben}[who],
            confirmed_at=when,
        )  # fmt: skip
    assert refused.value.message.startswith("this visit is on 2026-11-30, not today (")
    assert InfusionRecord.objects.count() == 0


def test_the_infusion_page_refuses_a_future_visit_and_saves_nothing(login, visits, ben):
    with time_machine.travel(dt.datetime(2026, 11, 28, 14, 0, tzinfo=dt.UTC), tick=False):
        response = login(ben).post(
            f"/visits/{visits[0].pk}/infusion/", {"vial_mg_per_ml": "50", "confirm": "on"}
        )
    assert response.status_code == 400
    assert "This visit is on 2026-11-30, not today (2026-11-28)" in response.content.decode()
    assert InfusionRecord.objects.count() == 0


def test_the_infusion_is_recorded_on_its_day(visits, ben):
    record = build.give_infusion(visits[0], ben)
    assert record.appointment.status == "completed"


def test_the_sites_day_decides_not_utcs(visits, ben):
    # 23:30 on the Monday in New York is already Tuesday in UTC: still the visit's day.
    late = dt.datetime(2026, 12, 1, 4, 30, tzinfo=dt.UTC)
    record = infusion.record_infusion(
        appointment=visits[0], vial_mg_per_ml=Decimal("50"), by=ben, confirmed_at=late
    )
    assert record.confirmed_at == late
