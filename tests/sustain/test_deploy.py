"""Deployment (SEC-04 and issue 14 part 7): the deploy check refuses demo, shared and default
accounts and the demo's exemption (sustain.clinic.checks); debug is off unless asked for; the
README's shell command reads the demo database with the keys the server used."""

import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.hashers import make_password
from django.core import checks
from django.db import connection

from sustain.accounts.audit import record_event
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import User
from sustain.clinic.management.commands.demo import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"


def sustain_errors() -> list[str]:
    found = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    return sorted(f"{m.id} {m.msg}" for m in found if (m.id or "").startswith("sustain."))


@pytest.mark.db
def test_the_deploy_check_passes_with_named_accounts(db, ben, alex):
    assert sustain_errors() == []


@pytest.mark.db
@pytest.mark.parametrize(
    ("username", "password", "error"),
    [
        ("admin", "x-long-enough-passphrase", "sustain.E004 An account named 'admin' is active"),
        ("Root", "x-long-enough-passphrase", "sustain.E004 An account named 'Root' is active"),
        ("test", "x-long-enough-passphrase", "sustain.E004 An account named 'test' is active"),
        ("demo", "x-long-enough-passphrase", "sustain.E004 An account named 'demo' is active"),
        ("alex.admin", "x-long-enough-passphrase", "sustain.E003 The demo account 'alex.admin'"),
        ("jo", DEMO_PASSWORD, "sustain.E005 The account 'jo' has the demo's password."),
    ],
)
def test_the_deploy_check_fails_on_a_default_account(db, ben, username, password, error):
    user = User.objects.create_user(username, password=password)
    assert any(e.startswith(error) for e in sustain_errors()), sustain_errors()
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert sustain_errors() == []


@pytest.mark.db
def test_the_deploy_check_never_writes(db, settings, ben):
    """A demo-password hash by an older hasher would be upgraded by user.check_password."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    ben.password = make_password(DEMO_PASSWORD, hasher="pbkdf2_sha256")
    ben.save(update_fields=["password"])
    assert any("sustain.E005" in e for e in sustain_errors())
    ben.refresh_from_db()
    assert ben.password.startswith("pbkdf2_sha256$")


def test_the_deploy_check_refuses_the_demo_exemption(db, settings):
    settings.SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR = True
    assert sustain_errors()[0].startswith("sustain.E001 SUSTAIN_DEMO_WITHOUT_SECOND_FACTOR is on")


def _database_env() -> dict[str, str]:
    """The test database, for a subprocess."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"SUSTAIN_SQLITE_PATH": str(db["NAME"])}
    port = f":{db['PORT']}" if db["PORT"] else ""
    return {"DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}{port}/{db['NAME']}"}


def _production_env(**more: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(SRC),
        "SUSTAIN_DEBUG": "0",
        "SUSTAIN_ALLOWED_HOSTS": "clinic.example.org",
        "SUSTAIN_SECRET_KEY": secrets.token_urlsafe(50),
        "SUSTAIN_AUDIT_KEY": secrets.token_urlsafe(50),
    } | more


def run(command: list[str] | str, env: dict[str, str], cwd: Path | None = None):
    """A command as a shell runs it (a string: through the shell, as a person types it)."""
    return subprocess.run(  # noqa: S603 - the test's own commands
        command, env=env, cwd=cwd, shell=isinstance(command, str), capture_output=True,
        text=True, check=False,
    )  # fmt: skip


def _sustain() -> str:
    return str(Path(sys.executable).with_name("sustain"))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_sustain_check_deploy_on_a_migrated_database_both_ways():
    """What `make deploy-check` runs, against this freshly migrated test database."""
    command = [_sustain(), "check", "--deploy", "--fail-level", "WARNING"]
    env = _production_env(**_database_env())
    clean = run(command, env)
    assert clean.returncode == 0, clean.stderr
    User.objects.create_user("admin", password="x-long-enough-passphrase")
    dirty = run(command, env)
    assert dirty.returncode == 1
    assert "sustain.E004" in dirty.stderr and "Traceback" not in dirty.stderr


def test_debug_is_off_unless_asked_for(tmp_path):
    code = "from django.conf import settings; print(settings.DEBUG)"
    bare = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(SRC),
        "SUSTAIN_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "sustain.settings",
    }
    refused = run([sys.executable, "-c", "import sustain.settings"], bare)
    assert refused.returncode == 1
    assert "(the default)" in refused.stderr and "set SUSTAIN_DEBUG=1" in refused.stderr
    env = bare | {"SUSTAIN_SECRET_KEY": "s" * 60, "SUSTAIN_AUDIT_KEY": "a" * 60}
    production = run([sys.executable, "-c", code], env)
    assert production.stdout.strip() == "False", production.stderr
    development = run([sys.executable, "-c", code], bare | {"SUSTAIN_DEBUG": "1"})
    assert development.stdout.strip() == "True", development.stderr


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the demo runs on SQLite")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_readme_command_reads_the_demo_database_with_the_server_s_keys(tmp_path, ben):
    """The server of `make demo` (development mode, its key) wrote audit events; the README's
    exact command line, run in a shell from a checkout, verifies them."""
    readme = (ROOT / "README.md").read_text()
    commands = set(re.findall(r"`(SUSTAIN_DEBUG=1 SUSTAIN_SQLITE_PATH=var/demo\.sqlite3 "
                              r"\.venv/bin/sustain verify-audit)`", readme))  # fmt: skip
    assert len(commands) == 1, commands
    command = commands.pop()
    makefile = (ROOT / "Makefile").read_text()
    assert "DEMO_ENV := SUSTAIN_DEBUG=1 SUSTAIN_SQLITE_PATH=var/demo.sqlite3" in makefile

    for n in range(3):
        record_event(actor=ben, action=AuditAction.READ, category=DataCategory.STAFF, reason=str(n))
    (tmp_path / "var").mkdir()
    with sqlite3.connect(tmp_path / "var" / "demo.sqlite3") as copy:
        source = sqlite3.connect(connection.settings_dict["NAME"])
        source.backup(copy)
        source.close()
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    # Nothing of the test run's own settings: only what a shell has.
    shell = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(SRC)}
    result = run(command, shell, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"audit chain OK: \d+ rows verified", result.stdout)
    # The two settings matter: without them the command is refused, with another key the
    # chain does not verify.
    bare = command.replace("SUSTAIN_DEBUG=1 ", "")
    assert run(bare, shell, cwd=tmp_path).returncode == 1
    other_key = f"SUSTAIN_SECRET_KEY={secrets.token_urlsafe(50)} {command}"
    assert run(other_key, shell, cwd=tmp_path).returncode == 1
    shutil.rmtree(tmp_path / "var")
