"""The medication list (issue 11, item 5): prescribers and nurses add and stop medications,
every write audited and nothing deleted; the front desk never sees the list; interacting
medications show with their effect on the screen form and the course card; the bipolar
protocol's induction needs a mood stabiliser on the list; the YMRS raises a mania alert above
the clinic's rule. The gate's last doses are in tests/sustain/infusion/test_last_doses.py."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from sustain.accounts.models import AuditEvent
from sustain.care import rules, services
from sustain.care.models import Alert, Medication
from sustain.care.queries import medication_list
from sustain_core.course import TransitionRefused
from sustain_core.errors import ClinicalValueError
from sustain_core.protocols import PROTOCOLS

pytestmark = pytest.mark.db

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)  # Friday 10:00 in New York
TODAY = dt.date(2026, 11, 27)


def add(patient, by, name, *, dose="", started_on=None, now=NOW):
    return services.add_medication(
        patient=patient, name=name, dose=dose, started_on=started_on, by=by, now=now
    )


def writes(patient) -> list[tuple[str, str]]:
    events = AuditEvent.objects.filter(patient_id=patient.pk, object_type="care.Medication")
    return list(events.order_by("seq").values_list("action", "category"))


@pytest.mark.parametrize(
    ("typed", "name", "rxcui"),
    [
        ("  Lorazepam ", "lorazepam", ""),  # in the table, its code not verified: by name
        ("Oxycodone", "oxycodone", "7804"),  # its verified RxNorm ingredient code
        ("valproate", "valproic acid", "11118"),
        ("Sertraline 50 mg", "Sertraline 50 mg", ""),  # not in the table: free text
    ],
)
def test_a_medication_is_recorded_as_the_tables_ingredient_or_as_typed(
    pat, ben, typed, name, rxcui
):
    medication = add(pat, ben, typed, dose="1 mg at night", started_on=dt.date(2026, 1, 5))
    medication.refresh_from_db()
    assert (medication.name, medication.rxcui, medication.dose, medication.started_on) == (
        name, rxcui, "1 mg at night", dt.date(2026, 1, 5)
    )  # fmt: skip
    assert (medication.recorded_by, medication.recorded_at) == (ben, NOW)
    assert writes(pat) == [("create", "patient-record")]


@pytest.mark.parametrize(
    ("who", "change", "field", "message"),
    [
        ("sam", {}, "recorded_by", "a prescriber or a nurse records medications"),
        ("ben", {"name": "   "}, "name", "name the medication (its ingredient, e.g. lorazepam)"),
        ("ben", {"dose": "x" * 301}, "dose", "the dose and notes are at most 300 characters"),
        (
            "ben", {"started_on": dt.date(2026, 11, 28)}, "started_on",
            "the medication was started on 2026-11-28, after today (2026-11-27)",
        ),
    ],
)  # fmt: skip
def test_a_refused_medication_saves_nothing(request, pat, who, change, field, message):
    values = {"name": "lorazepam", "dose": "", "started_on": None} | change
    with pytest.raises(ClinicalValueError) as refused:
        services.add_medication(patient=pat, by=request.getfixturevalue(who), now=NOW, **values)
    assert (refused.value.field, refused.value.message) == (field, message)
    assert (Medication.objects.count(), writes(pat)) == (0, [])


def test_a_stopped_medication_stays_on_the_list_as_stopped(pat, ben, ada):
    medication = add(pat, ben, "tramadol", started_on=dt.date(2026, 10, 1))
    services.stop_medication(medication=medication, stopped_on=TODAY, by=ada, now=NOW)
    medication.refresh_from_db()
    assert (medication.stopped_on, medication.stopped_by, medication.stop_recorded_at) == (
        TODAY, ada, NOW
    )  # fmt: skip
    assert writes(pat) == [("create", "patient-record"), ("update", "patient-record")]
    # Stopped today it still counts today (a dose this morning); not tomorrow.
    tomorrow = TODAY + dt.timedelta(days=1)
    assert list(pat.medications.current_on(TODAY)) == [medication]
    assert list(pat.medications.current_on(tomorrow)) == []


@pytest.mark.parametrize(
    ("who", "stopped_on", "field", "message"),
    [
        ("sam", TODAY, "stopped_by", "a prescriber or a nurse stops medications"),
        ("ben", TODAY + dt.timedelta(days=1), "stopped_on",
         "the medication cannot be stopped on 2026-11-28, after today (2026-11-27)"),
        ("ben", dt.date(2026, 9, 30), "stopped_on",
         "tramadol was started on 2026-10-01; it cannot stop before"),
    ],
)  # fmt: skip
def test_a_refused_stop_saves_nothing(request, pat, ben, who, stopped_on, field, message):
    medication = add(pat, ben, "tramadol", started_on=dt.date(2026, 10, 1))
    with pytest.raises(ClinicalValueError) as refused:
        services.stop_medication(
            medication=medication, stopped_on=stopped_on, by=request.getfixturevalue(who), now=NOW
        )
    assert (refused.value.field, refused.value.message) == (field, message)
    medication.refresh_from_db()
    assert (medication.stopped_on, writes(pat)) == (None, [("create", "patient-record")])


def test_a_medication_is_stopped_once(pat, ben):
    medication = add(pat, ben, "tramadol")
    services.stop_medication(medication=medication, stopped_on=TODAY, by=ben, now=NOW)
    with pytest.raises(ClinicalValueError) as refused:
        services.stop_medication(medication=medication, stopped_on=TODAY, by=ben, now=NOW)
    assert refused.value.message == "tramadol was already stopped on 2026-11-27"


# --- The pages ----------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_a_nurse_adds_and_stops_a_medication_on_the_patient_page(login, pat, ben):
    client = login(ben)
    response = client.post(
        f"/patients/{pat.pk}/medications/",
        {"name": "Lorazepam", "dose": "0.5 mg at bedtime", "started_on": ""},
        follow=True,
    )
    page = response.content.decode()
    assert "lorazepam added to the medication list." in page
    assert "0.5 mg at bedtime" in page
    assert "profound sedation and respiratory depression with ketamine" in page
    medication = Medication.objects.get()
    response = client.post(
        f"/medications/{medication.pk}/stop/", {"stopped_on": "2026-11-26"}, follow=True
    )
    assert "lorazepam stopped on 2026-11-26." in response.content.decode()
    medication.refresh_from_db()
    assert medication.stopped_on == dt.date(2026, 11, 26)


@time_machine.travel(NOW, tick=False)
def test_a_refusal_on_the_page_is_shown_in_plain_words_and_saves_nothing(login, pat, ben):
    response = login(ben).post(
        f"/patients/{pat.pk}/medications/",
        {"name": "lorazepam", "started_on": "2026-12-24"},
        follow=True,
    )
    assert "The medication was started on 2026-12-24, after today (2026-11-27)" in (
        response.content.decode()
    )
    assert Medication.objects.count() == 0


@pytest.mark.parametrize(
    ("who", "status"), [("sam", 403), ("alex", 403), ("ivy", 403), ("carl", 404)]
)
@time_machine.travel(NOW, tick=False)
def test_only_prescribers_and_nurses_of_the_site_write_the_list(
    request, login, pat, ben, who, status
):
    medication = add(pat, ben, "tramadol")
    client = login(request.getfixturevalue(who))
    added = client.post(f"/patients/{pat.pk}/medications/", {"name": "lorazepam"})
    stopped = client.post(f"/medications/{medication.pk}/stop/", {"stopped_on": "2026-11-27"})
    assert (added.status_code, stopped.status_code) == (status, status)
    medication.refresh_from_db()
    assert (Medication.objects.count(), medication.stopped_on) == (1, None)


@pytest.mark.parametrize("who", ["sam", "alex"])
@time_machine.travel(NOW, tick=False)
def test_the_front_desk_never_sees_the_medication_list(login, pat, ben, who, request):
    add(pat, ben, "Lorazepam", dose="0.5 mg at bedtime")
    user = request.getfixturevalue(who)
    response = login(user).get(f"/patients/{pat.pk}/")
    page = response.content.decode()
    assert response.status_code == 200
    assert response.context["page"].medications is None  # not loaded (test_role_pages)
    assert ("Medications" in page, "0.5 mg at bedtime" in page, "lorazepam" in page) == (
        False, False, False
    )  # fmt: skip
    assert medication_list(user, pat, day=TODAY, protocol=None) is None


@time_machine.travel(NOW, tick=False)
def test_interacting_medications_show_on_the_screen_form_and_the_course_card(login, pat, ada, ben):
    services.enrol_patient(
        patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada, now=NOW
    )
    add(pat, ben, "Lorazepam", dose="0.5 mg at bedtime")
    add(pat, ben, "lithium")  # not an interaction
    add(pat, ben, "oxycodone", started_on=dt.date(2026, 9, 1))
    services.stop_medication(
        medication=Medication.objects.get(name="oxycodone"), stopped_on=dt.date(2026, 11, 1),
        by=ben, now=NOW,
    )  # fmt: skip
    page = login(ada).get(f"/patients/{pat.pk}/").content.decode()
    flag = (
        "lorazepam (0.5 mg at bedtime): Benzodiazepines: profound sedation and respiratory "
        "depression with ketamine [Ketalar-label] (clinical-facts §5b); watch sedation"
    )
    assert flag in page  # on the screen form the prescriber signs
    assert "⚠ lorazepam: Benzodiazepines: profound sedation" in page  # on the course card
    assert "⚠ lithium" not in page and "⚠ oxycodone" not in page  # stopped before today


# --- The bipolar protocol's mood stabiliser [Diazgranados2010] --------------------------------


@pytest.fixture
def bipolar(pat, ada, ben):
    """Pat on the bipolar-depression protocol, ready: consent, screen, baseline MADRS and YMRS
    (no mania), a current weight."""
    course = services.enrol_patient(
        patient=pat, protocol_key="bipolar-depression", protocol_version=1, by=ada, now=NOW
    )
    protocol = PROTOCOLS[("bipolar-depression", 1)]
    services.record_consent(course=course, signed_on=TODAY, document="v3", by=ben, now=NOW)
    services.sign_contraindication_screen(
        course=course, answers=dict.fromkeys(
            [*protocol.contraindications_absolute, *protocol.contraindications_relative], False
        ),
        notes="", by=ada, now=NOW,
    )  # fmt: skip
    for code, count in (("madrs", 10), ("ymrs", 11)):
        services.record_assessment(
            patient=pat, instrument=code, answers={str(n): 1 for n in range(1, count + 1)},
            timepoint="baseline", by=ada, completed_at=NOW, now=NOW,
        )  # fmt: skip
    return services.change_course_status(course=course, status="ready", by=ada, at=NOW)


def test_bipolar_induction_needs_a_mood_stabiliser_on_the_list(pat, ada, ben, bipolar):
    with pytest.raises(TransitionRefused) as refused:
        services.change_course_status(course=bipolar, status="induction", by=ada, at=NOW)
    assert refused.value.message == "induction needs: a mood stabiliser on the medication list"
    add(pat, ben, "Depakote")  # a brand name: free text, not a mood stabiliser to the rule
    with pytest.raises(TransitionRefused):
        services.change_course_status(course=bipolar, status="induction", by=ada, at=NOW)
    add(pat, ben, "divalproex sodium", dose="500 mg twice daily")
    course = services.change_course_status(course=bipolar, status="induction", by=ada, at=NOW)
    assert course.status == "induction"


def test_a_stopped_mood_stabiliser_does_not_count(pat, ada, ben, bipolar):
    lithium = add(pat, ben, "lithium", started_on=dt.date(2026, 1, 1))
    services.stop_medication(medication=lithium, stopped_on=dt.date(2026, 11, 20), by=ben, now=NOW)
    with pytest.raises(TransitionRefused):
        services.change_course_status(course=bipolar, status="induction", by=ada, at=NOW)


@time_machine.travel(NOW, tick=False)
def test_the_course_card_says_the_mood_stabiliser_is_missing(login, pat, ben, bipolar):
    missing = "✘ No mood stabiliser on the medication list: the protocol requires one"
    assert missing in login(ben).get(f"/patients/{pat.pk}/").content.decode()
    add(pat, ben, "lamotrigine", dose="100 mg daily")
    page = login(ben).get(f"/patients/{pat.pk}/").content.decode()
    assert missing not in page
    assert "⚠ lamotrigine: Lamotrigine: in healthy volunteers" in page  # it also interacts


# --- Mania alerts -------------------------------------------------------------------------


def ymrs(total: int) -> dict[str, int]:
    """YMRS answers adding up to `total`, the 0–8 items first."""
    answers = dict.fromkeys((str(n) for n in range(1, 12)), 0)
    for key in ("5", "6", "8", "9", "1", "2", "3", "4", "7", "10", "11"):
        answers[key] = min(8 if key in {"5", "6", "8", "9"} else 4, total)
        total -= answers[key]
    assert total == 0
    return answers


@pytest.mark.parametrize(
    ("threshold", "total", "alerts"),
    [(None, 12, []), (None, 13, ["mania"]), (20, 13, []), (20, 21, ["mania"]),
     (0, 1, ["mania"])],
)  # fmt: skip
def test_a_ymrs_above_the_sites_threshold_raises_a_mania_alert(pat, ada, threshold, total, alerts):
    """The clinic's rule (default 12: the remission cut-point ≤ 12 [PubCompare-CADSS] used as
    an alert, unconfirmed); the alert goes to the course's prescriber like the others."""
    if threshold is not None:
        rules.change_rules(
            site=pat.site, changes={"ymrs_alert_threshold": threshold}, based_on=0,
            reason="team decision", by=ada, now=NOW,
        )  # fmt: skip
    services.record_assessment(
        patient=pat, instrument="ymrs", answers=ymrs(total), timepoint="pre_infusion", by=ada,
        completed_at=NOW, now=NOW,
    )  # fmt: skip
    assert list(Alert.objects.values_list("kind", flat=True)) == alerts


@time_machine.travel(NOW, tick=False)
def test_the_mania_alert_shows_on_the_patient_page(login, pat, ada):
    services.record_assessment(
        patient=pat, instrument="ymrs", answers=ymrs(20), timepoint="pre_infusion", by=ada,
        completed_at=timezone.now(), now=timezone.now(),
    )  # fmt: skip
    page = login(ada).get(f"/patients/{pat.pk}/").content.decode()
    assert "YMRS above the clinic&#x27;s threshold</strong> on YMRS (20)" in page


def test_the_protocol_page_says_what_the_medication_list_needs(login, ben):
    page = login(ben).get("/protocols/bipolar-depression/v1/").content.decode()
    assert "Needed on the medication list before induction:</strong> a mood stabiliser." in page
    other = login(ben).get("/protocols/depression-induction/v1/").content.decode()
    assert "Needed on the medication list" not in other
