"""Deny by default, per-site scoping, role permissions, sessions and headers (SEC-01..SEC-18)."""

import datetime as dt
import json
import re
import subprocess
import sys

import pytest
import time_machine
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from sustain.accounts.models import AuditEvent, User
from sustain.care.models import Patient
from sustain.infusion.views import STEPS

pytestmark = pytest.mark.api

# The chair-side API's steps (sustain.infusion.api), each with a body it accepts.
CHAIRSIDE_API_STEPS = {
    "check-in": None,
    "checks": {"identity_confirmed": True},
    "vitals": {
        "systolic_mmhg": 122, "diastolic_mmhg": 78, "heart_rate_bpm": 72, "spo2_percent": 98,
        "respiratory_rate_per_min": 14,
    },
    "decisions": {"decision": "suicide_risk", "reason": "Seen today"},
    "last-doses": {"medication_id": 1, "taken_at": "2026-11-30T06:30:00-05:00"},
    "start": {"container_id": 1, "confirm": True},
    "events": {"kind": "note", "detail": "Settled"},
    "resume": {"reason": "Rechecked"},
    "end": None,
    "waste": {"witness_id": 1, "witness_password": "x"},
    "discharge": {
        "activity": 2, "respiration": 2, "circulation": 2, "consciousness": 2,
        "oxygen_saturation": 2, "dissociation_resolved": True, "escort_present": True,
    },
    "undo": {"reason": "Wrong tablet"},
    "sign": None,
    "cosign": None,
    "addenda": {"text": "Called home"},
    "adverse-events": {"kind": "nausea", "severity": "mild"},
}  # fmt: skip
# The ledger's API writes (sustain.ledger.api).
LEDGER_API_WRITES = ("receipts", "draws", "wastes", "transfers", "adjustments")
PUBLIC = {"/accounts/login/", "/accounts/logout/", "/r/1/", "/kiosk/"}  # patients' pages
PUBLIC |= {"/v/1/"}  # a reminder's link to confirm a visit or ask to change it
PUBLIC |= {"/calendar/1.ics"}  # a patient's calendar feed: its secret token is the credential
PUBLIC |= {"/api/v1/^.*$"}  # any other API path: 404 in the error shape, nothing behind it
PUBLIC |= {"/fhir/R4/metadata"}  # the FHIR server's CapabilityStatement: what it serves
PUBLIC |= {"/fhir/R4/^[\\s\\S]*$"}  # any other FHIR path: a 404 OperationOutcome, nothing behind it
PUBLIC |= {"/healthz"}  # the monitor's: database and worker up or not, no patient data
PUBLIC |= {"/accounts/notify/sms-status/"}  # the SMS provider's reports: signed with its token
# Other systems ask for a token here: their client credentials are the credential
# (interop/test_clients.py).
PUBLIC |= {"/fhir/R4/auth/token"}
# A staff member's set-password link (an invitation or a reset): its token is the credential.
PUBLIC |= {"/accounts/set-password/1/1/", "/accounts/set-password/done/"}


def every_url() -> list[str]:
    """Every route of the project with 1 for each parameter (and each of the chair-side
    record's steps for its step)."""
    urls: list[str] = []

    def walk(patterns: list, prefix: str) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, route)
            elif isinstance(p, URLPattern):
                steps = STEPS if "<slug:step>" in route else ["1"]
                urls.extend(
                    "/" + re.sub(r"<[^>]+>", "1", route.replace("<slug:step>", step))
                    for step in steps
                )

    walk(get_resolver().url_patterns, "")
    return sorted(set(urls) - PUBLIC)


def test_every_url_is_listed():
    assert every_url() == sorted(
        [
            "/",
            "/api/v1/",
            *(f"/api/v1/ledger/{write}" for write in LEDGER_API_WRITES),
            "/api/v1/ledger/balance",
            "/api/v1/ledger/containers/1",
            "/api/v1/ledger/discrepancies",
            "/api/v1/ledger/locations/1/count-sheet",
            "/api/v1/ledger/locations/1/counts",
            "/api/v1/openapi.json",
            "/api/v1/patients/1/series",
            "/fhir/R4/1",
            "/fhir/R4/1/1",
            "/fhir/R4/1/_search",
            "/fhir/R4/Patient/1/$everything",
            "/api/v1/visits/1/infusion",
            *(f"/api/v1/visits/1/infusion/{step}" for step in CHAIRSIDE_API_STEPS),
            "/accounts/audit/",
            "/accounts/audit/export.csv",
            "/accounts/audit/export.fhir.json",
            "/accounts/outbox/",
            "/accounts/outbox/1/send-again/",
            "/accounts/outbox/dead/",
            "/accounts/second-factor/",
            "/accounts/second-factor/enrol/",
            "/accounts/staff/",
            "/accounts/staff/invite/",
            "/accounts/staff/1/",
            "/accounts/staff/1/deactivate/",
            "/accounts/staff/1/reactivate/",
            "/accounts/staff/1/reset-password/",
            "/accounts/staff/1/reset-second-factor/",
            "/accounts/staff/1/roles/",
            "/accounts/staff/1/unlock/",
            "/alerts/",
            "/fhir-clients/",
            "/fhir-clients/1/revoke/",
            "/alerts/export.csv",
            "/alerts/1/acknowledge/",
            "/clinic-rules/",
            "/outcomes/forecast/",
            "/emergency-access/",
            "/emergency-access/end/",
            "/emergency-access/reviews/",
            "/emergency-access/reviews/1/",
            "/fhir/R4/$export",
            "/fhir/R4/$export-file/1/1",
            "/fhir/R4/$export-status/1",
            "/fhir/R4/Group/1/$export",
            "/ledger/",
            "/ledger/containers/1/",
            "/ledger/containers/1/adjust/",
            "/ledger/containers/1/open/",
            "/ledger/containers/1/return/",
            "/ledger/containers/1/transfer/",
            "/ledger/entries/1/correct/",
            "/ledger/end-of-day/",
            "/ledger/counts/new/",
            "/ledger/counts/1/",
            "/ledger/discrepancies/",
            "/ledger/discrepancies/1/resolve/",
            "/ledger/theft-loss/",
            "/ledger/theft-loss/new/",
            "/ledger/theft-loss/1/",
            "/ledger/theft-loss/1/1/",
            "/ledger/inventories/",
            "/ledger/inventories/new/",
            "/ledger/setup/",
            "/ledger/setup/locations/",
            "/ledger/setup/products/",
            "/ledger/setup/registration/",
            "/ledger/setup/suppliers/",
            "/ledger/stock/",
            "/ledger/stock/destroy/",
            "/ledger/stock/receive/",
            "/clinic-rules/1/",
            "/ledger/report.csv",
            "/ledger/report.pdf",
            "/ledger/report/",
            "/outcomes/",
            "/outcomes/outcomes.csv",
            "/outcomes/outcomes.pdf",
            "/medications/1/stop/",
            "/allergies/1/remove/",
            "/consents/1/correct/",
            "/patients/1/allergies/",
            "/patients/1/allergies/none/",
            "/patients/1/details/",
            "/patients/1/",
            "/patients/1/address/",
            "/patients/1/boosters/1/book/",
            "/patients/1/assessments/new/",
            "/patients/1/calendar/",
            "/patients/1/calendar/revoke/",
            "/patients/1/consent/",
            "/patients/1/consent.pdf",
            "/patients/1/record.fhir.json",
            "/patients/1/record.pdf",
            "/outcomes/patients/1/progress/",
            "/outcomes/patients/1/progress.pdf",
            "/patients/1/course-status/",
            "/patients/1/dose/",
            "/patients/1/dose/cosign/",
            "/patients/1/dose/withdraw/",
            "/patients/1/enrol/",
            "/patients/1/extend/",
            "/patients/1/height/",
            "/patients/1/indication/",
            "/patients/1/invite/",
            "/patients/1/medications/",
            "/patients/1/review/",
            "/patients/1/screen/",
            "/patients/1/series/",
            "/patients/1/titrate/",
            "/patients/1/weight/",
            "/patients/1/visits/",
            "/patients/new/",
            "/patients/export.csv",
            "/protocols/",
            "/protocols/1/v1/",
            "/protocols/1/v1/new-version/",
            "/protocols/1/v1/consent.pdf",
            "/schedule/",
            "/schedule/calendar/",
            "/schedule/calendar/closures/",
            "/schedule/calendar/closures/1/remove/",
            "/schedule/calendar/holidays/",
            "/schedule/calendar/holidays/country/",
            "/schedule/calendar/hours/",
            "/schedule/site/",
            "/schedule/staff/",
            "/schedule/staff/chairs/1/",
            "/schedule/staff/medical-directors/",
            "/schedule/staff/rules/",
            "/schedule/staff/shifts/",
            "/schedule/staff/shifts/1/remove/",
            "/schedule/waitlist/",
            "/schedule/week/",
            "/schedule/visits.csv",
            "/visits/1/adverse-events/",
            "/visits/1/cancel/",
            "/visits/1/move/",
            "/visits/1/no-show/",
            "/visits/1/keep-time/",
            "/visits/1/rebook/",
            "/visits/1/infusion/",
            *(f"/visits/1/infusion/{step}/" for step in STEPS),
            "/visits/1/infusion/check-in/",
            "/visits/1/infusion/record.pdf",
            "/visits/1/discharge.pdf",
            "/visits/1/visit.ics",
        ]
    )


@pytest.mark.parametrize("url", every_url())
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_user_is_sent_to_login(db, client, url, method):
    response = getattr(client, method)(url)
    assert (response.status_code, response.get("Location", "")) in {
        (302, f"/accounts/login/?next={url}"),
        (401, ""),  # the API answers 401 rather than redirecting
        (404, ""),  # the API's root and its document show nothing to outsiders
        (405, ""),  # the method is not allowed at all, for anyone
    }


# Every signed-in person passes the second factor, with a role or not (past it: sent on).
SIGN_IN_STEPS = {"/accounts/second-factor/", "/accounts/second-factor/enrol/"}


@pytest.mark.parametrize("url", every_url())
def test_user_without_role_is_denied_everything(login, nora, pat, url):
    url = url.replace("/1/", f"/{pat.pk}/")
    client = login(nora)
    denied = {302} if url in SIGN_IN_STEPS else {401, 403, 404, 405}
    assert client.get(url).status_code in denied
    assert client.post(url).status_code in denied
    assert Patient.objects.count() == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/patients/{id}/"),
        ("get", "/patients/{id}/assessments/new/"),
        ("post", "/patients/{id}/assessments/new/"),
        ("post", "/patients/{id}/invite/"),
        ("post", "/patients/{id}/enrol/"),
        ("post", "/patients/{id}/extend/"),
        ("get", "/patients/{id}/series/"),
        ("get", "/patients/{id}/consent.pdf"),
        ("get", "/patients/{id}/record.pdf"),
        ("get", "/patients/{id}/record.fhir.json"),
        ("get", "/outcomes/patients/{id}/progress/"),
        ("get", "/outcomes/patients/{id}/progress.pdf"),
        ("post", "/patients/{id}/visits/"),
        ("post", "/patients/{id}/boosters/1/book/"),
    ],
)
def test_other_site_patient_is_not_found_and_audited(login, carl, pat, method, path):
    response = getattr(login(carl), method)(path.format(id=pat.pk))
    denied = AuditEvent.objects.filter(actor=carl, outcome="denied").get()
    assert response.status_code == 404
    assert (denied.patient_id, denied.action) == (pat.pk, "read")


def test_other_site_patient_is_not_listed(login, carl, pat):
    response = login(carl).get("/")
    assert list(response.context["patients"]) == []


@pytest.mark.parametrize(
    ("user", "method", "path", "status"),
    [
        ("ben", "get", "/patients/new/", 403),  # nurses do not register patients
        ("ben", "post", "/patients/{id}/enrol/", 403),  # nor enrol them
        ("ben", "post", "/patients/{id}/course-status/", 403),  # nor change a course's phase
        ("ben", "post", "/patients/{id}/titrate/", 403),  # nor its dose
        ("ben", "post", "/patients/{id}/dose/", 403),
        ("ben", "post", "/patients/{id}/dose/cosign/", 403),
        ("alex", "post", "/patients/{id}/dose/", 403),
        ("ben", "get", "/schedule/waitlist/", 403),  # nurses do not book series
        ("ben", "get", "/patients/{id}/review/", 403),  # nor sign its review
        ("ben", "post", "/patients/{id}/extend/", 403),  # nor extend its series
        ("sam", "get", "/patients/{id}/assessments/new/", 403),  # schedulers record no scores
        ("sam", "get", "/visits/1/infusion/", 403),  # nor infusions
        ("sam", "post", "/visits/1/infusion/check-in/", 403),
        ("sam", "post", "/visits/1/infusion/vitals/", 403),
        ("sam", "get", "/visits/1/infusion/record.pdf", 403),
        ("sam", "get", "/visits/1/discharge.pdf", 403),  # discharge is at the chair
        ("sam", "get", "/alerts/export.csv", 403),  # no alerts for the front desk, nor exports
        ("ben", "get", "/accounts/audit/export.csv", 403),
        ("ben", "get", "/accounts/audit/export.fhir.json", 403),
        ("ivy", "get", "/patients/{id}/", 403),  # auditors read the audit log, not charts
        ("ben", "get", "/accounts/audit/", 403),
        ("ivy", "get", "/accounts/audit/", 200),
        ("ben", "get", "/accounts/outbox/", 403),  # the outbox is the administrators'
        ("ben", "get", "/accounts/outbox/dead/", 403),
        ("ben", "post", "/accounts/outbox/1/send-again/", 403),
        ("ivy", "post", "/patients/{id}/invite/", 403),
        ("sam", "post", "/visits/1/adverse-events/", 403),  # schedulers record no adverse event
        ("sam", "get", "/outcomes/patients/{id}/progress/", 403),  # the progress report is scores
        ("alex", "get", "/outcomes/patients/{id}/progress.pdf", 403),
        ("ivy", "get", "/outcomes/patients/{id}/progress/", 403),
        ("ben", "get", "/outcomes/patients/{id}/progress/", 200),
        ("sam", "get", "/patients/{id}/", 200),
        ("sam", "get", "/patients/{id}/details/", 200),  # the front desk corrects details
        ("ben", "get", "/patients/{id}/details/", 403),  # nurses do not
        ("sam", "post", "/patients/{id}/allergies/", 403),  # allergies are clinical
        ("sam", "post", "/patients/{id}/allergies/none/", 403),
        ("ben", "post", "/consents/1/correct/", 403),  # a prescriber corrects a consent
        ("ivy", "get", "/schedule/staff/", 403),  # auditors see no shifts
        ("ben", "get", "/schedule/staff/", 200),  # nurses see them
        ("ben", "post", "/schedule/staff/shifts/", 403),  # but add none
        ("ben", "post", "/schedule/staff/shifts/1/remove/", 403),  # nor remove one
        ("sam", "post", "/schedule/staff/rules/", 403),  # the rules are the administrators'
        ("sam", "post", "/schedule/staff/chairs/1/", 403),  # so are the chairs
        ("ada", "post", "/schedule/staff/medical-directors/", 403),  # and the directors
        ("ivy", "get", "/schedule/calendar/", 403),  # auditors see no calendar
        ("sam", "get", "/schedule/calendar/", 200),  # schedulers read it
        ("sam", "post", "/schedule/calendar/hours/", 403),  # the hours are the administrators'
        ("ada", "post", "/schedule/calendar/closures/", 403),  # so are the closures
        ("sam", "post", "/schedule/calendar/closures/1/remove/", 403),
        ("ben", "post", "/schedule/calendar/holidays/", 403),  # and the public holidays
        ("sam", "post", "/schedule/calendar/holidays/country/", 403),
        ("ada", "post", "/accounts/staff/invite/", 403),  # staff accounts are the administrators'
        ("ivy", "post", "/accounts/staff/1/roles/", 403),
        ("ben", "post", "/accounts/staff/1/deactivate/", 403),
        ("ben", "post", "/accounts/staff/1/unlock/", 403),
        ("sam", "post", "/accounts/staff/1/reset-password/", 403),
        ("sam", "post", "/schedule/site/", 403),  # and so are the site's details
    ],
)
def test_role_permissions(request, login, pat, user, method, path, status):
    client = login(request.getfixturevalue(user))
    assert getattr(client, method)(path.format(id=pat.pk)).status_code == status


PRESCRIBERS_STEPS = {"decisions", "resume", "cosign"}  # the rest: nurses and prescribers
API_ROLES = ("ada", "ben", "sam", "alex", "ivy", "nora")  # prescriber, nurse, scheduler,
# clinic administrator, auditor, no role


def chairside_api_status(step: str, user: str) -> int:
    """What the chair-side API answers a role for a visit that is not at its sites: 401 with no
    role, 403 for a role that may not take the step (checked before the visit is looked up, so
    a refusal tells nothing of the visit), 404 for one that may."""
    if user == "nora":
        return 401
    if user in {"sam", "alex", "ivy"} or (user == "ben" and step in PRESCRIBERS_STEPS):
        return 403
    return 404


@pytest.mark.parametrize("user", API_ROLES)
@pytest.mark.parametrize("step", ["", *CHAIRSIDE_API_STEPS])
def test_chairside_api_by_role(request, login, pat, user, step):
    client = login(request.getfixturevalue(user))
    path = "/api/v1/visits/999/infusion" + (f"/{step}" if step else "")
    if step:
        body = CHAIRSIDE_API_STEPS[step]
        data = "" if body is None else json.dumps(body)
        response = client.post(path, data, content_type="application/json")
    else:
        response = client.get(path)
    assert response.status_code == chairside_api_status(step, user)
    if response.status_code != 401:
        assert list(response.json()) == ["error"]


def test_scheduler_does_not_see_scores(login, sam, pat):
    response = login(sam).get(f"/patients/{pat.pk}/")
    assert response.context["page"].measures is None
    assert "Record a questionnaire" not in response.content.decode()


def test_patient_page_read_writes_one_audit_row(login, ada, pat):
    client = login(ada)
    before = AuditEvent.objects.latest("id").id
    client.get(f"/patients/{pat.pk}/")
    events = list(AuditEvent.objects.filter(id__gt=before))
    assert [(e.action, e.category, e.patient_id, e.actor_id, e.outcome) for e in events] == [
        ("read", "patient-record", pat.pk, ada.pk, "success")
    ]
    assert events[0].ip == "127.0.0.1"
    assert len(events[0].request_id) == 32


def test_phq9_write_writes_one_audit_row(login, ben, pat):
    client = login(ben)
    before = AuditEvent.objects.latest("id").id
    data = {f"phq9-{n}": "1" for n in range(1, 9)} | {
        "phq9-9": "0",  # no alert: one write, one row
        "instrument": "phq9",
        "timepoint": "baseline",
    }
    client.post(f"/patients/{pat.pk}/assessments/new/", data)
    events = list(AuditEvent.objects.filter(id__gt=before))
    assert [(e.action, e.category, e.patient_id, e.object_type) for e in events] == [
        ("create", "questionnaire", pat.pk, "care.Assessment")
    ]


def test_login_and_failed_login_are_audited(db, ada):
    ada.set_password("correct horse battery staple")
    ada.save()
    client = Client()
    client.post("/accounts/login/", {"username": "ada", "password": "wrong"})
    client.post("/accounts/login/", {"username": "ada", "password": "correct horse battery staple"})
    events = [(e.action, e.actor_username, e.outcome) for e in AuditEvent.objects.all()]
    assert events == [
        ("create", "sustain", "success"),
        ("login-failed", "ada", "denied"),
        ("login", "ada", "success"),
    ]


def test_session_idle_timeout(login, ada, pat):
    start = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        client = login(ada)
    with time_machine.travel(start + dt.timedelta(minutes=14), tick=False):
        assert client.get("/").status_code == 200
    with time_machine.travel(start + dt.timedelta(minutes=14 + 16), tick=False):
        response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/")


def test_session_absolute_lifetime(login, ada, pat):
    start = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        client = login(ada)
    for minutes in range(10, 12 * 60, 10):  # active every 10 minutes all day
        with time_machine.travel(start + dt.timedelta(minutes=minutes), tick=False):
            assert client.get("/").status_code == 200
    with time_machine.travel(start + dt.timedelta(hours=12, minutes=1), tick=False):
        response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/")
    assert client.get("/").status_code == 302


def test_patient_pages_send_security_headers(login, ada, pat):
    response = login(ada).get(f"/patients/{pat.pk}/")
    assert response["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "object-src 'none'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_no_patient_data_in_links(login, ada, pat):
    html = (
        login(ada).get("/").content.decode()
        + login(ada).get(f"/patients/{pat.pk}/").content.decode()
    )
    links = re.findall(r'(?:href|action)="([^"]*)"', html)
    assert links
    for secret in ("Pat", "Quinn", "1980-05-17", "555-0100", "pat@example.com"):
        assert [link for link in links if secret in link] == []


def test_fresh_install_has_no_accounts(db):
    assert User.objects.count() == 0


def test_passwords_are_hashed_with_argon2id(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    user = User.objects.create_user("zed", password="a long enough passphrase")
    assert user.password.startswith("argon2$argon2id$")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "the development key is refused"),
        ("short", "at least 50 characters"),
    ],
)
def test_production_refuses_weak_secret_key(key, message):
    env = {"SUSTAIN_DEBUG": "0", "PATH": "/usr/bin:/bin"}
    if key:
        env["SUSTAIN_SECRET_KEY"] = key
    result = subprocess.run(
        [sys.executable, "-c", "import sustain.settings"],
        env=env | {"PYTHONPATH": "src"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert message in result.stderr


def test_refused_write_that_shows_the_record_again_audits_one_read(login, ben, pat):
    data = {f"phq9-{n}": "1" for n in range(1, 9)} | {"instrument": "phq9", "timepoint": "baseline"}
    before = AuditEvent.objects.latest("id").id  # item 9 is missing
    response = login(ben).post(f"/patients/{pat.pk}/assessments/new/", data)
    events = list(AuditEvent.objects.filter(id__gt=before, action__in=["read", "create"]))
    assert response.status_code == 400
    assert [(e.action, e.patient_id) for e in events] == [("read", pat.pk)]
