"""The core stays pure: no Django, no Sustain project code, no reading of the clock."""

import ast
from pathlib import Path

import pytest

import sustain_core

pytestmark = pytest.mark.core

CORE_DIR = Path(sustain_core.__file__).parent
FORBIDDEN_PACKAGES = {"django", "sustain"}
CLOCK_METHODS = {"now", "today", "utcnow"}  # datetime.now/today/utcnow, date.today


def violations(source: str) -> list[str]:
    """Return a line-numbered description of every forbidden import or clock read."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found += [
                f"line {node.lineno}: imports {module}"
                for module in imported_modules(node)
                if module.split(".")[0] in FORBIDDEN_PACKAGES
            ]
        elif isinstance(node, ast.Call) and reads_clock(node.func):
            found.append(f"line {node.lineno}: reads the clock with {ast.unparse(node.func)}()")
    return found


def imported_modules(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    # Relative imports (level > 0) stay inside sustain_core.
    return [node.module] if node.level == 0 and node.module else []


def reads_clock(function: ast.expr) -> bool:
    if not isinstance(function, ast.Attribute):
        return False
    owner = function.value
    is_time_time = function.attr == "time" and isinstance(owner, ast.Name) and owner.id == "time"
    return function.attr in CLOCK_METHODS or is_time_time


@pytest.mark.parametrize(
    "path", sorted(CORE_DIR.rglob("*.py")), ids=lambda path: str(path.relative_to(CORE_DIR))
)
def test_core_module_is_pure(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("import django", ["line 1: imports django"], id="import-django"),
        pytest.param(
            "from django.db import models", ["line 1: imports django.db"], id="from-django"
        ),
        pytest.param(
            "import sustain.care.models", ["line 1: imports sustain.care.models"], id="sustain"
        ),
        pytest.param("from sustain import api", ["line 1: imports sustain"], id="from-sustain"),
        pytest.param("import sustain_core.dosing\nfrom . import errors", [], id="core-allowed"),
        pytest.param(
            "dt.datetime.now(dt.UTC)",
            ["line 1: reads the clock with dt.datetime.now()"],
            id="datetime-now",
        ),
        pytest.param(
            "datetime.utcnow()", ["line 1: reads the clock with datetime.utcnow()"], id="utcnow"
        ),
        pytest.param("date.today()", ["line 1: reads the clock with date.today()"], id="today"),
        pytest.param("time.time()", ["line 1: reads the clock with time.time()"], id="time-time"),
        pytest.param("dt.time(8, 0)", [], id="time-of-day-allowed"),
        pytest.param("now()", [], id="plain-function-call-allowed"),
    ],
)
def test_violations_detects_forbidden_code(source: str, expected: list[str]) -> None:
    assert violations(source) == expected
