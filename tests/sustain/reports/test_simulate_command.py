"""`sustain simulate`: the policies side by side, as a table or CSV, from the core's figures."""

import csv
import datetime as dt
import io
import math

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sustain.accounts.models import AuditEvent
from sustain.reports.models import RelapseFit
from sustain_core import simulate
from tests.core import cohort_cases
from tests.sustain.reports import cohort_db

pytestmark = pytest.mark.db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("simulate", *args, stdout=out)
    return out.getvalue()


def test_the_csv_is_the_cores_figures_for_each_policy(db, django_assert_num_queries):
    with django_assert_num_queries(0):  # reads no patient data (nor anything else)
        text = run(
            "--policy", "none", "--policy", "symptom:7,7", "--policy", "forecast:0.2",
            "--patients", "500", "--seed", "3", "--intake-per-week", "4", "--csv",
        )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(text)))
    parameters = simulate.CohortParameters.from_literature("murrough")
    expected = []
    for text_policy in ("none", "symptom:7,7", "forecast:0.2"):
        policy = simulate.parse_policy(text_policy)
        run_ = simulate.simulate(parameters, policy, patients=500, years=1.0, seed=3)
        outcome = simulate.summarise(run_)
        chairs = outcome.chairs_needed(intake_per_week=4, chair_hours_per_week=50, utilisation=0.85)
        expected.append([outcome.label, f"{outcome.per_year['relapse_free_days']:.1f}",
                         f"{outcome.per_year['infusions']:.2f}", f"{chairs:.2f}"])  # fmt: skip
    got = [[row["policy"], row["relapse_free_days_per_year"], row["infusions_per_year"],
            row["chairs_needed"]] for row in rows]  # fmt: skip
    assert got == expected
    assert [row["booster_every_days"] for row in rows] == ["", "", "7"]


def test_the_table_compares_the_default_policies_with_the_stated_model():
    lines = run("--patients", "300", "--preset", "shiroma").splitlines()
    assert lines[0] == (
        "300 virtual patients, 1 year(s) each, seed 0; depression-induction@1: 6 infusions "
        "over 12 days, 120 min a visit"
    )
    assert lines[1].startswith("response and relapse: [Shiroma2014] 91.6 %")
    assert "median 18 days to relapse [Murrough2013]" in lines[1]
    assert [line.split()[0] for line in lines[7:]] == ["none", "fixed:28", "symptom:7"]


def test_the_same_seed_prints_the_same_table():
    args = ("--policy", "taper:7,14,21,28", "--patients", "200", "--seed", "9")
    assert run(*args) == run(*args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "weekly"], "--policy: the policy must be none, fixed:N"),
        (["--policy", "fixed:0"], "--policy: intervals_days must be a whole number from 1"),
        (["--years", "0.01"], "--years: years must reach past the end of induction (12 days)"),
        (["--shape", "0"], "--shape: relapse_shape must be above 0"),
        (["--utilisation", "2"], "--utilisation: utilisation must be above 0 and at most 1"),
    ],
)
def test_bad_values_are_refused_in_plain_words(args, message):
    with pytest.raises(CommandError) as refused:
        run(*args, "--patients", "10")
    assert refused.value.returncode == 2
    assert str(refused.value).startswith(message)


def test_a_clinics_own_fit_replaces_the_preset():
    text = run("--policy", "fixed:14", "--patients", "400", "--seed", "5", "--shape", "1.5",
               "--scale-days", "30", "--response-probability", "0.6", "--csv")  # fmt: skip
    parameters = simulate.CohortParameters.from_fitted(
        shape=1.5, scale_days=30.0, response_probability=0.6
    )
    run_ = simulate.simulate(
        parameters, simulate.parse_policy("fixed:14"), patients=400, years=1.0, seed=5
    )
    outcome = simulate.summarise(run_)
    (row,) = csv.DictReader(io.StringIO(text))
    assert (row["responders"], row["relapse_free_days_per_year"]) == (
        str(outcome.responders), f"{outcome.per_year['relapse_free_days']:.1f}")  # fmt: skip
    assert run("--patients", "10", "--scale-days", "30", "--response-probability", "0.6"
               ).splitlines()[1] == ("response and relapse: given: response 0.6, Weibull shape "
                                     "1.2 and scale 30 days (a clinic's own fit)")  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [["--scale-days", "30"], ["--response-probability", "0.5"],
     ["--scale-days", "30", "--response-probability", "0.5", "--preset", "murrough"]],
)  # fmt: skip
def test_a_fit_needs_scale_and_response_and_no_preset(args):
    with pytest.raises(CommandError, match="give --scale-days and --response-probability"):
        run(*args, "--patients", "10")


@pytest.fixture
def fitted(north, ada, ben):
    """The hand-computed cohort (4 of its 5 classified depression courses respond) and two
    relapse fits, the later one a Weibull of shape 1.5 and scale 40 days."""
    cohort_db.build(north, prescriber=ada, nurse=ben)
    RelapseFit.objects.create(site=north, fitted_at=cohort_cases.NOW - dt.timedelta(days=1),
                              parameters={"shape": 3.0, "log_scale_intercept": 1.0})  # fmt: skip
    return RelapseFit.objects.create(
        site=north, fitted_at=cohort_cases.NOW,
        parameters={"shape": 1.5, "log_scale_intercept": math.log(40.0)},
    )  # fmt: skip


def test_the_sites_own_response_and_latest_fit_with_one_audited_read(fitted, north):
    before = AuditEvent.objects.count()
    text = run("--site", "North Clinic", "--fitted", "--policy", "symptom:7", "--patients",
               "600", "--seed", "2", "--csv")  # fmt: skip
    (row,) = csv.DictReader(io.StringIO(text))
    parameters = simulate.CohortParameters.from_fitted(
        shape=1.5, scale_days=40.0, response_probability=4 / 5
    )
    run_ = simulate.simulate(
        parameters, simulate.parse_policy("symptom:7"), patients=600, years=1.0, seed=2
    )
    outcome = simulate.summarise(run_)
    assert (row["responders"], row["relapse_free_days_per_year"]) == (
        str(outcome.responders), f"{outcome.per_year['relapse_free_days']:.1f}")  # fmt: skip
    events = list(AuditEvent.objects.order_by("pk")[before:])
    assert [(e.action, e.category, e.site_id, e.actor_username, e.reason) for e in events] == [
        ("read", "course", north.pk, "cli", "simulate: the site's response")]  # fmt: skip
    assert run("--site", str(north.pk), "--fitted", "--patients", "10").splitlines()[1] == (
        "response and relapse: North Clinic's own: response 4/5 at the end of "
        "depression-induction induction; relapse Weibull shape 1.50, scale 40.0 days (fit of "
        "2026-06-30, at a flat trajectory)"
    )


def test_a_site_without_a_fit_or_outcomes_is_refused(north):
    with pytest.raises(CommandError, match="North Clinic has no relapse model fitted yet"):
        run("--site", "North Clinic", "--fitted")
    RelapseFit.objects.create(site=north, fitted_at=cohort_cases.NOW, parameters={"shape": 1})
    with pytest.raises(CommandError, match="relapse fit holds no Weibull shape and scale"):
        run("--site", "North Clinic", "--fitted")
    RelapseFit.objects.create(site=north, fitted_at=cohort_cases.NOW + dt.timedelta(days=1),
                              parameters={"shape": 1.5, "log_scale_intercept": 3.0})  # fmt: skip
    with pytest.raises(CommandError, match="no depression-induction course with an outcome"):
        run("--site", "North Clinic", "--fitted")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "North Clinic"], "give --site and --fitted together"),
        (["--fitted"], "give --site and --fitted together"),
        (["--site", "North Clinic", "--fitted", "--shape", "2"], "give --site and --fitted"),
        (["--site", "Nowhere", "--fitted"], "there is no site with the id or name 'Nowhere'"),
        (["--site", "9" * 30, "--fitted"], "there is no site with the id or name '999"),
    ],
)
def test_site_and_fitted_go_together(north, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args, "--patients", "10")
