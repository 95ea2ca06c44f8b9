"""The infusion gap floor in the database: on PostgreSQL, two booked or completed visits of one
patient never start under 24 hours apart (sustain_core.series.INFUSION_GAP_FLOOR; the number
is copied here, as a migration must not import the code it migrates).

Each visit holds the 24 hours from its start, half-open, so two visits exactly 24 h apart
touch and are allowed. The range is taken in UTC wall-clock time (`AT TIME ZONE 'UTC'`, no
daylight saving, so 24 hours there are 24 elapsed hours) because adding an interval to a
timestamptz is not immutable and an index cannot use it. A cancelled visit and a no-show
gave no drug and do not count, as in scheduling.services._check_gap_floor, which keeps the
floor on SQLite (under the booking lock). Like migration 0001's exclusion constraints, the
SQL runs only on PostgreSQL.

On a database that already holds two such visits the constraint cannot be added: the
migration then fails naming the pair, to be cancelled or moved before migrating again.
"""

from django.db import migrations

FLOOR = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE scheduling_appointment ADD CONSTRAINT appt_infusion_gap_floor EXCLUDE USING gist (
    patient_id WITH =,
    tsrange(
        starts_at AT TIME ZONE 'UTC', (starts_at AT TIME ZONE 'UTC') + interval '24 hours', '[)'
    ) WITH &&
) WHERE (status IN ('booked', 'completed'));
"""
FLOOR_DROP = """
ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS appt_infusion_gap_floor;
"""


def infusion_gap_floor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FLOOR)


def infusion_gap_floor_reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FLOOR_DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0002_visit_vitals_overdue_at"),
    ]

    operations = [
        migrations.RunPython(infusion_gap_floor, infusion_gap_floor_reverse),
    ]
