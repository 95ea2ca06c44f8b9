"""Emergency ("break-glass") access (sustain.care.break_glass; BTG-01, BTG-02, BTG-03).

Dr Carl, a prescriber at South Clinic, opens Pat of North Clinic: through the page, with a
reason, his password and a code from his authenticator; the reads are marked, the end or
expiry audited, North's reviewers told through the outbox, and an auditor closes the review.
"""

import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine
from django.contrib.sessions.backends.db import SessionStore
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest
from django.test import Client
from django.utils import timezone

from sustain.accounts.models import AuditEvent, OutboxMessage, User
from sustain.care import break_glass, services
from sustain.care.models import BreakGlassGrant, Patient
from sustain_core.errors import ClinicalValueError
from tests.sustain.conftest import TODAY, make_user
from tests.sustain.second_factor import code_for, enrolled, signed_in

PASSWORD = "not-used-in-tests"  # noqa: S105 - conftest.make_user's
NOW = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)


def open_access(client: Client, user: User, **changes: str) -> object:
    data = {
        "mrn": "",
        "family_name": "Quinn",
        "given_name": "",
        "date_of_birth": "1980-05-17",
        "reason": "Brought to our clinic unconscious after a fall",
        "password": PASSWORD,
        "code": code_for(enrolled(user)),
    } | changes
    return client.post("/emergency-access/", data)


@pytest.fixture
def carl_in(carl: User) -> Client:
    return signed_in(carl)


@pytest.fixture
def other(north, sam) -> Patient:
    """Another North patient, whom Carl's grant does not open."""
    return services.register_patient(
        by=sam, site=north, given_name="Olga", family_name="Reyes",
        date_of_birth=dt.date(1975, 1, 2), sex="female", primary_condition="depression",
        phone="", email="",
        weight_kg=Decimal("60.0"), height_cm=Decimal("160.0"), today=TODAY,
        now=dt.datetime.combine(TODAY, dt.time(14), tzinfo=dt.UTC),
    )  # fmt: skip


def btg_events(*reasons: str) -> list[tuple[str, str, int | None]]:
    return list(
        AuditEvent.objects.filter(reason__in=reasons)
        .order_by("seq")
        .values_list("action", "reason", "patient_id")
    )


def test_a_prescriber_of_another_site_opens_one_patient_and_reads_the_chart(
    carl, carl_in, pat, alex, ivy
):
    with time_machine.travel(NOW, tick=False):
        response = open_access(carl_in, carl)
        assert response.status_code == 302
        assert response["Location"] == f"/patients/{pat.pk}/"
        page = carl_in.get(f"/patients/{pat.pk}/")
        listing = carl_in.get("/").content.decode()

    assert page.status_code == 200
    assert "Quinn" in page.content.decode()
    assert "Emergency access is open" in page.content.decode()
    assert "End emergency access" in listing  # the banner on every page
    grant = BreakGlassGrant.objects.get()
    assert (grant.user, grant.patient, grant.started_at) == (carl, pat, NOW)
    assert grant.expires_at == NOW + dt.timedelta(minutes=60)
    assert grant.reason == "Brought to our clinic unconscious after a fall"
    assert btg_events("BTG start", "BTG") == [
        ("create", "BTG start", pat.pk),
        ("read", "BTG", pat.pk),
    ]
    start = AuditEvent.objects.get(reason="BTG start")
    assert (start.actor, start.site, start.object_type) == (carl, pat.site, "care.BreakGlassGrant")
    # North's reviewers (its clinic administrator and auditor) are told; no patient data.
    told = OutboxMessage.objects.order_by("to")
    assert [m.to for m in told] == [alex.email, ivy.email]
    for message in told:
        assert "An emergency access was opened at North Clinic" in message.body
        for private in ("Quinn", "Pat", pat.mrn, "1980", "unconscious"):
            assert private not in message.body + message.subject
    assert grant.reviewed_at is None  # an open review item


def test_the_sites_privacy_email_is_told_when_set(carl, carl_in, pat, alex):
    pat.site.privacy_email = "privacy@north.example.org"
    pat.site.save()

    open_access(carl_in, carl)

    assert list(OutboxMessage.objects.values_list("to", flat=True)) == ["privacy@north.example.org"]


def test_the_patient_is_found_by_exact_mrn(carl, carl_in, pat):
    response = open_access(carl_in, carl, family_name="", date_of_birth="", mrn=pat.mrn.lower())
    assert response.status_code == 302
    assert BreakGlassGrant.objects.get().patient == pat


@pytest.mark.parametrize("role", ["scheduler", "clinic_admin", "auditor", None])
def test_roles_without_the_permission_cannot_open_emergency_access(south, pat, role):
    user = make_user(f"someone-{role}", role, south)
    client = signed_in(user)

    assert client.get("/emergency-access/").status_code == 403
    assert open_access(client, user).status_code == 403
    assert not BreakGlassGrant.objects.exists()
    assert AuditEvent.objects.filter(actor=user, outcome="denied").count() == 2


def test_an_infusion_nurse_may_open_emergency_access(south, pat):
    nurse = make_user("nina", "nurse", south)
    assert open_access(signed_in(nurse), nurse).status_code == 302


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reason": ""}, "This field is required."),
        ({"reason": "   urgent "}, "Say in a few words why you need this patient"),
        ({"password": "wrong password"}, "That password is not right"),
        ({"code": "000000"}, "That code is not right"),
        ({"code": ""}, "Type the code your authenticator app shows now"),
        ({"family_name": "", "date_of_birth": ""}, "Type the patient&#x27;s exact MRN"),
        ({"family_name": "Nobody"}, "No patient matches exactly"),
        ({"date_of_birth": "0001-01-01"}, "The date of birth must be between"),
    ],
)
def test_a_refused_emergency_access_says_why_and_opens_nothing(
    carl, carl_in, pat, changes, message
):
    response = open_access(carl_in, carl, **changes)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not BreakGlassGrant.objects.exists()
    assert not OutboxMessage.objects.exists()
    assert carl_in.get(f"/patients/{pat.pk}/").status_code == 404


def test_a_wrong_password_is_audited(carl, carl_in, pat):
    open_access(carl_in, carl, password="guess")
    event = AuditEvent.objects.get(reason="BTG wrong password")
    assert (event.actor, event.action, event.outcome) == (carl, "login-failed", "denied")


def test_a_search_that_finds_no_one_or_several_is_audited(carl, carl_in, pat, sam, north):
    services.register_patient(
        by=sam, site=north, given_name="Pia", family_name="Quinn",
        date_of_birth=dt.date(1980, 5, 17), sex="female", primary_condition="depression",
        phone="", email="", weight_kg=Decimal("60.0"), height_cm=Decimal("160.0"),
        today=TODAY, now=dt.datetime.combine(TODAY, dt.time(14), tzinfo=dt.UTC),
        confirm_duplicate=True,
    )  # fmt: skip

    # A minute apart: each try takes a fresh code from the authenticator (a code works once).
    with time_machine.travel(NOW, tick=False):
        several = open_access(carl_in, carl)
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        nobody = open_access(carl_in, carl, family_name="Nobody")
    with time_machine.travel(NOW + dt.timedelta(minutes=2), tick=False):
        found = open_access(carl_in, carl, given_name="pat")

    assert "More than one patient matches" in several.content.decode()
    assert "No patient matches exactly" in nobody.content.decode()
    assert found.status_code == 302
    assert BreakGlassGrant.objects.get().patient == pat
    events = AuditEvent.objects.filter(actor=carl, reason__startswith="BTG search")
    assert list(events.order_by("seq").values_list("reason", "outcome")) == [
        ("BTG search: several", "denied"),
        ("BTG search: no match", "denied"),
    ]


def test_in_the_demo_without_a_second_factor_the_password_alone_reauthenticates(
    settings, carl, carl_in, pat
):
    settings.SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR = True
    assert "Code from your authenticator" not in carl_in.get("/emergency-access/").content.decode()
    assert open_access(carl_in, carl, code="").status_code == 302


def test_a_patient_of_ones_own_site_is_not_an_emergency(ada, pat):
    response = open_access(signed_in(ada), ada)
    assert "This patient is at one of your sites" in response.content.decode()
    assert not BreakGlassGrant.objects.exists()


def test_the_grant_opens_exactly_one_patient_and_only_to_read(carl, carl_in, pat, other):
    open_access(carl_in, carl)

    assert carl_in.get(f"/patients/{pat.pk}/").status_code == 200
    assert carl_in.get(f"/patients/{other.pk}/").status_code == 404  # another patient
    # Read only: a write to the patient is the audited 404 of another site.
    response = carl_in.post(
        f"/patients/{pat.pk}/weight/", {"weight_kg": "72.4", "measured_on": "2026-11-24"}
    )
    assert response.status_code == 404
    assert pat.weights.count() == 1
    denied = AuditEvent.objects.filter(actor=carl, outcome="denied").order_by("id")
    assert list(denied.values_list("patient_id", flat=True)) == [other.pk, pat.pk]


def test_the_grant_expires_after_the_configured_minutes(carl, carl_in, pat):
    with time_machine.travel(NOW, tick=False):
        open_access(carl_in, carl)
    # Signed in afresh at each time (a session idles out after 15 minutes): the grant is
    # the user's, the banner the session's that opened it.
    with time_machine.travel(NOW + dt.timedelta(minutes=59), tick=False):
        assert signed_in(carl).get(f"/patients/{pat.pk}/").status_code == 200
    with time_machine.travel(NOW + dt.timedelta(minutes=61), tick=False):
        assert signed_in(carl).get(f"/patients/{pat.pk}/").status_code == 404
        assert break_glass.end_expired(now=timezone.now()) == 1
        assert break_glass.end_expired(now=timezone.now()) == 0

    grant = BreakGlassGrant.objects.get()
    assert (grant.ended_at, grant.expired) == (NOW + dt.timedelta(minutes=60), True)
    assert btg_events("BTG start", "BTG expired") == [
        ("create", "BTG start", pat.pk),
        ("update", "BTG expired", pat.pk),
    ]


def test_the_configured_minutes_are_honoured(settings, carl, carl_in, pat):
    settings.SUSTAIN_BREAK_GLASS_MINUTES = 5
    with time_machine.travel(NOW, tick=False):
        open_access(carl_in, carl)
    with time_machine.travel(NOW + dt.timedelta(minutes=4), tick=False):
        assert carl_in.get(f"/patients/{pat.pk}/").status_code == 200
    with time_machine.travel(NOW + dt.timedelta(minutes=6), tick=False):
        assert carl_in.get(f"/patients/{pat.pk}/").status_code == 404
        assert "Emergency access is open" not in carl_in.get("/").content.decode()


def test_ending_emergency_access_closes_it_at_once(carl, carl_in, pat):
    open_access(carl_in, carl)

    response = carl_in.post("/emergency-access/end/", follow=True)

    assert "Emergency access ended." in response.content.decode()
    assert "Emergency access is open" not in response.content.decode()
    assert carl_in.get(f"/patients/{pat.pk}/").status_code == 404
    assert [r for _, r, _ in btg_events("BTG start", "BTG end")] == ["BTG start", "BTG end"]
    assert BreakGlassGrant.objects.get().expired is False


def test_opening_another_patient_ends_the_first(carl, carl_in, pat, other):
    open_access(carl_in, carl)
    open_access(carl_in, carl, family_name="Reyes", date_of_birth="1975-01-02")

    assert carl_in.get(f"/patients/{pat.pk}/").status_code == 404
    assert carl_in.get(f"/patients/{other.pk}/").status_code == 200
    assert BreakGlassGrant.objects.filter(ended_at__isnull=True).get().patient == other


def test_the_database_keeps_one_open_grant_a_user(carl, pat, other):
    BreakGlassGrant.objects.create(
        user=carl, patient=pat, reason="x" * 12, started_at=NOW,
        expires_at=NOW + dt.timedelta(hours=1),
    )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        BreakGlassGrant.objects.create(
            user=carl, patient=other, reason="x" * 12, started_at=NOW,
            expires_at=NOW + dt.timedelta(hours=1),
        )  # fmt: skip


def test_an_auditor_of_the_patients_site_closes_the_review(carl, carl_in, pat, ivy):
    open_access(carl_in, carl)
    grant = BreakGlassGrant.objects.get()
    ivy_in = signed_in(ivy)

    page = ivy_in.get("/emergency-access/reviews/").content.decode()
    assert "Brought to our clinic unconscious after a fall" in page
    assert "Open (1)" in page
    response = ivy_in.post(
        f"/emergency-access/reviews/{grant.pk}/",
        {"outcome": "appropriate", "note": "Seen in the ED log: a real emergency"},
        follow=True,
    )

    assert "Review closed." in response.content.decode()
    grant.refresh_from_db()
    assert (grant.review_outcome, grant.reviewed_by) == ("appropriate", ivy)
    event = AuditEvent.objects.get(reason="BTG review appropriate")
    assert (event.actor, event.patient_id) == (ivy, pat.pk)
    # Closed once.
    again = ivy_in.post(
        f"/emergency-access/reviews/{grant.pk}/",
        {"outcome": "inappropriate", "note": "changed my mind"},
        follow=True,
    )
    assert "This review is closed already" in again.content.decode()


def test_a_review_needs_an_outcome_and_a_note(carl, carl_in, pat, alex):
    open_access(carl_in, carl)
    grant = BreakGlassGrant.objects.get()

    response = signed_in(alex).post(
        f"/emergency-access/reviews/{grant.pk}/", {"outcome": "fine", "note": ""}, follow=True
    )

    assert "Note: This field is required." in response.content.decode()
    grant.refresh_from_db()
    assert grant.reviewed_at is None


def test_reviews_are_for_the_patients_site_and_the_reviewer_roles(carl, carl_in, pat, south):
    open_access(carl_in, carl)
    grant = BreakGlassGrant.objects.get()
    south_auditor = make_user("sue", "auditor", south)

    assert carl_in.get("/emergency-access/reviews/").status_code == 403  # not a reviewer
    sue = signed_in(south_auditor)
    assert "None open." in sue.get("/emergency-access/reviews/").content.decode()
    response = sue.post(
        f"/emergency-access/reviews/{grant.pk}/", {"outcome": "appropriate", "note": "ok"}
    )
    assert response.status_code == 404
    grant.refresh_from_db()
    assert grant.reviewed_at is None


def test_the_clinician_never_reviews_their_own_access(carl, pat):
    grant = BreakGlassGrant.objects.create(
        user=carl, patient=pat, reason="x" * 12, started_at=NOW,
        expires_at=NOW + dt.timedelta(hours=1),
    )  # fmt: skip
    grant.review_outcome, grant.review_note = "appropriate", "mine"
    grant.reviewed_by, grant.reviewed_at = carl, NOW
    with pytest.raises(IntegrityError), transaction.atomic():
        grant.save()


def test_the_privacy_email_is_set_on_the_site_page(alex, north):
    client = signed_in(alex)
    data = {"site": north.pk, "name": north.name, "timezone": north.timezone, "address": "",
            "phone": "", "privacy_email": "privacy@north.example.org"}  # fmt: skip

    assert client.post("/schedule/site/", data).status_code == 302
    north.refresh_from_db()
    assert north.privacy_email == "privacy@north.example.org"
    refused = client.post("/schedule/site/", data | {"privacy_email": "not an address"})
    assert refused.status_code == 400


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_opens_leave_one_open_grant(settings, carl, pat, other):
    """Six threads of Dr Carl open Pat or Olga at once (real threads, each its own database
    connection): one grant stays open; every other either ended or was refused in words."""
    settings.SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR = True  # the password re-authenticates
    barrier = threading.Barrier(6)
    results: list[object] = []

    def run(n: int) -> None:
        request = HttpRequest()
        request.session = SessionStore()
        try:
            barrier.wait()
            patient = (pat, other)[n % 2]
            results.append(
                break_glass.start(
                    request,
                    carl,
                    mrn=patient.mrn,
                    family_name="",
                    given_name="",
                    date_of_birth=None,
                    reason="Collapsed in our waiting room",
                    password=PASSWORD,
                    code="",
                    now=timezone.now(),
                )
            )
        except Exception as error:  # each outcome is checked below
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    refused = [r for r in results if not isinstance(r, BreakGlassGrant)]
    assert all(
        isinstance(r, ClinicalValueError) and "opened just now" in r.message for r in refused
    ), refused
    assert BreakGlassGrant.objects.filter(ended_at__isnull=True).count() == 1
    assert BreakGlassGrant.objects.count() == len(results) - len(refused) >= 1
    starts = AuditEvent.objects.filter(reason="BTG start").count()
    assert starts == BreakGlassGrant.objects.count()
