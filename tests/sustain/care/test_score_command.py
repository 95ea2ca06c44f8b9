"""`sustain score` for every instrument, one response or a CSV (issue 3, item 2)."""

import json
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sustain_core import instruments

pytestmark = pytest.mark.db


def run(*args: str, capsys) -> list[dict]:
    call_command("score", *args)
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize("code", list(instruments.INSTRUMENTS))
def test_score_every_instrument_at_its_maximum(code, capsys):
    instrument = instruments.get_instrument(code)
    answers = {item.key: item.max_value for item in instrument.items}
    [result] = run(code, *(f"{k}={v}" for k, v in answers.items()), capsys=capsys)
    assert (result["valid"], result["errors"]) == (True, [])
    assert result["total"] == instruments.score(code, answers).total


def test_score_in_item_order(capsys):
    [result] = run("phq9", "1", "2", "0", "3", "1", "0", "2", "1", "1", capsys=capsys)
    assert result == {
        "instrument": "phq9", "total": 11, "subscales": {}, "severity": "moderate",
        "flags": ["suicide_item_positive"], "answered": 9, "prorated": False, "valid": True,
        "errors": [],
    }  # fmt: skip


def test_score_decimal_means(capsys):
    answers = (
        "worst=7 least=2 average=5 now=4 general_activity=3 mood=4 walking=2 relations=1 sleep=6"
    )
    [result] = run("bpi_sf", *answers.split(), capsys=capsys)
    assert (result["total"], result["subscales"], result["prorated"]) == (
        4.5, {"severity": 4.5, "interference": 3.2}, True
    )  # fmt: skip


def test_refused_answer_exits_2_naming_the_item(capsys):
    with pytest.raises(CommandError) as excinfo:
        call_command("score", "phq9", "1", "2", "0", "3", "4", "0", "2", "1", "0")
    [result] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert excinfo.value.returncode == 2
    assert (result["valid"], result["errors"]) == (
        False,
        ["item_5: PHQ-9 item 5 must be 0–3; got 4"],
    )


def test_csv_scores_each_row_and_echoes_other_columns(tmp_path, capsys):
    path = tmp_path / "gad7.csv"
    path.write_text("id,1,2,3,4,5,6,7\nA17,1,1,2,2,3,0,1\nA18,1,x,2,2,3,0,1\nA19,0,0,0,0,0,0,\n")
    with pytest.raises(CommandError) as excinfo:
        call_command("score", "gad7", "--csv", str(path))
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["row"], r["id"], r["total"], r["errors"]) for r in rows] == [
        (2, "A17", 10, []),
        (3, "A18", None, ["item_2: GAD-7 item 2 must be an integer 0–3; got 'x'"]),
        (4, "A19", None, ["item_7: GAD-7 item 7 is missing"]),
    ]
    assert str(excinfo.value) == (  # plain words on stderr; the JSON names the item for code
        "2 of 3 responses refused: GAD-7 item 2 must be an integer 0–3; got 'x'"
    )


def test_console_script_exit_status():
    result = subprocess.run(
        [sys.executable, "-m", "sustain.cli", "score", "gad7", "1", "1", "1", "1", "1", "1", "9"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "GAD-7 item 7 must be 0–3; got 9" in result.stderr
