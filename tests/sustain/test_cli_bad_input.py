"""TST-03: every `sustain` command answers bad input with one plain line on stderr and exit
status 2, never a traceback (sustain.cli). BAD_INPUT lists each of our commands; a new
command fails test_every_command_is_listed until it has a line here."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import get_commands

from sustain import cli

pytestmark = pytest.mark.db

BIG = "9" * 30
# command: its arguments with a bad value (out of bounds, not a number, unknown, or an option
# it does not take)
BAD_INPUT: dict[str, list[str]] = {
    "audit_anchor": ["--bogus"],
    "backup": ["--bogus"],
    "fhir_import": ["/nonexistent/bundle.json"],
    "grant_runtime_role": ["--bogus"],
    "restore": ["/nonexistent/backup.sbk"],
    "run_sheet": ["--date", "9999-12-31", "--out", "/nonexistent/sheet.pdf"],
    "add_site_admin": ["--site", "X", "--timezone", "Nowhere/Zone", "--username", "a",
                       "--email", "a@example.org"],
    "demo": ["--today", "9999-12-31"],
    "fhir_export": ["--site", "Nowhere", "--out", "/nonexistent/export"],
    "fhir_client": ["create", "x", "--site", "Nowhere", "--role", "scheduler", "--scope",
                    "system/Patient.read"],
    "dose": ["--protocol", "depression-induction", "--weight-kg", "abc", "--vial-mg-per-ml", "50"],
    "ledger_report": ["--site", "1", "--from", "0001-01-01", "--to", "2026-01-01", "--by", "x"],
    "place_waitlist": ["--site", BIG, "--seconds", "1"],
    "plan_series": ["--protocol", "depression-induction", "--start", "9999-12-31"],
    "protocol_check": ["/nonexistent/protocol.toml"],
    "protocols": ["--bogus"],
    "score": ["phq9", "1", "2", "x"],
    "send_due_links": ["--bogus"],
    "send_reminders": ["extra"],
    "simulate": ["--policy", "weekly"],
    "sync_roles": ["--bogus"],
    "verify_audit": ["--bogus"],
    "verify_ledger": ["--bogus"],
    "worker": ["--batch", "--bogus"],
}  # fmt: skip
MORE_BAD_INPUT = [
    ("dose", ["--protocol", "depression-induction", "--weight-kg", BIG, "--vial-mg-per-ml", "50"]),
    ("plan_series", ["--protocol", "nope", "--start", "2026-01-01"]),
    ("plan_series", ["--protocol", "depression-induction", "--start", "abc"]),
    ("ledger_report", ["--site", BIG, "--from", "2026-01-01", "--to", "2026-01-02", "--by", "x"]),
    ("place_waitlist", ["--site", "1", "--seconds", "abc"]),
    ("demo", ["--today", "0001-01-01"]),
    ("demo", ["--history", "many"]),
    ("demo", ["--history", "-1"]),
    ("demo", ["--history", BIG]),
    ("fhir_import", ["/etc/hostname"]),  # not .json or .ndjson
    ("fhir_import", ["tests", "--site", "Nowhere"]),
    ("fhir_import", []),
    ("fhir_export", ["--site", "North", "--out", "/nonexistent", "--type", "Nope"]),
    ("fhir_client", ["create", "x", "--site", "Nowhere", "--role", "janitor"]),
    ("fhir_client", ["create", "x", "--role", "scheduler"]),
    ("fhir_client", ["rename", "x"]),
    ("fhir_client", ["revoke"]),
    ("fhir_client", ["revoke", "nobody"]),
    ("fhir_client", ["list", "extra"]),
    ("simulate", ["--policy", "fixed:0"]),
    ("simulate", ["--patients", "0"]),
    ("simulate", ["--years", "0.01"]),
    ("simulate", ["--utilisation", "1.5"]),
    ("simulate", ["--preset", "nobody"]),
    ("simulate", ["--seed", "-1"]),
    ("simulate", ["--scale-days", "0", "--response-probability", "0.5"]),
    ("simulate", ["--scale-days", "30"]),
    ("simulate", ["--site", "Nowhere", "--fitted"]),
    ("simulate", ["--site", BIG, "--fitted"]),
    ("simulate", ["--fitted"]),
    ("no_such_command", []),
]


def ours() -> set[str]:
    return {name for name, app in get_commands().items() if app.startswith("sustain.")}


def test_every_command_is_listed():
    assert ours() == set(BAD_INPUT), "give each new command its bad input in BAD_INPUT"


def run(monkeypatch, capsys, *argv: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["sustain", *argv])
    try:
        cli.main()
        status = 0
    except SystemExit as exited:
        status = exited.code if isinstance(exited.code, int) else 1
    return status, capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "args"), [*sorted(BAD_INPUT.items()), *MORE_BAD_INPUT], ids=lambda v: str(v)[:40]
)
def test_bad_input_is_one_line_and_exit_2(db, monkeypatch, capsys, name, args):
    status, err = run(monkeypatch, capsys, name.replace("_", "-"), *args)
    assert status == 2, err
    assert "Traceback" not in err and "usage:" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sustain"), err


def test_the_console_script_in_its_own_process(tmp_path):
    """The real process: Django's startup, our settings, the exit status the shell sees."""
    src = Path(__file__).resolve().parents[2] / "src"
    result = subprocess.run(
        [sys.executable, "-m", "sustain.cli", "plan-series", "--protocol", "depression-induction",
         "--start", "9999-12-31"],
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin", "SUSTAIN_DEBUG": "1",
             "SUSTAIN_SQLITE_PATH": str(tmp_path / "cli.sqlite3")},
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "sustain plan-series: argument --start: the start must be between 01 January 1900 and "
        "31 December 2199; got 9999-12-31\n"
    )
