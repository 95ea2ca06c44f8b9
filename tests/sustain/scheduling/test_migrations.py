"""Migration 0004 gives every existing visit its own UID (a field default would give them one)."""

import datetime as dt
import zoneinfo

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from sustain.care import services as care_services
from sustain.scheduling import services
from sustain.scheduling.models import Chair

pytestmark = pytest.mark.db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def migrate(target: tuple[str, str]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_existing_visits_get_distinct_uids(pat, ada, sam):
    course = care_services.enrol_patient(
        patient=pat, protocol_key="depression-induction", protocol_version=1, by=ada
    )
    chair = Chair.objects.filter(site=pat.site).first()
    for day in (30, 1, 2):
        month = 11 if day == 30 else 12
        start = dt.datetime(2026, month, day, 8, 0, tzinfo=NEW_YORK)
        services.book_visit(course=course, chair=chair, starts_at=start, by=sam)
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("scheduling")[0]
    try:
        old_apps = migrate(("scheduling", "0003_appointment_add_uid_sequence"))
        old_apps.get_model("scheduling", "Appointment").objects.update(uid=None)

        new_apps = migrate(("scheduling", "0005_appointment_uid_unique"))

        uids = list(new_apps.get_model("scheduling", "Appointment").objects.values_list("uid"))
        assert len(uids) == 3
        assert None not in {uid for (uid,) in uids}
        assert len(set(uids)) == 3
    finally:
        migrate(latest)
