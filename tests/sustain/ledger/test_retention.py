"""Records are kept at least 2 years [CFR1304.04]: no path deletes ledger data (issue 12,
item 5). No admin site registers a ledger model; no ledger model has a delete permission a role
could hold; every foreign key into or out of the ledger's tables is PROTECT, so deleting a
patient, visit, user, site, supplier or container with entries is refused and nothing goes;
the entries themselves refuse update and delete (tests/sustain/ledger/test_services.py, and
the PostgreSQL trigger in test_chain.py)."""

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.db import models
from django.db.models import ProtectedError
from django.urls import get_resolver

import sustain.ledger
from sustain.ledger.models import ContainerBalance, LedgerEntry

pytestmark = pytest.mark.db

LEDGER = "ledger"


def test_no_admin_site_registers_ledger_data():
    if apps.is_installed("django.contrib.admin"):
        from django.contrib import admin  # noqa: PLC0415 - only when the admin is installed

        assert [m for m in admin.site._registry if m._meta.app_label == LEDGER] == []
    routes = [str(p.pattern) for p in get_resolver().url_patterns]
    assert [r for r in routes if r.startswith("admin")] == []


def test_no_ledger_model_has_a_delete_permission(db):
    assert (
        list(
            Permission.objects.filter(content_type__app_label=LEDGER)
            .values_list("codename", flat=True)
            .filter(codename__startswith="delete_")
        )
        == []
    )


def test_every_foreign_key_into_or_out_of_the_ledger_protects():
    """Every relation whose either end is a ledger table (patients, sites, users and visits
    point in through the entries; nothing cascades or nulls)."""
    loose = []
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if not isinstance(field, models.ForeignKey) or field.related_model is None:
                continue
            ends = {model._meta.app_label, field.related_model._meta.app_label}
            if LEDGER in ends and field.remote_field.on_delete is not models.PROTECT:
                loose.append(f"{model._meta.label}.{field.name}")
    assert loose == []


def test_the_ledger_code_deletes_nothing():
    """No module of the ledger app calls .delete() (its models define delete only to refuse
    it)."""
    calls = []
    for path in Path(sustain.ledger.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"delete", "_raw_delete"}
            ):
                calls.append(f"{path.name}:{node.lineno}")
    assert calls == []


def kept() -> tuple[int, int]:
    return LedgerEntry.objects.count(), ContainerBalance.objects.count()


@pytest.mark.parametrize(
    "what",
    ["patient", "visit", "drawer", "witness", "administrator", "site", "supplier", "container"],
)
def test_deleting_what_the_entries_name_is_refused(monday_ledger, vials, supplier, nia, alex, what):
    visit = monday_ledger
    target = {
        "patient": visit.patient, "visit": visit, "drawer": visit.ledger_entries.first().actor,
        "witness": nia, "administrator": alex, "site": visit.site, "supplier": supplier,
        "container": vials[0],
    }[what]  # fmt: skip
    before = kept()
    with pytest.raises(ProtectedError):
        target.delete()
    assert kept() == before
    assert type(target).objects.filter(pk=target.pk).exists()


@pytest.mark.parametrize("what", ["visit", "drawer", "witness", "administrator", "container"])
def test_the_entries_are_what_protects_them(monday_ledger, vials, nia, alex, what):
    """Not only other clinical records: the ledger entries are among the protecting rows."""
    visit = monday_ledger
    target = {
        "visit": visit, "drawer": visit.ledger_entries.first().actor, "witness": nia,
        "administrator": alex, "container": vials[0],
    }[what]  # fmt: skip
    with pytest.raises(ProtectedError) as refused:
        target.delete()
    assert any(isinstance(row, LedgerEntry) for row in refused.value.protected_objects)
