"""`sustain simulate`: the policies side by side, as a table or CSV, from the core's figures."""

import csv
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sustain_core import simulate

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
