"""The progress report's sentences for each outcome (issue 17, item 2): remission, response,
partial response, none yet, a loss of response awaiting confirmation and a confirmed relapse,
for the clinician (the definitions' terms, the dates) and for the patient (none of them).
No database: unsaved assessments and a trajectory as sustain_core.outcomes gives one."""

import datetime as dt

import pytest
from django.utils.safestring import SafeString

from sustain.care.models import Assessment
from sustain.care.queries import MeasureSummary
from sustain.reports import progress
from sustain_core import instruments, maintenance, outcomes

pytestmark = pytest.mark.api  # the report's words (no database)

START = dt.datetime(2026, 11, 30, 13, 15, tzinfo=dt.UTC)
Status = outcomes.TrajectoryStatus
PHQ9 = outcomes.DEFAULT_RULES["phq9"]


def summary(status: Status, latest: int, *, responded: bool, remitted: bool, relapsed: bool):
    first = Assessment(instrument="phq9", total_score=20, severity="severe", completed_at=START)
    last = Assessment(
        instrument="phq9", total_score=latest, severity="mild",
        completed_at=START + dt.timedelta(days=30),
    )  # fmt: skip
    trajectory = outcomes.Trajectory(
        baseline=outcomes.Observation(at=first.completed_at, score=20),
        latest=outcomes.Observation(at=last.completed_at, score=latest),
        outcome=outcomes.classify(PHQ9, baseline_score=20, current_score=latest),
        status=status,
        first_response_at=START + dt.timedelta(days=7) if responded else None,
        first_remission_at=START + dt.timedelta(days=9) if remitted else None,
        relapse_at=START + dt.timedelta(days=25) if relapsed else None,
        days_to_response=7 if responded else None,
        days_to_relapse=14 if relapsed else None,
    )
    return MeasureSummary(
        instrument=instruments.get_instrument("phq9"), assessments=[first, last], baseline=first,
        latest=last, outcome=trajectory.outcome, trajectory=trajectory,
        change_percent=outcomes.score_percent_change(baseline_score=20, current_score=latest),
        remission_max=PHQ9.remission_max, chart=SafeString(""), rules=PHQ9,
    )  # fmt: skip


CASES = {
    "remitted": (
        summary(Status.REMITTED, 3, responded=True, remitted=True, relapsed=False),
        [
            "PHQ-9: baseline 20, latest 3 (mild); change -85 %.",
            "Status: remitted.",
            "Response (≥ 50 % below baseline) first on 2026-12-07, 7 days after the first "
            "infusion.",
            "Remission (PHQ-9 ≤ 4) first on 2026-12-09.",
        ],
        [
            "Your depression score went from 20 to 3; lower is better; that is a drop of 85 %.",
            "It is now at or below 4: the range where symptoms are few or none.",
        ],
    ),
    "relapsed": (
        summary(Status.RELAPSED, 16, responded=True, remitted=False, relapsed=True),
        [
            "PHQ-9: baseline 20, latest 16 (mild); change -20 %.",
            "Status: relapsed.",
            "Response (≥ 50 % below baseline) first on 2026-12-07, 7 days after the first "
            "infusion.",
            "Relapse (loss of response, confirmed) from 2026-12-25, 14 days after the last "
            "induction infusion.",
        ],
        [
            "Your depression score went from 20 to 16; lower is better; that is a drop of 20 %.",
            "It went back up and stayed up when checked again; your care team will talk with "
            "you about what to do next.",
        ],
    ),
    "loss unconfirmed": (
        summary(Status.LOSS_UNCONFIRMED, 12, responded=True, remitted=False, relapsed=False),
        None,
        [
            "Your depression score went from 20 to 12; lower is better; that is a drop of 40 %.",
            "It has gone up again; your care team will check it again soon.",
        ],
    ),
    "partial": (
        summary(Status.PARTIAL_RESPONSE, 14, responded=False, remitted=False, relapsed=False),
        None,
        [
            "Your depression score went from 20 to 14; lower is better; that is a drop of 30 %.",
            "It has fallen, but not yet by 50 % or more.",
        ],
    ),
    "worse": (
        summary(Status.NOT_YET_RESPONDED, 22, responded=False, remitted=False, relapsed=False),
        ["PHQ-9: baseline 20, latest 22 (mild); change 10 %.", "Status: not yet responded."],
        [
            "Your depression score went from 20 to 22; lower is better; that is a rise of 10 %.",
            "It has not yet fallen by 50 % or more.",
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_words_for_each_outcome(case):
    measure, clinician, patient = CASES[case]
    words = {
        audience: progress._measure(measure, [], 6, tz=dt.UTC, for_patient=audience)
        for audience in (False, True)
    }
    if clinician is not None:
        assert words[False].words == clinician
    assert words[True].words == patient
    assert words[True].drop_percent == -measure.change_percent
    text = " ".join(words[True].words) + words[True].chart
    assert [t for t in ("PHQ-9", "response", "remission", "relapse", "baseline") if t in text] == []


def test_an_unchanged_score_is_said_to_be_the_same():
    measure = summary(Status.NOT_YET_RESPONDED, 20, responded=False, remitted=False, relapsed=False)
    words = progress._measure(measure, [], 6, tz=dt.UTC, for_patient=True).words
    assert words[0] == "Your depression score is 20, the same as before your first infusion."


@pytest.mark.parametrize(
    ("value", "audience"),
    [(None, "clinician"), ("clinician", "clinician"), ("patient", "patient"), ("", None),
     ("Patient", None), ("clinician ", None)],
)  # fmt: skip
def test_the_audience_is_one_of_two(value, audience):
    assert progress.parse_audience(value) == audience


def test_the_plan_in_words():
    taper = maintenance.MaintenanceOption(
        kind=maintenance.MaintenanceKind.TAPER, label="Taper",
        steps=((4, dt.timedelta(days=7)), (1, dt.timedelta(days=14))),
    )  # fmt: skip
    fixed = maintenance.MaintenanceOption(
        kind=maintenance.MaintenanceKind.FIXED_INTERVAL, label="Monthly",
        interval=dt.timedelta(days=28),
    )  # fmt: skip
    triggered = maintenance.MaintenanceOption(
        kind=maintenance.MaintenanceKind.SYMPTOM_TRIGGERED, label="When needed",
        min_gap=dt.timedelta(days=7),
    )  # fmt: skip
    assert [progress.plan_in_words(p) for p in (taper, fixed, triggered)] == [
        "4 booster infusions 7 days apart, then 1 booster infusion 14 days apart",
        "a booster infusion every 28 days",
        "a booster infusion if your symptoms come back",
    ]
