"""Issue 14, AUD-02/AUD-07: refused writes (pages and API), denied lookups and 403s are
audited, one event each, with ids and codes only; and after a scripted session the audit
rows hold no password, second-factor code, session id, questionnaire answer or refused value.
"""

import pytest
from django.test import Client

from sustain.accounts.enums import AuditAction, AuditOutcome, DataCategory
from sustain.accounts.models import AuditEvent
from sustain.scheduling.models import Chair
from tests.sustain.second_factor import PASSWORD, code_for
from tests.sustain.second_factor import enrolled as device_of
from tests.sustain.test_api import enrolled as enrolled  # noqa: PLC0414 - its fixture
from tests.sustain.test_api import post

pytestmark = pytest.mark.db


def new_events(before: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=before).order_by("id"))


def test_a_refused_write_on_a_page_is_audited_once(login, ben, pat):
    client = login(ben)
    before = AuditEvent.objects.latest("id").id
    response = client.post(f"/patients/{pat.pk}/height/", {"height_cm": "165.0"})
    assert response.status_code in (200, 302, 400)
    refused = [e for e in new_events(before) if e.outcome == AuditOutcome.REFUSED]
    assert [(e.action, e.category, e.actor_username, e.patient_id, e.reason, e.site_id)
            for e in refused] == [
        (AuditAction.WRITE, DataCategory.PATIENT_RECORD, "ben", pat.pk, "refused: height_cm",
         pat.site_id),
    ]  # fmt: skip


def test_a_refused_api_write_is_audited_once(login, sam, north, enrolled):
    Chair.objects.filter(site=north).delete()
    before = AuditEvent.objects.latest("id").id
    response = post(login(sam), enrolled, {"first_day": "2026-11-30"})
    assert response.status_code == 400
    refused = [e for e in new_events(before) if e.outcome == AuditOutcome.REFUSED]
    assert [(e.action, e.category, e.actor_username, e.patient_id, e.reason) for e in refused] == [
        (AuditAction.WRITE, DataCategory.PATIENT_RECORD, "sam", enrolled.pk, "refused: chair"),
    ]


def test_a_denied_alert_lookup_is_audited(login, ben, alex):
    # Nurse Ben may acknowledge alerts; alert 999999 is nowhere he works (nor anywhere).
    before = AuditEvent.objects.latest("id").id
    response = login(ben).post("/alerts/999999/acknowledge/", {"note": "x"})
    assert response.status_code in (403, 404)
    denied = [e for e in new_events(before) if e.outcome == AuditOutcome.DENIED]
    assert [(e.category, e.actor_username) for e in denied] == [(DataCategory.ALERT, "ben")]


def test_a_403_is_audited_once(login, ada):
    before = AuditEvent.objects.latest("id").id
    assert login(ada).get("/accounts/audit/").status_code == 403
    denied = [e for e in new_events(before) if e.outcome == AuditOutcome.DENIED]
    assert [(e.category, e.actor_username) for e in denied] == [(DataCategory.AUDIT, "ada")]


def test_no_secrets_or_answers_in_the_audit_rows_after_a_session(ben, pat):
    ben.set_password(PASSWORD)
    ben.save()
    device = device_of(ben)
    client = Client()
    client.post("/accounts/login/", {"username": "ben", "password": "wrong " + PASSWORD})
    client.post("/accounts/login/", {"username": "ben", "password": PASSWORD})
    code = code_for(device)
    client.post("/accounts/second-factor/", {"token": code})
    assert client.get(f"/patients/{pat.pk}/").status_code == 200  # signed in, past the factor
    session_id = client.cookies["sessionid"].value
    answers = {f"phq9-{n}": "3" for n in range(1, 10)} | {
        "instrument": "phq9", "timepoint": "baseline",
    }  # fmt: skip
    client.post(f"/patients/{pat.pk}/assessments/new/", answers)
    client.post(f"/patients/{pat.pk}/height/", {"height_cm": "99.9"})  # the service refuses
    client.post("/accounts/logout/")

    rows = list(AuditEvent.objects.values())
    assert {r["action"] for r in rows} >= {"login-failed", "login", "create", "write", "logout"}
    text = "\n".join(str(value) for row in rows for value in row.values())
    for secret in (PASSWORD, code, session_id, "phq9-", "99.9", '"3"'):
        assert secret not in text, secret
