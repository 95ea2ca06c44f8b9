"""The house's rules, checked: apps in layers (import-linter), and no clock read below the
interfaces (issue 9, items 1 and 3)."""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
# Interfaces take the time from the clock and pass it down; so does the audit trail, which
# stamps its own events (a caller cannot backdate one).
READS_THE_CLOCK = ("views.py", "api.py", "tasks.py", "middleware.py", "signals.py", "audit.py")
# (any module named *views.py or *api.py is an interface too: protocol_views, count_api)
# Interfaces too: /healthz and the worker's heartbeat loop; the form-token middleware.
READS_THE_CLOCK += ("health.py", "form_tokens.py")
CLOCK_CALLS = {
    ("timezone", "now"),
    ("timezone", "localdate"),
    ("timezone", "localtime"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "monotonic"),
}


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run the project's layers contract on a copy of the source at `tree`."""
    return subprocess.run(  # noqa: S603 - the project's own lint-imports, fixed arguments
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=os.environ | {"PYTHONPATH": str(tree / "src")},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    shutil.copytree(SRC, tree / "src", ignore=shutil.ignore_patterns("__pycache__"))
    return tree


def test_the_layers_contract_holds(source_copy: Path) -> None:
    result = lint_imports(source_copy)
    assert result.returncode == 0, result.stdout
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("sustain/accounts/access.py", "from sustain.care import models"),
        ("sustain/care/services.py", "from sustain.scheduling import models"),
        ("sustain/scheduling/queries.py", "from sustain.infusion import models"),
        ("sustain/infusion/services.py", "from sustain.portal import services"),
        ("sustain/portal/services.py", "from sustain.clinic import queries"),
        ("sustain_core/dosing.py", "import django"),
    ],
)
def test_an_upward_import_breaks_the_build(source_copy: Path, module: str, upward: str) -> None:
    path = source_copy / "src" / module
    original = path.read_text()
    try:
        path.write_text(original + f"\n{upward}  # deliberately upward\n")
        result = lint_imports(source_copy)
    finally:
        path.write_text(original)
    assert result.returncode == 1
    assert "BROKEN" in result.stdout


def clock_reads(path: Path, root: Path = SRC) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name | ast.Attribute)
        ):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr
            if (name, node.func.attr) in CLOCK_CALLS:
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def below_the_interfaces() -> list[Path]:
    return sorted(
        path
        for path in (SRC / "sustain").rglob("*.py")
        if path.name not in READS_THE_CLOCK
        and not path.name.endswith(("views.py", "api.py"))
        and "migrations" not in path.parts
        and "management" not in path.parts
        and path.name != "settings.py"
    )


def test_no_service_or_query_reads_the_clock() -> None:
    modules = below_the_interfaces()
    assert len(modules) > 40  # services, queries, models, forms, the rules modules …
    assert [read for path in modules for read in clock_reads(path)] == []


def test_the_clock_check_finds_a_clock_read(tmp_path: Path) -> None:
    probe = tmp_path / "services.py"
    probe.write_text("import datetime as dt\n\nfrom django.utils import timezone\n\n"
                     "WHEN = timezone.now()\nTODAY = dt.date.today()\n")  # fmt: skip
    assert clock_reads(probe, tmp_path) == ["services.py:5", "services.py:6"]
