"""SEC-16 (issue 14, item 6): opening a page changes nothing. Every staff page of the role-page
table (which `test_every_url_pattern_is_in_the_table` holds equal to the URL resolver's
patterns) is fetched by GET as each role that may open it; no table changes its row count,
except the audit trail (reads are audited) and the session store."""

import pytest
import time_machine
from django.apps import apps
from django.db import connection

from tests.sustain.test_role_pages import NOW, OK, PAGES, ROLES, STATUS, Page, clinic  # noqa: F401

pytestmark = pytest.mark.db

ALLOWED = {"accounts.AuditEvent", "accounts.AuditChainHead", "sessions.Session"}


def row_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        counts = {}
        for model in apps.get_models(include_auto_created=True):
            if model._meta.label in ALLOWED or model._meta.proxy or not model._meta.managed:
                continue
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - a model's own table
            counts[model._meta.label] = cursor.fetchone()[0]
    return counts


@pytest.mark.parametrize("page", [p for p in PAGES if OK in STATUS[p]])
def test_opening_a_page_changes_no_table(db, login, clinic, page):  # noqa: F811
    role = ROLES[STATUS[page].index(OK)]
    with time_machine.travel(NOW, tick=False):
        client = login(clinic.users[role])
        before = row_counts()
        response = client.get(PAGES[page].url(clinic))
        after = row_counts()
    assert response.status_code == OK
    assert {k: (before[k], after[k]) for k in before if before[k] != after[k]} == {}


def test_the_check_sees_a_change(db, login, clinic):  # noqa: F811
    """The series page's search (a POST) holds chairs: the same count sees that row."""
    with time_machine.travel(NOW, tick=False):
        client = login(clinic.users["scheduler"])
        before = row_counts()
        client.post(
            Page("", "/patients/{wes}/series/").url(clinic),
            {"first_day": "2026-12-07", "search": "1"},
        )
        after = row_counts()
    assert after["scheduling.SeriesHold"] > before["scheduling.SeriesHold"]
