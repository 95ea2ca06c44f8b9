"""Issue 15 item 4: the audit trail is one chain per site (a lane, numbered by the site's id)
plus lane 0 for events without a site, so appends at different sites lock different head
rows. Each lane verifies on its own, tampering in a site's lane is found and named, a row
moved to another lane no longer matches (each lane has its own key), two first appends to a
new lane are safe, and on PostgreSQL an open transaction at one site does not hold up another
site's append."""

import importlib
import json
import threading

import pytest
from django.core.management import call_command
from django.db import IntegrityError, OperationalError, connection, connections, transaction

from sustain.accounts.audit import CHAIN, record_event, verify_chain
from sustain.accounts.chain import write_anchors
from sustain.accounts.enums import AuditAction, DataCategory
from sustain.accounts.models import AuditChainHead, AuditEvent, Site
from tests.sustain.accounts.test_audit import tamper
from tests.sustain.conftest import make_site

pytestmark = pytest.mark.db
WAIT = 10  # seconds a held transaction stays open at most


def read(site: Site | None, actor=None) -> AuditEvent:
    return record_event(
        actor=actor, username="lanes", action=AuditAction.READ,
        category=DataCategory.PATIENT_RECORD, site=site,
    )  # fmt: skip


@pytest.fixture
def lanes(north, south):
    """Three events at North, two at South, one without a site (after the install's event)."""
    for site in (north, south, north, None, south, north):
        read(site)
    return north, south


def lane(site: Site | None) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(lane=site.pk if site else 0).order_by("seq"))


def test_events_at_two_sites_go_to_two_lanes_that_each_verify(lanes):
    north, south = lanes
    assert [(e.seq, e.site_id) for e in lane(north)] == [
        (1, north.pk),
        (2, north.pk),
        (3, north.pk),
    ]
    assert [(e.seq, e.site_id) for e in lane(south)] == [(1, south.pk), (2, south.pk)]
    assert [(e.seq, e.site_id) for e in lane(None)] == [(1, None), (2, None)]  # install's first
    heads = {h.lane: (h.last_seq, h.last_hash) for h in AuditChainHead.objects.all()}
    assert heads == {
        0: (2, lane(None)[-1].row_hash),
        north.pk: (3, lane(north)[-1].row_hash),
        south.pk: (2, lane(south)[-1].row_hash),
    }
    report = verify_chain()
    assert (report.ok, report.rows_checked, report.problem) == (True, 7, "")


def test_each_lane_has_its_own_key_and_lane_0_keeps_the_chains(lanes):
    north, _ = lanes
    first = lane(north)[0]
    assert first.prev_hash == "0" * 64  # each lane starts at the genesis hash
    assert CHAIN._key(0) == CHAIN._key()
    assert len({CHAIN._key(0), CHAIN._key(north.pk), CHAIN._key(north.pk + 1)}) == 3


def test_a_deleted_row_in_a_site_lane_is_named(lanes):
    north, _ = lanes
    second = lane(north)[1]
    tamper("DELETE FROM accounts_auditevent WHERE id = %s", [second.pk])
    assert verify_chain().problem == (
        f"site {north.pk}'s lane: row seq 2 is missing: deleted before row id {lane(north)[1].pk}"
    )


def test_a_changed_row_in_a_site_lane_is_named(lanes):
    _, south = lanes
    first = lane(south)[0]
    tamper("UPDATE accounts_auditevent SET patient_id = 99 WHERE id = %s", [first.pk])
    report = verify_chain()
    assert (report.ok, report.problem) == (
        False,
        f"site {south.pk}'s lane: row seq 1 (id {first.pk}) does not match its hash: changed "
        "or inserted",
    )


def test_a_deleted_newest_row_in_a_site_lane_is_found_by_its_head_and_its_anchor(lanes):
    north, _ = lanes
    newest = lane(north)[-1]
    tamper("DELETE FROM accounts_auditevent WHERE id = %s", [newest.pk])
    assert verify_chain().problem == (
        f"site {north.pk}'s lane: rows after seq 2 were deleted (the chain head is at 3)"
    )
    # With the head rewound too the lane alone is whole again: its checkpoint catches it.
    kept = lane(north)[-1]
    tamper(
        "UPDATE accounts_auditchainhead SET last_seq = 2, last_hash = %s WHERE lane = %s",
        [kept.row_hash, north.pk],
    )
    assert CHAIN.verify() == (6, None)
    assert verify_chain().ok  # no checkpoint yet: nothing to compare with


def test_an_anchor_signs_every_lanes_head_and_catches_a_rewound_site_lane(lanes, settings, capsys):
    north, south = lanes
    call_command("audit_anchor")
    said = capsys.readouterr().out
    assert "anchored sustain.audit.v1 at seq 2 (" in said
    assert f"anchored sustain.audit.v1 lane {north.pk} at seq 3 (" in said
    written = [
        json.loads(raw) for raw in settings.SUSTAIN_AUDIT_ANCHOR_PATH.read_text().split("\n") if raw
    ]
    assert sorted((w["chain"], w.get("lane", 0), w["seq"]) for w in written) == sorted(
        [
            ("sustain.audit.v1", 0, 2),
            ("sustain.audit.v1", north.pk, 3),
            ("sustain.audit.v1", south.pk, 2),
            ("sustain.ledger.v1", 0, 0),
        ]
    )
    newest, kept = lane(north)[-1], lane(north)[-2]
    tamper("DELETE FROM accounts_auditevent WHERE id = %s", [newest.pk])
    tamper(
        "UPDATE accounts_auditchainhead SET last_seq = 2, last_hash = %s WHERE lane = %s",
        [kept.row_hash, north.pk],
    )
    at = next(w["at"] for w in written if w.get("lane") == north.pk)
    assert verify_chain().problem == (
        f"lane {north.pk}: row seq 3, anchored at {at}, is missing: the chain ends at seq 2, "
        "so rows were deleted"
    )


def test_a_site_lane_deleted_whole_is_caught_by_its_anchor(lanes):
    _, south = lanes
    write_anchors(lane(None)[-1].recorded_at)
    tamper("DELETE FROM accounts_auditevent WHERE lane = %s", [south.pk])
    tamper("DELETE FROM accounts_auditchainhead WHERE lane = %s", [south.pk])
    assert CHAIN.verify() == (5, None)
    assert verify_chain().problem.startswith(f"lane {south.pk}: row seq 2, anchored at ")


def test_a_site_lane_without_its_head_is_found(lanes):
    _, south = lanes
    tamper("DELETE FROM accounts_auditchainhead WHERE lane = %s", [south.pk])
    assert verify_chain().problem == (
        f"site {south.pk}'s lane: the chain head is missing: rows up to seq 2 have none"
    )


def test_a_row_moved_to_another_lane_no_longer_matches(north, south):
    """South's only row and head moved whole to North's lane (empty): seq, prev_hash and head
    are all consistent there, and only the lane's own key tells."""
    moved = read(south)
    tamper("UPDATE accounts_auditevent SET lane = %s WHERE id = %s", [north.pk, moved.pk])
    tamper("UPDATE accounts_auditchainhead SET lane = %s WHERE lane = %s", [north.pk, south.pk])
    report = verify_chain()
    assert (report.ok, report.problem) == (
        False,
        f"site {north.pk}'s lane: row seq 1 (id {moved.pk}) does not match its hash: changed "
        "or inserted",
    )


def test_a_row_moved_into_lane_0_no_longer_matches(north):
    """The install's lane 0 emptied, and North's only row and head moved there."""
    moved = read(north)
    tamper("DELETE FROM accounts_auditevent WHERE lane = 0", [])
    tamper("DELETE FROM accounts_auditchainhead WHERE lane = 0", [])
    tamper("UPDATE accounts_auditevent SET lane = 0 WHERE id = %s", [moved.pk])
    tamper("UPDATE accounts_auditchainhead SET lane = 0 WHERE lane = %s", [north.pk])
    assert verify_chain().problem == (
        f"row seq 1 (id {moved.pk}) does not match its hash: changed or inserted"
    )


def run_together(workers) -> list[object]:
    """Start every worker at once, each in its own thread; their results or errors."""
    barrier = threading.Barrier(len(workers))
    results: list[object] = [None] * len(workers)

    def run(i, work):
        try:
            barrier.wait()
            results[i] = work()
        except Exception as error:
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_first_appends_to_new_lanes_at_once_are_safe():
    """Four threads append the first events of each of three new sites' lanes at once."""
    sites = [make_site(f"Site {n}", "America/New_York", chairs=1) for n in range(3)]
    results = run_together([lambda s=s: read(s).pk for s in sites for _ in range(4)])
    assert [r for r in results if not isinstance(r, int)] == []
    for site in sites:
        assert [e.seq for e in lane(site)] == [1, 2, 3, 4]
        assert AuditChainHead.objects.get(lane=site.pk).last_seq == 4
    report = verify_chain()
    assert (report.ok, report.rows_checked) == (True, 13)


def hold_after_append(site: Site, appended: threading.Event, release: threading.Event):
    """A thread that appends at `site` and keeps its transaction (and its lane head's lock)
    open until released."""

    def work() -> None:
        try:
            with transaction.atomic():
                read(site)
                appended.set()
                release.wait(WAIT)
        finally:
            connections.close_all()

    return threading.Thread(target=work)


def append_within(site: Site, seconds: float) -> None:
    """Append at `site`, refused (OperationalError) when a lock holds it longer than `seconds`."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{int(seconds * 1000)}ms'")
        read(site)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_open_append_at_one_site_does_not_hold_up_another_site(north, south):
    read(north)  # both lanes exist: the head rows are the only thing to wait on
    read(south)
    appended, release = threading.Event(), threading.Event()
    holder = hold_after_append(north, appended, release)
    holder.start()
    try:
        assert appended.wait(WAIT)
        append_within(south, 2)  # South's lane: not held up
        append_within(None, 2)  # nor lane 0
        with pytest.raises(OperationalError, match="lock timeout"):
            append_within(north, 0.5)  # North's own lane waits: the lock is real
    finally:
        release.set()
        holder.join()
    assert [e.seq for e in lane(north)] == [1, 2]
    assert [e.seq for e in lane(south)] == [1, 2]
    assert verify_chain().ok


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no id sequence")
def test_the_migration_moves_the_head_id_sequence_past_the_lane_0_head(north):
    """Before lanes the one head was made with an explicit pk 1, which PostgreSQL's id sequence
    never issued: a new lane's head would take id 1 and fail, until the migration moves it."""
    lanes = importlib.import_module("sustain.accounts.migrations.0013_audit_lanes")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_auditchainhead SET id = 1 WHERE lane = 0")
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('accounts_auditchainhead', 'id'), 1, false)"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        read(north)
    with connection.schema_editor() as editor:
        lanes.move_head_sequence(None, editor)
    assert read(north).seq == 1
    assert verify_chain().ok
