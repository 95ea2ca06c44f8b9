"""On PostgreSQL, the database itself refuses two occupying visits that overlap in one chair
or for one patient (security-reliability-interop.md §4.3, INT-03). Half-open [) ranges let
09:00–11:00 and 11:00–13:00 coexist. Django's ExclusionConstraint would also emit on SQLite,
so the SQL runs here only on PostgreSQL; there `book_series` locks and checks as well.
"""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE scheduling_appointment ADD CONSTRAINT appt_no_chair_overlap EXCLUDE USING gist
    (chair_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
    WHERE (status IN ('booked', 'completed'));
ALTER TABLE scheduling_appointment ADD CONSTRAINT appt_no_patient_overlap EXCLUDE USING gist
    (patient_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
    WHERE (status IN ('booked', 'completed'));
"""
DROP = """
ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS appt_no_chair_overlap;
ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS appt_no_patient_overlap;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
