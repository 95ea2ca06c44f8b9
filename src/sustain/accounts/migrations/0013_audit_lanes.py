"""The audit trail in lanes (issue 15): one chain per site, lane 0 for events without a site.
Existing events and the existing head (pk 1) become lane 0 and verify unchanged (lane 0 keeps
the chain's key); `seq` is unique per lane. The head table's id sequence is moved past the
rows already there: the lane 0 head was created with an explicit pk 1, which PostgreSQL's
sequence never saw, and new lanes' heads take ids from it."""

from django.db import migrations, models

HEAD_SEQUENCE = """
SELECT setval(pg_get_serial_sequence('accounts_auditchainhead', 'id'),
              coalesce(max(id), 1), max(id) IS NOT NULL)
FROM accounts_auditchainhead
"""


def move_head_sequence(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(HEAD_SEQUENCE)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0012_alert_outbox_to_staff"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="auditevent",
            options={"ordering": ["id"]},
        ),
        migrations.AddField(
            model_name="auditchainhead",
            name="lane",
            field=models.BigIntegerField(default=0, unique=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="lane",
            field=models.BigIntegerField(
                db_default=0, default=0, help_text="The site's id; 0: no site"
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(fields=("lane", "seq"), name="auditevent_lane_seq"),
        ),
        migrations.RunPython(move_head_sequence, migrations.RunPython.noop),
    ]
