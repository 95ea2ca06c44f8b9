"""`sustain demo` loads the demo clinic through the real services, deterministically."""

import datetime as dt
import io
import itertools
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from sustain.accounts.audit import verify_chain
from sustain.accounts.models import OutboxMessage, Site, User
from sustain.care.models import Alert, Allergy, Assessment, AssessmentAnswer, Course, Patient
from sustain.clinic.management.commands.demo import TODAY_AT_THE_CHAIR
from sustain.infusion.models import InfusionRecord
from sustain.interop.fhir.registry import Caller
from sustain.ledger.chain import verify_chain as verify_ledger
from sustain.ledger.enums import EntryKind
from sustain.ledger.models import (
    Count,
    Discrepancy,
    Inventory,
    LedgerEntry,
    Location,
    SiteRegistration,
)
from sustain.ledger.services import balances_match_entries
from sustain.ledger.visits import open_visits, visit_ledger
from sustain.portal.models import Invitation
from sustain.scheduling.models import Appointment, Chair, Closure, OpeningHours
from sustain.scheduling.queries import waiting_courses
from sustain.scheduling.services import book_series
from sustain.scheduling.staff import site_profile
from sustain_core.outcomes import Outcome, classify
from sustain_core.protocols import DEPRESSION_INDUCTION_V1
from sustain_core.registration import dea_number
from tests.sustain.interop.fhir_checks import care_resources, schema_errors, unlisted_codes

pytestmark = [pytest.mark.db]

STAFF_ROLES = {
    "dr.ada": ["prescriber"],
    "nurse.ben": ["nurse"],
    "nurse.cleo": ["nurse"],
    "sam.scheduler": ["scheduler"],
    "alex.admin": ["clinic_admin"],
    "ivy.auditor": ["auditor"],
}


def load_demo(*, history: int = 0) -> str:
    """The demo of 2026-11-25, seed 7; without its year of history unless asked (that is
    test_demo_history's: the counts here are the detailed patients')."""
    out = io.StringIO()
    call_command(
        "demo", "--today", "2026-11-25", "--seed", "7", "--history", str(history), stdout=out
    )
    return out.getvalue()


def test_demo_loads_a_working_clinic(db, settings):
    settings.DEBUG = True
    output = load_demo()

    site = Site.objects.get()
    assert (site.name, site.timezone) == ("Riverside Infusion Clinic", "America/New_York")
    assert list(Chair.objects.values_list("name", "capabilities")) == [
        *((f"Chair {n}", []) for n in range(1, 6)),
        ("Chair 6", ["extended"]),
    ]
    assert list(OpeningHours.objects.values_list("weekday", "opens", "closes")) == [
        *((day, dt.time(8), dt.time(18)) for day in range(5)),
        (5, dt.time(9), dt.time(13)),
    ]
    assert list(Closure.objects.values_list("date", "reason")) == [
        (dt.date(2026, 11, 26), "Thanksgiving Day (clinic closed)")
    ]

    users = User.objects.order_by("username")
    assert {u.username: u.roles for u in users} == STAFF_ROLES
    ada = users.get(username="dr.ada")
    assert (ada.get_full_name(), ada.email) == ("Ada Okafor", "ada.okafor@example.org")
    for user in users:
        assert list(user.sites.all()) == [site]
        assert user.email.endswith("@example.org")
        assert user.check_password("ketamine-demo-2026")
    assert "password for all: ketamine-demo-2026" in output
    # Dr Ada is the demo clinic's medical director (issue 11): she publishes dosing changes.
    assert [m.user.username for m in site.memberships.filter(medical_director=True)] == ["dr.ada"]
    assert "dr.ada          Ada Okafor   Prescriber, medical director" in output

    # 40 with depression, 6 at the chair today and one CRPS patient waiting
    assert Patient.objects.count() == 47
    for patient in Patient.objects.all():
        age = (dt.date(2026, 11, 25) - patient.date_of_birth).days / 365.25
        assert 22 <= age < 71, patient
        assert patient.address.endswith(("Poughkeepsie, NY 12601", "Beacon, NY 12508",
                                         "Kingston, NY 12401")), patient  # fmt: skip
        assert patient.phone.startswith("555-01") and patient.email.endswith("@example.com")
    assert Patient.objects.filter(courses__isnull=True).count() == 5
    # Each with an MRN of the site's; the 40 with their contacts, some with an allergy or
    # "no known allergies" (issue 13).
    mrns = sorted(Patient.objects.values_list("mrn", flat=True))
    assert mrns == [f"S{site.pk}-{n:06d}" for n in range(1, 48)]
    assert Patient.objects.exclude(escort_name="").count() == 40
    assert Allergy.objects.exists()
    assert Patient.objects.filter(no_known_allergies_at__isnull=False).exists()
    assert Counter(Course.objects.values_list("status", flat=True)) == {
        "screening": 8 + 1,  # checked in today: infusion 1 starts induction
        "induction": 12 + 5,
        "review": 2,
        "maintenance": 8,
        "relapsed": 6,
    }

    now = dt.datetime(2026, 11, 25, 12, tzinfo=ZoneInfo("America/New_York"))  # demo clock
    at_the_chair = [family for _, family, *_ in TODAY_AT_THE_CHAIR]
    today = Appointment.objects.filter(patient__family_name__in=at_the_chair, number=1)
    # Today's board at every stage (issue 10, item 9), each visit's record up to the clock.
    assert sorted((v.patient.family_name, v.chairside.stage, v.phase) for v in today) == [
        ("Brandt", "recovering", "recovering"),
        ("Duarte", "infusing", "infusing"),
        ("Halloran", "discharged", "discharged"),
        ("Marsh", "stopped", "infusing"),
        ("Menon", "checking_in", "arrived"),
        ("Okoro", "cosigned", "discharged"),
    ]
    stopped = today.get(patient__family_name="Marsh").chairside
    assert stopped.events.get().detail.startswith("systolic 186 mmHg is above the stop")
    for course in Course.objects.filter(status="induction").exclude(
        patient__family_name__in=at_the_chair
    ):
        visits = list(course.appointments.order_by("number"))
        assert [v.number for v in visits] == [1, 2, 3, 4, 5, 6]
        starts = [v.starts_at for v in visits]
        assert all(b - a >= dt.timedelta(hours=48) for a, b in itertools.pairwise(starts))
        assert visits[-1].ends_at - visits[0].starts_at <= dt.timedelta(days=21)
        given = [v for v in visits if v.status == "completed"]
        assert given, "every mid-induction patient has had an infusion"
        for visit in visits[len(given) :]:  # not started: booked, or checked in and ready
            assert visit.status == "booked"
            arrived = visit.starts_at + dt.timedelta(minutes=5) <= now
            assert not arrived or visit.chairside.stage == "ready"
        for visit in given:  # each infusion has its pre-infusion PHQ-9 from 15 minutes before
            assessment = visit.visit_assessments.get(assessment__instrument="phq9").assessment
            assert (assessment.timepoint, assessment.completed_at) == (
                "pre_infusion",
                visit.starts_at - dt.timedelta(minutes=15),
            )
            # Started after the check-in, at the chair; the record as far as the demo's clock
            # has come in the story (sustain.clinic.story): ended after 40 min, discharged an
            # hour later, signed, co-signed half an hour after the end of the hour.
            start = visit.starts_at + dt.timedelta(minutes=15)
            assert visit.infusion.confirmed_at == start
            since_end = now - (start + dt.timedelta(minutes=40))
            expected = next(
                stage
                for stage, after in (("cosigned", 90), ("signed", 63), ("discharged", 61),
                                     ("recovering", 0))
                if since_end >= dt.timedelta(minutes=after)
            )  # fmt: skip
            assert visit.chairside.stage == expected
            assert visit.phase == {"recovering": "recovering"}.get(expected, "discharged")
    for course in Course.objects.filter(status__in=["review", "maintenance", "relapsed"]):
        assert course.infusions.count() == 6
    # Booked but still screening: only the patient checked in today (infusion 1 starts induction).
    booked_screening = Course.objects.filter(status="screening", appointments__isnull=False)
    assert {c.patient.family_name for c in booked_screening} == {"Menon"}
    # 16 finished courses × 6, the 29 mid-induction infusions given so far, 5 started today.
    assert InfusionRecord.objects.count() == 16 * 6 + 29 + 5
    # Every infusion drew from a numbered vial of the safe (issue 12); every visit whose
    # infusion ended is closed in the ledger: Okoro's, stopped at 30 min, wasted with Cleo as
    # witness; the chain verifies and every balance is the sum of its entries.
    assert InfusionRecord.objects.filter(draw__isnull=True).count() == 0
    assert {v.name for v in Location.objects.all()} == {"Safe"}
    registration = SiteRegistration.objects.get()
    assert registration.dea_number[:8] == f"FS{Site.objects.get().pk:06d}"
    assert registration.address == "40 Market Street, Poughkeepsie, NY 12601"
    assert dea_number(registration.dea_number) == registration.dea_number  # its check digit
    ended = Appointment.objects.filter(chairside__ended_at__isnull=False)
    assert ended.count() == 16 * 6 + 29 + 3
    assert all(visit_ledger(visit).closed for visit in ended)
    (line,) = visit_ledger(today.get(patient__family_name="Okoro")).lines
    assert (line.wasted_mg > 0, line.witnesses) == (True, ["nurse.cleo"])
    assert line.administered_mg + line.wasted_mg == line.drawn_mg
    assert set(open_visits(Site.objects.get(), now.date())) == {
        today.get(patient__family_name=family).pk for family in ("Duarte", "Marsh")
    }
    assert verify_ledger().ok
    assert balances_match_entries() == []
    # Boosters for 4 maintenance patients, booked in the coming 2 weeks.
    boosters = Appointment.objects.filter(number=7)
    assert boosters.count() == 4
    assert all(now < b.starts_at < now + dt.timedelta(days=14) for b in boosters)

    # Item-level PHQ-9s: 9 answers 0–3 summing to the total; baselines 15–24; item 9 above 0
    # at exactly three timepoints (the alerts).
    for assessment in Assessment.objects.filter(instrument="phq9").prefetch_related("answers"):
        answers = [a.value for a in assessment.answers.all()]
        assert len(answers) == 9 and all(0 <= v <= 3 for v in answers)
        assert sum(answers) == assessment.total_score
        if assessment.timepoint == "baseline":
            assert 15 <= assessment.total_score <= 24
    assert (
        AssessmentAnswer.objects.filter(
            assessment__instrument="phq9", item="9", value__gt=0
        ).count()
        == 3
    )
    # A GAD-7 beside every baseline and follow-up PHQ-9.
    phq9_off_infusion = Assessment.objects.filter(
        instrument="phq9", timepoint__in=["baseline", "follow_up"]
    )
    assert Assessment.objects.filter(instrument="gad7").count() == phq9_off_infusion.count()
    # Three self-report links wait in the outbox, naming no patient.
    assert Invitation.objects.filter(used_at=None).count() == 3
    for message in OutboxMessage.objects.all():
        assert "/r/" in message.body or "/v/" in message.body  # a self-report or visit link
        assert not any(p.family_name in message.body for p in Patient.objects.all())
    # Visit reminders with their links; one patient confirmed, one asks to change (issue 13).
    answered = Appointment.objects.exclude(confirmed_at=None, change_requested_at=None)
    assert sorted((a.confirmed_at is None, a.change_note) for a in answered) == [
        (False, ""), (True, "Could we make it an afternoon? Mornings are hard.")
    ]  # fmt: skip

    # End of induction (first follow-up) against baseline, by the protocol's own rules: 9 of
    # 16 respond, 4 remit, 6 respond partly (a fall of 25 % or more, issue 11), 1 does not.
    finished = Course.objects.filter(status__in=["review", "maintenance", "relapsed"])
    rules = DEPRESSION_INDUCTION_V1.outcome_rules("phq9")
    results: Counter[Outcome] = Counter()
    for course in finished:
        first, end = course.assessments.filter(
            instrument="phq9", timepoint__in=["baseline", "follow_up"]
        ).values_list("total_score", flat=True)[:2]
        results[classify(rules, baseline_score=first, current_score=end)] += 1
    assert results == {
        Outcome.REMISSION: 4, Outcome.RESPONSE: 5, Outcome.PARTIAL_RESPONSE: 6,
        Outcome.NO_RESPONSE: 1,
    }  # fmt: skip
    assert (
        "End of induction (n=16): response 9 (56 %), remission 4 (25 %), partial response 6 "
        "(38 %)" in output
    )
    # Relapsers lost more than half their gain by the latest follow-up.
    for course in Course.objects.filter(status="relapsed"):
        totals = list(
            course.assessments.filter(instrument="phq9").values_list("timepoint", "total_score")
        )
        start = totals[0][1]
        follow_ups = [score for timepoint, score in totals if timepoint == "follow_up"]
        assert 2 * (follow_ups[-1] - follow_ups[0]) > start - follow_ups[0]

    assert Alert.objects.filter(status="open", kind="suicide_risk").count() == 2
    # A rise of 5 PHQ-9 [Lowe2004] or 4 GAD-7 [Toussaint2020] points raised worsening alerts,
    # for relapsing patients only: 8 on the score before, and 13 more where only the best
    # score so far shows the gradual decline (issue 11: comparing with the previous score
    # alone missed them). Each says which comparison fired.
    worsening = Alert.objects.filter(kind="worsening")
    assert sorted(worsening.values_list("assessment__instrument", flat=True)) == [
        *["gad7"] * 10,
        *["phq9"] * 11,
    ]
    assert set(worsening.values_list("patient__courses__status", flat=True)) == {"relapsed"}
    details = list(worsening.values_list("detail", flat=True))
    assert sum("from the previous score" in d for d in details) == 8
    assert all("from the best score so far" in d for d in details)
    # The futility review (issue 11): every course whose first PHQ-9 after infusion 3 showed
    # no response by the protocol's 50 % has the prescriber's task, once.
    futility = Alert.objects.filter(kind="futility_review")
    assert futility.count() == 14
    assert all(
        a.detail.startswith("3 infusions given (the protocol's futility checkpoint is 3) and ")
        and ("and no response on PHQ-9" in a.detail or "and partial response on PHQ-9" in a.detail)
        for a in futility
    )
    acknowledged = Alert.objects.get(status="acknowledged")
    assert acknowledged.acknowledged_by == ada
    assert verify_chain().ok

    # The CRPS patient waits for a series; booked, it goes to the one extended chair, around
    # the demo's staff (10 weekday visits of 5 h 20 min, the infusion with Ada on site).
    crps = Course.objects.get(protocol_key="crps-schwartzman-2009")
    assert crps in waiting_courses(Site.objects.all())
    sam = User.objects.get(username="sam.scheduler")
    visits = book_series(
        course=crps, earliest=now + dt.timedelta(days=5), by=sam, now=timezone.now()
    )
    assert len(visits) == 10
    assert {(v.chair.name, v.ends_at - v.starts_at) for v in visits} == {
        ("Chair 6", dt.timedelta(hours=5, minutes=20))
    }
    site = Site.objects.get()
    assert [s for s in site_profile(site, now, now + dt.timedelta(days=30)) if s.short] == []

    # The ledger's counts (issue 12, item 9): each past open day counted, one open discrepancy.
    assert "one open discrepancy" in output
    (open_one,) = Discrepancy.objects.filter(resolution="")
    assert open_one.difference_mg == -5
    assert open_one.count.occurred_on == dt.date(2026, 11, 24)  # the day before the demo's today
    assert Discrepancy.objects.count() == 1
    days = set(Count.objects.values_list("occurred_on", flat=True))
    assert dt.date(2026, 11, 26) not in days  # Thanksgiving: closed
    assert max(days) == dt.date(2026, 11, 24)
    assert all(day.weekday() < 5 for day in days)
    assert Inventory.objects.get().kind == "initial"
    # Three second infusions stopped early and today's signed visit (stopped at 30 minutes):
    # their remainder wasted before the other nurse.
    wastes = LedgerEntry.objects.filter(kind=EntryKind.WASTE)
    assert wastes.count() == 4
    assert all(w.witness_id not in (None, w.actor_id) for w in wastes)

    # Every care-side FHIR resource of the demo validates with zero errors and only listed
    # codes (issue 16, item 7), on this load (the demo takes a while to load).
    resources = care_resources(Caller(User.objects.get(username="dr.ada")))
    kinds = Counter(r["resourceType"] for r in resources)
    assert {"Condition", "CarePlan", "Consent", "QuestionnaireResponse", "Observation"} <= set(
        kinds
    ), kinds
    assert [e for r in resources for e in schema_errors(r)] == []
    assert {pair for r in resources for pair in unlisted_codes(r)} == set()

    with pytest.raises(CommandError, match="database is not empty"):
        load_demo()


def test_demo_refused_without_debug(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        load_demo()
    assert not User.objects.exists()
    assert not Site.objects.exists()
