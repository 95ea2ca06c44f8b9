"""The nightly downtime run sheet (sustain.clinic.run_sheet, BTG-04): the job writes each
site's next-day visits as an AES-256 encrypted PDF with mode 0600; pypdf opens it with the
password (as any PDF reader would, without Sustain) and cannot read it without."""

import datetime as dt
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError

from sustain.accounts.models import AuditEvent
from sustain.care import services as care
from sustain.care.models import Patient
from sustain.clinic import run_sheet
from sustain.clinic.tasks import schedule_next_run_sheet, write_run_sheets
from tests.sustain import clinic_builders as build
from tests.sustain.conftest import TODAY

KEY = "downtime key of North 2026"
MONDAY = dt.date(2026, 11, 30)


@pytest.fixture(autouse=True)
def _run_sheet_settings(settings, tmp_path: Path) -> Path:
    settings.SUSTAIN_RUN_SHEET_PASSWORD = KEY
    settings.SUSTAIN_RUN_SHEET_DIR = tmp_path / "run-sheets"
    return tmp_path


@pytest.fixture
def booked(north, pat, ada, ben, sam):
    """Pat's induction series booked from Monday 30 November at 08:00, with an allergy and an
    emergency contact on her chart."""
    now = build.at(north, TODAY, 10)
    care.record_allergy(
        patient=pat, substance="Latex", reaction="hives", severity="moderate", by=ben, now=now
    )
    Patient.objects.filter(pk=pat.pk).update(
        emergency_contact_name="Robin Quinn", emergency_contact_relation="spouse",
        emergency_contact_phone="555-0199",
    )  # fmt: skip
    course = build.ready_for_series(
        pat, prescriber=ada, nurse=ben, now=now, phq9_total=14, gad7_total=11
    )
    return build.book_series(course, sam, first=build.at(north, MONDAY, 8), now=now)


def text_of(path: Path, password: str = KEY) -> str:
    reader = PdfReader(path)
    assert reader.is_encrypted
    assert reader.decrypt(password)
    # Words as a reader sees them: a table cell wraps its lines.
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_the_command_writes_the_days_visits_encrypted(tmp_path, north, pat, booked):
    out = tmp_path / "sheet.pdf"

    call_command("run_sheet", "--date", MONDAY.isoformat(), "--out", str(out))

    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = text_of(out)
    for expected in (
        "North Clinic", "Quinn, Pat", pat.mrn, "1980-05-17", "08:00", booked[0].chair.name,
        "Latex (moderate: hives)", "Robin Quinn, spouse, 555-0199", "visit 1", "mg/kg",
    ):  # fmt: skip
        assert expected in text, expected
    assert b"Quinn" not in out.read_bytes()  # the content is encrypted, not merely locked
    # AES-256: the standard security handler's version 5, revision 6, crypt filter AESV3.
    encrypt = PdfReader(out).trailer["/Encrypt"].get_object()
    assert (encrypt["/V"], encrypt["/R"], encrypt["/CF"]["/StdCF"]["/CFM"]) == (5, 6, "/AESV3")
    event = AuditEvent.objects.get(reason=f"run sheet {MONDAY}")
    assert (event.action, event.actor_username, event.site) == ("export", "cli", north)


def test_without_the_password_the_sheet_cannot_be_read(tmp_path, booked):
    out = tmp_path / "sheet.pdf"
    call_command("run_sheet", "--date", MONDAY.isoformat(), "--out", str(out))

    reader = PdfReader(out)
    with pytest.raises(FileNotDecryptedError):
        reader.pages[0].extract_text()
    assert not PdfReader(out).decrypt("a wrong password")


def test_a_day_without_visits_says_so(tmp_path, north):
    out = tmp_path / "sheet.pdf"
    call_command("run_sheet", "--date", "2026-12-25", "--out", str(out))
    assert "No visits are booked." in text_of(out)


@pytest.mark.parametrize("password", ["", "short"])
def test_no_sheet_is_written_without_a_password(settings, tmp_path, booked, password):
    settings.SUSTAIN_RUN_SHEET_PASSWORD = password
    out = tmp_path / "sheet.pdf"

    with pytest.raises(CommandError, match="SUSTAIN_RUN_SHEET_PASSWORD is not set") as refused:
        call_command("run_sheet", "--date", MONDAY.isoformat(), "--out", str(out))

    assert refused.value.returncode == 2
    assert list(tmp_path.iterdir()) == []  # nothing, not even a temporary file
    assert not AuditEvent.objects.filter(reason__startswith="run sheet").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2026-13-01"], "--date must be a date such as 2026-11-30"),
        (["--date", "0001-01-01"], "--date must be a date such as 2026-11-30"),
        (["--date", "2026-11-30", "--site", "999"], "there is no site 999"),
    ],
)
def test_bad_input_is_refused_in_plain_words(tmp_path, north, args, message):
    with pytest.raises(CommandError, match=message) as refused:
        call_command("run_sheet", *args, "--out", str(tmp_path / "sheet.pdf"))
    assert refused.value.returncode == 2
    assert not (tmp_path / "sheet.pdf").exists()


def test_the_nightly_task_writes_each_sites_sheet_for_its_tomorrow(
    settings, north, south, pat, booked
):
    folder = Path(settings.SUSTAIN_RUN_SHEET_DIR)
    evening = dt.datetime(2026, 11, 30, 2, 30, tzinfo=dt.UTC)  # Sunday 21:30 in New York
    with time_machine.travel(evening, tick=False):
        assert write_run_sheets.call() == 2
        waiting = DBTaskResult.objects.filter(
            task_path=write_run_sheets.module_path, status="READY"
        ).get()

    north_sheet = folder / f"run-sheet-2026-11-30-site-{north.pk}.pdf"
    south_sheet = folder / f"run-sheet-2026-11-30-site-{south.pk}.pdf"
    assert sorted(folder.iterdir()) == sorted([north_sheet, south_sheet])
    assert stat.S_IMODE(north_sheet.stat().st_mode) == 0o600
    assert "Quinn, Pat" in text_of(north_sheet)
    assert "Latex" in text_of(north_sheet)
    assert "No visits are booked." in text_of(south_sheet)
    # The next night's run is queued once, at SUSTAIN_RUN_SHEET_HOUR (02:00 UTC).
    assert waiting.run_after == dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
    schedule_next_run_sheet()
    assert DBTaskResult.objects.filter(task_path=write_run_sheets.module_path).count() == 1


def test_the_nightly_task_refuses_without_the_password_and_stays_queued(
    settings, north, booked, caplog
):
    settings.SUSTAIN_RUN_SHEET_PASSWORD = ""

    assert write_run_sheets.call() == 0

    assert not Path(settings.SUSTAIN_RUN_SHEET_DIR).exists()
    assert "run sheet not written: SUSTAIN_RUN_SHEET_PASSWORD is not set" in caplog.text
    assert DBTaskResult.objects.filter(task_path=write_run_sheets.module_path).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_process_writes_the_sheets(settings, north, pat, booked):
    """`sustain worker --batch`, in a process of its own on this test database, runs the
    queued run-sheet task: the sheet it writes opens with the password."""
    write_run_sheets.enqueue()
    database = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}} | {
        "PYTHONPATH": "src",
        "DJANGO_SETTINGS_MODULE": "sustain.settings",
        "SUSTAIN_DEBUG": "1",
        "SUSTAIN_RUN_SHEET_PASSWORD": KEY,
        "SUSTAIN_RUN_SHEET_DIR": str(settings.SUSTAIN_RUN_SHEET_DIR),
    }
    if database["ENGINE"].endswith("sqlite3"):
        env["SUSTAIN_SQLITE_PATH"] = str(database["NAME"])
    else:
        env["DATABASE_URL"] = (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        )
    result = subprocess.run(
        [sys.executable, "-m", "django", "worker", "--batch"],
        env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-2000:]
    sheets = sorted(Path(settings.SUSTAIN_RUN_SHEET_DIR).iterdir())
    assert len(sheets) == 1
    assert stat.S_IMODE(sheets[0].stat().st_mode) == 0o600
    # The worker's tomorrow is the real clock's: the sheet lists exactly that day's visits.
    day = run_sheet.tomorrow(north, timezone.now())
    text = text_of(sheets[0])
    assert sheets[0].name == f"run-sheet-{day.isoformat()}-site-{north.pk}.pdf"
    assert f"Downtime run sheet · {day:%A} {day.day} {day:%B %Y}" in text
    rows = run_sheet.rows_for(north, day)
    assert text.count(pat.mrn) == len(rows)
    assert ("No visits are booked." in text) == (not rows)
