"""The relapse forecast (issue 17, item 3) on a built cohort: the fit stored per site, the
forecast page per role, the patient page's panel, the clinic threshold moving the suggestion,
and the nightly task."""

import dataclasses
import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sustain.accounts.models import AuditEvent, Site, User
from sustain.care import rules
from sustain.care.enums import CourseStatus
from sustain.care.models import Assessment, Course
from sustain.reports import forecast
from sustain.reports.models import RelapseFit
from sustain.reports.tasks import refit_relapse_models
from sustain.scheduling.enums import AppointmentStatus
from sustain.scheduling.models import Appointment
from sustain_core import relapse
from tests.core import cohort_cases
from tests.sustain.reports import cohort_db, forecast_db

pytestmark = pytest.mark.db

NOW = dt.datetime(2026, 11, 30, 18, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture
def cohort(north: Site, ada: User, ben: User) -> list[Course]:
    return forecast_db.build(north, prescriber=ada, nurse=ben, now=NOW)


@pytest.fixture
def fitted(cohort: list[Course], north: Site) -> RelapseFit:
    return forecast.fit_site(site=north, now=NOW)


def test_the_fit_is_stored_with_its_backtest_and_the_open_episodes(cohort, fitted, north):
    assert fitted.site == north and fitted.fitted_at == NOW
    model = relapse.RelapseModel.from_dict(fitted.parameters)
    relapsed = [c for c in cohort if c.status == CourseStatus.RELAPSED]
    assert model.clinic_relapses == len(relapsed) > 0
    assert model.prior_weight == pytest.approx(20 * 20 / (20 + len(relapsed)))
    assert fitted.parameters["prior_sources"] == [
        "Murrough2013", "Shiroma2014", "Ekstrand2022", "McInnes2022"
    ]  # fmt: skip
    backtest = fitted.backtest
    assert backtest["horizon_days"] == 14 and len(backtest["cutoffs"]) == 6
    assert backtest["enough"] is True, backtest
    assert 0 <= backtest["concordance"] <= 1  # flat scores: only the time since infusion tells
    assert sum(g["n"] for g in backtest["calibration"]) == backtest["n"]
    # Open episodes: the courses in maintenance but those whose latest score lost response
    # (not yet confirmed: to be reassessed, not forecast).
    maintained = {c.pk for c in cohort if c.status == CourseStatus.MAINTENANCE}
    losing = {
        c.pk
        for c in cohort
        if Assessment.objects.filter(course=c).latest("completed_at").total_score == 18
        and c.pk in maintained
    }
    assert losing and len(maintained - losing) >= 10
    assert {e["course_id"] for e in fitted.open_episodes} == maintained - losing
    event = AuditEvent.objects.get(object_type="reports.RelapseFit", object_id=str(fitted.pk))
    assert (event.actor_username, event.action, event.site) == (
        forecast.FITTED_BY, "create", north
    )  # fmt: skip


def test_every_responder_in_maintenance_gets_a_risk_and_a_booster_date(fitted, north):
    found = forecast.site_forecast(north, now=NOW)
    assert found is not None and found.enough and found.fit == fitted
    assert len(found.patients) == len(fitted.open_episodes)
    for p in found.patients:
        r7, r14, r28 = (risk for _, risk in p.risks)
        assert 0 < r7 < r14 < r28 < 1
        assert p.booster_by >= NOW.astimezone(north.tz).date()
        assert p.due_now == (r14 >= 0.20)
        assert p.next_booked is None


def test_too_little_held_out_data_shows_no_per_patient_risk(north, ada, ben):
    cohort_db.build(north, prescriber=ada, nurse=ben)
    fitted = forecast.fit_site(site=north, now=cohort_cases.NOW)
    assert fitted.backtest["enough"] is False
    found = forecast.site_forecast(north, now=cohort_cases.NOW)
    assert found is not None and not found.enough and found.patients == ()


def test_no_fit_no_forecast(north):
    assert forecast.site_forecast(north, now=NOW) is None
