"""`sustain protocol-check FILE` (issue 11, item 3): exit 0 and one line for a valid protocol
file, exit 2 naming every broken rule for an invalid one, one plain line for a file it cannot
read, never a traceback."""

import copy
import json
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sustain_core.protocols import (
    DEPRESSION_INDUCTION_V1,
    PROTOCOLS,
    plan_warnings,
    protocol_to_dict,
)

LIBRARY = Path(str(resources.files("sustain_core.protocol_library")))
SHIROMA = (LIBRARY / "shiroma-2014.v1.toml").read_text(encoding="utf-8")
pytestmark = pytest.mark.db

GUARD = "(a platform bound against typing errors, not a clinical rule)"


def check(path: Path) -> str:
    """The command's refusal (exit 2): its message."""
    with pytest.raises(CommandError) as refused:
        call_command("protocol_check", str(path))
    assert refused.value.returncode == 2
    return str(refused.value)


def toml_with(tmp_path: Path, *changes: tuple[str, str]) -> Path:
    """Shiroma 2014's library file with lines replaced (a regular expression each)."""
    text = SHIROMA
    for pattern, replacement in changes:
        text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        assert count == 1, pattern
    path = tmp_path / "clinic.toml"
    path.write_text(text, encoding="utf-8")
    return path


def json_with(tmp_path: Path, **tables: dict[str, object]) -> Path:
    data = copy.deepcopy(protocol_to_dict(DEPRESSION_INDUCTION_V1))
    for name, changes in tables.items():
        data[name].update(changes)  # type: ignore[union-attr]
    path = tmp_path / "clinic.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("path", sorted(LIBRARY.glob("*.toml")), ids=lambda path: path.name)
def test_every_library_protocol_file_passes(capsys, path):
    call_command("protocol_check", str(path))

    key, version = re.fullmatch(r"(.+)\.v(\d+)\.toml", path.name).groups()  # type: ignore[union-attr]
    # Warnings refuse nothing: a plan asking more often than an instrument recalls (item 7).
    warnings = plan_warnings(PROTOCOLS[(key, int(version))])
    assert capsys.readouterr().out == (
        f"{path}: {key} v{version} passes every rule and guardrail\n"
        + "".join(f"  warning: {warning}\n" for warning in warnings)
    )


def test_the_check_prints_the_plans_recall_warnings(capsys):
    call_command("protocol_check", str(LIBRARY / "ptsd-feder-2021.v1.toml"))

    assert "  warning: PHQ-9 asks about the last 2 weeks" in capsys.readouterr().out


def test_a_clinic_version_as_json_passes(tmp_path, capsys):
    call_command("protocol_check", str(json_with(tmp_path)))

    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith("depression-induction v1 passes every rule and guardrail")


def test_three_mg_per_kg_over_one_minute_is_refused(tmp_path):
    path = toml_with(tmp_path, (r'^mg_per_kg = "0.5"', 'mg_per_kg = "3.0"'),
                     (r"^infusion_minutes = 40", "infusion_minutes = 1"))  # fmt: skip

    assert check(path) == (
        f"{path}: 2 rules broken:\n"
        "  regimen: regimen.mg_per_kg 3.0 mg/kg is above the highest psychiatric starting dose "
        f"1.0 mg/kg [ASKP-basics-2018] {GUARD[:-1]}); titrate up instead\n"
        "  regimen: regimen.mg_per_kg 3.0 mg/kg over 1 min runs at 180.00 mg/kg/h, above 2 "
        f"mg/kg/h [Cohen2018-GC]: at most 0.033 mg/kg over 1 min {GUARD}"
    )


def test_an_spo2_stop_of_50_percent_is_refused(tmp_path):
    path = toml_with(tmp_path, (r"^stop_spo2_below = 92", "stop_spo2_below = 50"))

    assert check(path) == (
        f"{path}: safety: safety.stop_spo2_below must be from 85 to 95 %; got 50 {GUARD}"
    )


def test_a_one_hour_gap_in_a_six_infusion_series_is_refused(tmp_path):
    path = toml_with(tmp_path, (r"^min_gap_hours = 48", "min_gap_hours = 1"))

    assert check(path) == (
        f"{path}: series: series.min_gap must be at least 24 h between two infusions of a "
        f"series of 6; got 1 h {GUARD}"
    )


def test_every_broken_rule_is_named(tmp_path):
    path = json_with(
        tmp_path,
        safety={"stop_spo2_below": 50, "stop_systolic_above": 250},
        series={"min_gap_hours": 1},
        visit={"recovery_minutes": 0},
        monitoring={"min_observation_minutes": 0},
    )

    lines = check(path).splitlines()

    assert lines[0] == f"{path}: 5 rules broken:"
    assert [line.split(":")[0] for line in lines[1:]] == [
        "  safety", "  safety", "  monitoring", "  visit", "  series"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("clinic.toml", "key = \n", "protocol: not valid TOML: Invalid value (at line 1, "
         "column 7)"),
        ("clinic.json", '{"key": ', "protocol: not valid JSON at line 1, column 9: Expecting "
         "value"),
        ("clinic.json", "[1, 2]", "protocol: protocol must be a table; got [1, 2]"),
        ("clinic.yaml", "key: x", "name the file .toml or .json (its format)"),
    ],
)  # fmt: skip
def test_text_it_cannot_read_is_one_plain_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    assert check(path) == f"{path}: {message}"


def test_wrong_types_are_one_plain_line(tmp_path):
    data = protocol_to_dict(DEPRESSION_INDUCTION_V1) | {"version": "one"}
    path = tmp_path / "clinic.json"
    path.write_text(json.dumps(data), encoding="utf-8")

    assert check(path) == f"{path}: version: version must be a whole number; got 'one'"


def test_a_number_too_large_to_use_is_one_plain_line(tmp_path):
    path = json_with(tmp_path, series={"min_gap_hours": 10**20})

    assert check(path) == (
        f"{path}: protocol: a number is too large to use: Python int too large to convert to C int"
    )


def test_a_missing_unreadable_or_binary_file_is_one_plain_line(tmp_path):
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00key")
    folder = tmp_path / "folder.toml"
    folder.mkdir()

    assert [check(tmp_path / "missing.toml"), check(binary), check(folder)] == [
        f"{tmp_path / 'missing.toml'}: no such file",
        f"{binary}: not UTF-8 text",
        f"{folder}: cannot be read (Is a directory)",
    ]


def test_the_console_script_exits_2_without_a_traceback(tmp_path):
    path = toml_with(tmp_path, (r"^stop_spo2_below = 92", "stop_spo2_below = 50"))
    script = Path(sys.executable).with_name("sustain")

    result = subprocess.run(  # noqa: S603 - our own console script, a path we made
        [str(script), "protocol-check", str(path)],
        capture_output=True, text=True, check=False, env=os.environ.copy(),
    )  # fmt: skip

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"sustain protocol-check: {path}: safety: safety.stop_spo2_below must be from 85 to 95 "
        "%; got 50 "
        f"{GUARD}\n"
    )
