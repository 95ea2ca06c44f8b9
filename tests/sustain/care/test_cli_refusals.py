"""`sustain dose` and `sustain score` answer every bad value with one plain line on stderr and
exit status 2, never a traceback (issue 11, item 6). Run through the console script's own
entry point (sustain.cli.main), as a shell would."""

import json
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sustain import cli

KNOWN = (
    "aan-het-rot-2010, anxiety, bipolar-depression, crps-schwartzman-2009, depression-induction, "
    "fibromyalgia, murrough-2013, neuropathic-pain, phillips-2019, ptsd-feder-2021, "
    "shiroma-2014, singh-2016, suicidal-ideation"
)
DOSE = ["--protocol", "depression-induction", "--vial-mg-per-ml", "50"]


def run(monkeypatch, capsys, *argv: str) -> tuple[int, str, str]:
    """The console script with these arguments: (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["sustain", *argv])
    try:
        cli.main()
        status = 0
    except SystemExit as exited:
        status = int(exited.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        pytest.param(
            [*DOSE, "--weight-kg", "abc"],
            "sustain dose: argument --weight-kg: the weight must be a number such as 70 or "
            "70.5; got 'abc'",
            id="not-a-number",
        ),
        pytest.param(
            [*DOSE, "--weight-kg", "1e2"],
            "sustain dose: argument --weight-kg: the weight must be a number such as 70 or "
            "70.5; got '1e2'",
            id="exponent",
        ),
        pytest.param(
            [*DOSE, "--weight-kg", "NaN"],
            "sustain dose: argument --weight-kg: the weight must be a number such as 70 or "
            "70.5; got 'NaN'",
            id="nan",
        ),
        pytest.param(
            [*DOSE, "--weight-kg", "-70"],
            "sustain dose: argument --weight-kg: the weight must be a number such as 70 or "
            "70.5; got '-70'",
            id="negative",
        ),
        pytest.param(
            [*DOSE, "--weight-kg", "400"],
            "sustain dose: weight must be between 30 and 300 kg; got 400",
            id="out-of-range",
        ),
        pytest.param(
            [*DOSE, "--weight-kg", "70.25"],
            "sustain dose: weight must be between 30 and 300 kg to at most 0.1 kg; got 70.25",
            id="too-fine",
        ),
        pytest.param(
            ["--protocol", "depression-induction", "--weight-kg", "70", "--vial-mg-per-ml", "100"],
            "sustain dose: 100 mg/mL must not be given IV undiluted [Ketalar-label]; use a 10 "
            "or 50 mg/mL vial",
            id="undiluted-vial",
        ),
        pytest.param(
            ["--protocol", "nope", "--weight-kg", "70", "--vial-mg-per-ml", "50"],
            f"sustain dose: unknown protocol 'nope'; known: {KNOWN}",
            id="unknown-protocol",
        ),
        pytest.param(
            ["--protocol", "depression-induction@x", "--weight-kg", "70", "--vial-mg-per-ml", "50"],
            f"sustain dose: unknown protocol 'depression-induction@x'; known: {KNOWN}",
            id="unknown-version",
        ),
        pytest.param(
            ["--weight-kg", "70"],
            "sustain dose: the following arguments are required: --protocol, --vial-mg-per-ml",
            id="missing-arguments",
        ),
        pytest.param(
            [*DOSE, "--weight-kg", "70", "--colour", "blue"],
            "sustain dose: unrecognized arguments: --colour blue",
            id="unknown-option",
        ),
        pytest.param(
            [*DOSE, "--weight-kg", "70", "--height-cm", "170"],
            "sustain dose: give --height-cm and --sex together, or neither",
            id="height-without-sex",
        ),
        pytest.param(
            [*DOSE, "--weight-kg", "70", "--height-cm", "99", "--sex", "male"],
            "sustain dose: height must be between 100 and 250 cm to at most 0.1 cm; got 99",
            id="height-out-of-range",
        ),
        pytest.param(
            [*DOSE, "--weight-kg", "70", "--height-cm", "170", "--sex", "x"],
            "sustain dose: argument --sex: invalid choice: 'x' (choose from 'female', 'male', "
            "'other', 'unknown')",
            id="unknown-sex",
        ),
    ],
)
def test_dose_refuses_every_bad_value_in_one_line(monkeypatch, capsys, argv, line):
    status, out, err = run(monkeypatch, capsys, "dose", *argv)

    assert (status, out, err.splitlines()) == (2, "", [line])


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        pytest.param(
            ["phq9", "1", "2", "x"],
            "sustain score: 1 of 1 responses refused: PHQ-9 item 3 must be an integer 0–3; got 'x'",
            id="not-a-number",
        ),
        pytest.param(
            ["phq9", "0", "0", "9"],
            "sustain score: 1 of 1 responses refused: PHQ-9 item 3 must be 0–3; got 9",
            id="out-of-range",
        ),
        pytest.param(
            ["hamd", "1"],
            "sustain score: unknown instrument 'hamd'; known: bpi_sf, cadss, cssrs_screener, "
            "fiqr, gad7, madrs, pain_nrs, pcl5, phq9, qids_sr16, ymrs",
            id="unknown-instrument",
        ),
        pytest.param(
            ["phq9", "1=2", "3"],
            "sustain score: give answers either all in item order or all as item=value",
            id="mixed-forms",
        ),
        pytest.param(
            ["phq9", *["1"] * 10],
            "sustain score: 10 answers given; this instrument has 9 items",
            id="too-many-answers",
        ),
        pytest.param(
            ["phq9", "--csv", "/no/such/file.csv"],
            "sustain score: cannot read /no/such/file.csv: No such file or directory",
            id="missing-csv",
        ),
        pytest.param(
            [],
            "sustain score: the following arguments are required: instrument, answers",
            id="no-instrument",
        ),
    ],
)
def test_score_refuses_every_bad_value_in_one_line(monkeypatch, capsys, argv, line):
    status, _, err = run(monkeypatch, capsys, "score", *argv)

    assert (status, err.splitlines()) == (2, [line])


def test_a_csv_that_is_not_text_or_is_empty_is_one_line(monkeypatch, capsys, tmp_path):
    binary, empty, short = tmp_path / "b.csv", tmp_path / "e.csv", tmp_path / "s.csv"
    binary.write_bytes(b"\xff\xfe\x00")
    empty.write_text("id,1,2\n")
    short.write_text("1,2,3,4,5,6,7,8,9\n1,2\n")  # a row cut short: its missing items

    lines = [run(monkeypatch, capsys, "score", "phq9", "--csv", str(p))[2] for p in (binary, empty)]
    status, out, err = run(monkeypatch, capsys, "score", "phq9", "--csv", str(short))

    assert [line.split(":", 2)[:2] for line in lines] == [
        ["sustain score", f" {binary} is not a UTF-8 CSV file"],
        ["sustain score", f" {empty} holds no response"],
    ]
    assert (status, json.loads(out)["errors"], err.splitlines()) == (
        2, ["item_3: PHQ-9 items 3, 4, 5, 6, 7, 8 and 9 are missing"],
        ["sustain score: 1 of 1 responses refused: PHQ-9 items 3, 4, 5, 6, 7, 8 and 9 are "
         "missing"],
    )  # fmt: skip


def test_dose_prints_numbers_without_exponents(monkeypatch, capsys):
    # 100 kg × 0.5 mg/kg: the old command printed "5E+1"-style text for such products.
    status, out, err = run(monkeypatch, capsys, "dose", *DOSE, "--weight-kg", "100.0")

    result = json.loads(out)
    assert (status, err) == (0, "")
    assert (result["prescribed_mg"], result["dose_mg"], result["drug_volume_ml"]) == (
        "50", "50", "1"
    )  # fmt: skip
    assert "E+" not in out


def test_dose_on_the_default_weight_rule_with_height_and_sex(monkeypatch, capsys):
    status, out, _ = run(
        monkeypatch, capsys, "dose", *DOSE, "--weight-kg", "300", "--height-cm", "180",
        "--sex", "male",
    )  # fmt: skip

    result = json.loads(out)
    assert status == 0
    assert (result["weight_basis"], result["dosing_weight_kg"], result["prescribed_mg"]) == (
        "adjusted", "165", "82.5"
    )  # fmt: skip
    assert result["preparation"][0] == (
        "Draw 1.6 mL of 50 mg/mL in a 3 mL syringe (marked every 0.1 mL): 1.6 mL = 80 mg; "
        "prescribed 82.5 mg (1.65 mL, rounded to the 3 mL syringe's 0.1 mL marks)."
    )


def test_called_from_code_a_refusal_is_a_command_error_with_status_2():
    with pytest.raises(CommandError) as refused:
        call_command("dose", *DOSE, "--weight-kg", "abc")

    assert (refused.value.returncode, str(refused.value)) == (
        2, "argument --weight-kg: the weight must be a number such as 70 or 70.5; got 'abc'"
    )  # fmt: skip
