"""`sustain protocols`, `sustain dose` and `sustain plan-series` (issue 4, items 5–6)."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sustain_core import protocols

pytestmark = pytest.mark.db


def run(capsys, *args: str) -> dict:
    call_command(*args)
    return json.loads(capsys.readouterr().out)


def test_protocols_lists_the_library(capsys):
    call_command("protocols")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(protocols.PROTOCOLS)
    assert any(
        line.startswith("murrough-2013@1  [depression]  6 infusions within 12 days")
        for line in lines
    )


def test_dose_worked_example(capsys):
    result = run(
        capsys, "dose", "--protocol", "depression-induction@1", "--weight-kg", "70",
        "--vial-mg-per-ml", "50",
    )  # fmt: skip
    assert (result["dose_mg"], result["drug_volume_ml"], result["pump_rate_ml_per_h"]) == (
        "35", "0.7", "150.0"
    )  # fmt: skip
    assert result["preparation"] == [
        "Draw 0.7 mL of 50 mg/mL in a 1 mL syringe (marked every 0.01 mL): 0.7 mL = 35 mg, as "
        "prescribed.",
        "Withdraw 0.7 mL from the 100 mL bag, then add 0.7 mL of 50 mg/mL: 100 mL at 150.0 mL/h "
        "over 40 min.",
    ]


def test_dose_crps_cap(capsys):
    result = run(
        capsys, "dose", "--protocol", "crps-schwartzman-2009", "--weight-kg", "80",
        "--vial-mg-per-ml", "50",
    )  # fmt: skip
    assert (result["dose_rate_mg_per_h"], result["capped"]) == ("25", True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--weight-kg", "400", "--vial-mg-per-ml", "50"], "weight must be between 30 and 300 kg"),
        (["--weight-kg", "70", "--vial-mg-per-ml", "100"], "100 mg/mL must not be given IV"),
    ],
)
def test_dose_refuses_bad_input(args, message):
    with pytest.raises(CommandError) as excinfo:
        call_command("dose", "--protocol", "depression-induction@1", *args)
    assert (excinfo.value.returncode, message in str(excinfo.value)) == (2, True)


def test_plan_series_murrough_is_monday_wednesday_friday(capsys):
    result = run(capsys, "plan_series", "--protocol", "murrough-2013", "--start", "2026-03-02")
    assert result["weekdays"] == ["Mon", "Wed", "Fri", "Mon", "Wed", "Fri"]
    assert result["dates"][-1] == "2026-03-13"


def test_unknown_protocol_is_refused():
    with pytest.raises(CommandError) as excinfo:
        call_command("plan_series", "--protocol", "nope", "--start", "2026-03-02")
    assert str(excinfo.value).startswith("unknown protocol 'nope'; known: aan-het-rot-2010")
