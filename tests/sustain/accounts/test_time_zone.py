"""One time zone on every staff page (issue 13, item 3): the site's, named on the page. The
same alert shows the same labelled time on the patient page and the alert list; the audit
log and the outbox are in the site's time, no longer UTC; the page's ?site= picks its zone."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, Channel, DataCategory, OutboxStatus
from sustain.accounts.middleware import SITE_ZONES_KEY
from sustain.accounts.models import Membership, OutboxMessage
from sustain.care import services
from tests.sustain.conftest import make_user

pytestmark = pytest.mark.db

RAISED = dt.datetime(2026, 12, 1, 23, 32, tzinfo=dt.UTC)  # 18:32 in New York (EST)
NEW_YORK = "Times in America/New_York"


def page(client: Client, url: str, **query: object) -> str:
    response = client.get(url, query)
    assert response.status_code == 200
    return response.content.decode()


def test_an_alert_shows_the_same_labelled_local_time_on_the_patient_page_and_the_alert_list(
    login, ben, pat
):
    services.record_assessment(
        patient=pat, instrument="phq9", answers={str(n): 1 for n in range(1, 10)},
        timepoint="baseline", by=ben, completed_at=RAISED, now=RAISED,
    )  # fmt: skip
    client = login(ben)

    for shown in (page(client, f"/patients/{pat.pk}/"), page(client, "/alerts/")):
        assert "2026-12-01 18:32 EST" in shown
        assert NEW_YORK in shown
        assert "23:32" not in shown


def test_the_audit_log_is_in_the_sites_time_and_says_so(login, ivy, pat):
    with time_machine.travel(RAISED, tick=False):
        record_event(actor=ivy, action=AuditAction.EXPORT, category=DataCategory.AUDIT)

    shown = page(login(ivy), "/accounts/audit/")

    assert "2026-12-01 18:32:00" in shown
    assert NEW_YORK in shown
    assert "23:32" not in shown
    assert "<th>UTC</th>" not in shown


def test_the_outbox_is_in_the_sites_time_and_says_so(login, alex, north):
    OutboxMessage.objects.create(
        site=north, channel=Channel.EMAIL, to="pat@example.com", subject="Your link",
        body="A questionnaire", status=OutboxStatus.HELD, created_at=RAISED,
    )  # fmt: skip

    shown = page(login(alex), "/accounts/outbox/")

    assert "2026-12-01 18:32" in shown
    assert NEW_YORK in shown
    assert "(UTC)" not in shown
    assert "23:32" not in shown


def test_the_pages_site_chooses_the_zone_for_a_member_of_two_sites(login, north, south):
    both = make_user("bo", "clinic_admin", north)
    Membership.objects.create(user=both, site=south)
    OutboxMessage.objects.create(
        site=south, channel=Channel.EMAIL, to="x@example.com", subject="s", body="b",
        status=OutboxStatus.HELD, created_at=RAISED,
    )  # fmt: skip
    client = login(both)

    first = page(client, "/accounts/outbox/")  # North Clinic comes first
    chosen = page(client, "/accounts/outbox/", site=south.pk)
    not_theirs = page(client, "/accounts/outbox/", site=999_999)

    assert (NEW_YORK in first, "2026-12-01 18:32" in first) == (True, True)
    assert "Times in America/Chicago" in chosen
    assert "2026-12-01 17:32" in chosen
    assert NEW_YORK in not_theirs


def test_a_page_about_a_patient_shows_the_patients_site_zone(login, north, south, pat):
    """A member of South and North whose first site is North reads a South patient's page in
    Chicago time (accounts.web.show_times_in)."""
    both = make_user("bo", "nurse", north)
    Membership.objects.create(user=both, site=south)
    south_patient = services.register_patient(
        by=both, site=south, given_name="Sol", family_name="Reyes",
        date_of_birth=dt.date(1975, 1, 2), sex="male", phone="", email="",
        primary_condition="depression", weight_kg=Decimal("80.0"), today=dt.date(2026, 11, 27),
        now=RAISED,
    )  # fmt: skip

    shown = page(login(both), f"/patients/{south_patient.pk}/")

    assert "Times in America/Chicago" in shown


def test_a_session_from_before_the_zones_were_stored_finds_them(login, alex, north):
    client = login(alex)
    session = client.session
    del session[SITE_ZONES_KEY]
    session.save()

    assert NEW_YORK in page(client, "/accounts/outbox/")
    assert client.session[SITE_ZONES_KEY] == [[north.pk, "America/New_York"]]
