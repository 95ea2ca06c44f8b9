"""The per-site diary version (issue 15): triggers raise ``scheduling_diaryversion.version`` and
log what changed (``scheduling_diarychange``) in the same transaction as every change the
series search reads, on PostgreSQL and on SQLite, whatever path wrote it (services, admin, raw
SQL): an appointment inserted or deleted, or updated in its site, chair, times, phase minutes
or whether it occupies its chair (booked/completed against cancelled/no-show); opening hours,
closures, chairs (site, capabilities), shifts (site, role, times) and phase staffing rules
inserted, deleted or changed; a site's time zone changed. An update that changes none of
these (a visit's phase, vitals, confirmation, a chair's name) leaves the version alone.

Order: the version row is written with an upsert, which locks it until the transaction ends.
A second writer at the site waits on that row; under READ COMMITTED PostgreSQL then re-reads
the committed row and adds one to it, so versions are handed out in commit order, and a
reader that sees version v sees every change up to v committed (SQLite has one writer at a
time). The statuses below are scheduling.enums.OCCUPYING, copied: a migration must not import
the code it migrates.
"""

from django.db import migrations, models

APPOINTMENT_COLUMNS = (
    "site_id", "chair_id", "starts_at", "ends_at",
    "check_in_minutes", "infusion_minutes", "recovery_minutes", "discharge_minutes",
)  # fmt: skip
OCCUPYING = "('booked', 'completed')"
SETUP_COLUMNS = {
    "scheduling_openinghours": ("site_id", "weekday", "opens", "closes"),
    "scheduling_closure": ("site_id", "date"),
    "scheduling_chair": ("site_id", "capabilities"),
    "scheduling_shift": ("site_id", "role", "starts_at", "ends_at"),
    "scheduling_phasestaffing": ("site_id", "phase", "patients_per_nurse", "prescriber_on_site"),
}
KEEP = 1000  # change rows kept per site


def _changed(columns, distinct):
    return " OR ".join(f"OLD.{c} {distinct} NEW.{c}" for c in columns)


def _appointment_changed(distinct):
    occupies = f"(OLD.status IN {OCCUPYING}) {distinct} (NEW.status IN {OCCUPYING})"
    return f"{_changed(APPOINTMENT_COLUMNS, distinct)} OR {occupies}"


POSTGRESQL = f"""
CREATE OR REPLACE FUNCTION sustain_diary_bump(site bigint, appointment bigint) RETURNS void AS $$
DECLARE
    raised bigint;
BEGIN
    INSERT INTO scheduling_diaryversion (site_id, version, epoch)
    VALUES (site, 1, floor(random() * 9007199254740991)::bigint)
    ON CONFLICT (site_id) DO UPDATE SET version = scheduling_diaryversion.version + 1
    RETURNING version INTO raised;
    INSERT INTO scheduling_diarychange (site_id, version, appointment_id)
    VALUES (site, raised, appointment);
    DELETE FROM scheduling_diarychange WHERE site_id = site AND version <= raised - {KEEP};
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION sustain_diary_row() RETURNS trigger AS $$
BEGIN
    -- TG_ARGV[0]: 'appointment' (log the row's id) or 'setup' (log null)
    IF TG_OP <> 'INSERT' THEN
        PERFORM sustain_diary_bump(
            OLD.site_id, CASE WHEN TG_ARGV[0] = 'appointment' THEN OLD.id END);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.site_id IS DISTINCT FROM OLD.site_id) THEN
        PERFORM sustain_diary_bump(
            NEW.site_id, CASE WHEN TG_ARGV[0] = 'appointment' THEN NEW.id END);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION sustain_diary_site() RETURNS trigger AS $$
BEGIN
    PERFORM sustain_diary_bump(NEW.id, NULL);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER scheduling_appointment_diary AFTER INSERT OR DELETE ON scheduling_appointment
    FOR EACH ROW EXECUTE FUNCTION sustain_diary_row('appointment');
CREATE TRIGGER scheduling_appointment_diary_update AFTER UPDATE ON scheduling_appointment
    FOR EACH ROW WHEN ({_appointment_changed("IS DISTINCT FROM")})
    EXECUTE FUNCTION sustain_diary_row('appointment');
CREATE TRIGGER accounts_site_diary AFTER UPDATE ON accounts_site
    FOR EACH ROW WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)
    EXECUTE FUNCTION sustain_diary_site();
""" + "".join(  # noqa: S608 (constants only, no input)
    f"""
CREATE TRIGGER {table}_diary AFTER INSERT OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION sustain_diary_row('setup');
CREATE TRIGGER {table}_diary_update AFTER UPDATE ON {table}
    FOR EACH ROW WHEN ({_changed(columns, "IS DISTINCT FROM")})
    EXECUTE FUNCTION sustain_diary_row('setup');
"""
    for table, columns in SETUP_COLUMNS.items()
)
POSTGRESQL_DROP = (
    "".join(
        f"DROP TRIGGER IF EXISTS {table}_diary ON {table};"
        f"DROP TRIGGER IF EXISTS {table}_diary_update ON {table};"
        for table in ("scheduling_appointment", *SETUP_COLUMNS)
    )
    + "DROP TRIGGER IF EXISTS accounts_site_diary ON accounts_site;"
    + "DROP FUNCTION IF EXISTS sustain_diary_row(); DROP FUNCTION IF EXISTS sustain_diary_site();"
    + "DROP FUNCTION IF EXISTS sustain_diary_bump(bigint, bigint);"
)


def _sqlite_bump(site, appointment):
    return f"""
    INSERT INTO scheduling_diaryversion (site_id, version, epoch) VALUES ({site}, 1, random())
    ON CONFLICT (site_id) DO UPDATE SET version = scheduling_diaryversion.version + 1;
    INSERT INTO scheduling_diarychange (site_id, version, appointment_id)
    SELECT site_id, version, {appointment} FROM scheduling_diaryversion WHERE site_id = {site};
    DELETE FROM scheduling_diarychange WHERE site_id = {site} AND version <= (
        SELECT version FROM scheduling_diaryversion WHERE site_id = {site}) - {KEEP};"""  # noqa: S608


def _sqlite_triggers(table, changed, logged):
    new, old = (f"NEW.{logged}", f"OLD.{logged}") if logged else ("NULL", "NULL")
    return [
        f"CREATE TRIGGER {table}_diary_insert AFTER INSERT ON {table} BEGIN"
        f"{_sqlite_bump('NEW.site_id', new)} END",
        f"CREATE TRIGGER {table}_diary_delete AFTER DELETE ON {table} BEGIN"
        f"{_sqlite_bump('OLD.site_id', old)} END",
        f"CREATE TRIGGER {table}_diary_update AFTER UPDATE ON {table} WHEN {changed} BEGIN"
        f"{_sqlite_bump('OLD.site_id', old)} END",
        f"CREATE TRIGGER {table}_diary_moved AFTER UPDATE ON {table} "
        f"WHEN OLD.site_id IS NOT NEW.site_id BEGIN{_sqlite_bump('NEW.site_id', new)} END",
    ]


SQLITE = [
    *_sqlite_triggers("scheduling_appointment", _appointment_changed("IS NOT"), "id"),
    *(
        trigger
        for table, columns in SETUP_COLUMNS.items()
        for trigger in _sqlite_triggers(table, _changed(columns, "IS NOT"), None)
    ),
    "CREATE TRIGGER accounts_site_diary AFTER UPDATE ON accounts_site "
    f"WHEN OLD.timezone IS NOT NEW.timezone BEGIN{_sqlite_bump('NEW.id', 'NULL')} END",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {table}_diary_{event}"
    for table in ("scheduling_appointment", *SETUP_COLUMNS)
    for event in ("insert", "delete", "update", "moved")
] + ["DROP TRIGGER IF EXISTS accounts_site_diary"]


def diary_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL)
    else:
        for statement in SQLITE:
            schema_editor.execute(statement)


def diary_triggers_reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_DROP)
    else:
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0006_deliver_reminder_queued_at"),
    ]

    operations = [
        migrations.CreateModel(
            name="DiaryVersion",
            fields=[
                ("site_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("version", models.BigIntegerField()),
                ("epoch", models.BigIntegerField()),
            ],
            options={"default_permissions": ()},
        ),
        migrations.CreateModel(
            name="DiaryChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("site_id", models.BigIntegerField()),
                ("version", models.BigIntegerField()),
                ("appointment_id", models.BigIntegerField(null=True)),
            ],
            options={
                "default_permissions": (),
                "indexes": [models.Index(fields=["site_id", "version"], name="diarychange_site")],
            },
        ),
        migrations.RunPython(diary_triggers, diary_triggers_reverse),
    ]
