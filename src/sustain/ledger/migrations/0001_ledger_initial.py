"""The controlled-substance ledger (issue 12). On PostgreSQL a trigger refuses UPDATE and
DELETE of ledger entries in the database itself, like the audit trail's (accounts 0001);
SQLite relies on the model's refusal (its test databases are emptied with DELETE).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

LEDGER_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION sustain_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'ledger entries are append-only (' || TG_OP || ' refused)';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER ledger_ledgerentry_append_only
    BEFORE UPDATE OR DELETE ON ledger_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION sustain_ledger_append_only();
"""
LEDGER_APPEND_ONLY_DROP = """
DROP TRIGGER IF EXISTS ledger_ledgerentry_append_only ON ledger_ledgerentry;
DROP FUNCTION IF EXISTS sustain_ledger_append_only();
"""


def ledger_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(LEDGER_APPEND_ONLY)


def ledger_append_only_reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(LEDGER_APPEND_ONLY_DROP)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0003_ledger_audit_category"),
        ("scheduling", "0003_gap_infusion_gap_floor"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="LedgerChainHead",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("last_seq", models.BigIntegerField(default=0)),
                (
                    "last_hash",
                    models.CharField(
                        default="0000000000000000000000000000000000000000000000000000000000000000",
                        max_length=64,
                    ),
                ),
            ],
            options={
                "default_permissions": (),
            },
        ),
        migrations.CreateModel(
            name="Lot",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("lot_number", models.CharField(max_length=40)),
                ("expires_on", models.DateField(help_text="Usable through this day")),
            ],
            options={
                "default_permissions": (),
            },
        ),
        migrations.CreateModel(
            name="Supplier",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=200)),
                ("address", models.TextField()),
                ("dea_number", models.CharField(max_length=9, unique=True)),
            ],
            options={
                "default_permissions": (),
            },
        ),
        migrations.CreateModel(
            name="Location",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=80)),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="storage_locations",
                        to="accounts.site",
                    ),
                ),
            ],
            options={
                "default_permissions": (),
            },
        ),
        migrations.CreateModel(
            name="Container",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.PositiveIntegerField()),
                (
                    "location",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="containers",
                        to="ledger.location",
                    ),
                ),
                (
                    "lot",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="containers",
                        to="ledger.lot",
                    ),
                ),
            ],
            options={
                "default_permissions": (),
            },
        ),
        migrations.CreateModel(
            name="Product",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "name",
                    models.CharField(default="Ketamine hydrochloride injection", max_length=120),
                ),
                (
                    "strength_mg_per_ml",
                    models.PositiveSmallIntegerField(
                        choices=[(10, "10 mg/mL"), (50, "50 mg/mL"), (100, "100 mg/mL")]
                    ),
                ),
                ("container_volume_ml", models.DecimalField(decimal_places=2, max_digits=7)),
                (
                    "ndc",
                    models.CharField(help_text="National Drug Code", max_length=13, unique=True),
                ),
            ],
            options={
                "default_permissions": (),
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("strength_mg_per_ml__in", (10, 50, 100))),
                        name="product_strength_is_marketed",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("container_volume_ml__gt", 0)),
                        name="product_volume_positive",
                    ),
                ],
            },
        ),
        migrations.AddField(
            model_name="lot",
            name="product",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="lots",
                to="ledger.product",
            ),
        ),
        migrations.CreateModel(
            name="SiteRegistration",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("dea_number", models.CharField(max_length=9, unique=True)),
                (
                    "site",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="dea_registration",
                        to="accounts.site",
                    ),
                ),
            ],
            options={
                "default_permissions": (),
            },
        ),
        migrations.CreateModel(
            name="LedgerEntry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("seq", models.BigIntegerField(unique=True)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("receive", "Received"),
                            ("transfer", "Transferred"),
                            ("open", "Opened"),
                            ("draw", "Drawn for a visit"),
                            ("administer", "Administered"),
                            ("waste", "Wasted"),
                            ("return", "Returned to supplier"),
                            ("destroy", "Destroyed"),
                            ("adjust", "Adjusted"),
                            ("correction", "Correction"),
                        ],
                        max_length=12,
                    ),
                ),
                ("quantity_mg", models.DecimalField(decimal_places=2, max_digits=12)),
                ("quantity_ml", models.DecimalField(decimal_places=4, max_digits=12)),
                ("change_mg", models.DecimalField(decimal_places=2, max_digits=12)),
                ("change_ml", models.DecimalField(decimal_places=4, max_digits=12)),
                ("reason", models.CharField(blank=True, max_length=300)),
                ("invoice_number", models.CharField(blank=True, max_length=60)),
                ("needs_review", models.BooleanField(default=False)),
                (
                    "occurred_on",
                    models.DateField(help_text="The actual date, in the site's zone [CFR1304.21]"),
                ),
                ("recorded_at", models.DateTimeField()),
                ("prev_hash", models.CharField(max_length=64)),
                ("row_hash", models.CharField(max_length=64)),
                (
                    "actor",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "appointment",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="ledger_entries",
                        to="scheduling.appointment",
                    ),
                ),
                (
                    "container",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="entries",
                        to="ledger.container",
                    ),
                ),
                (
                    "reverses",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="reversed_by",
                        to="ledger.ledgerentry",
                    ),
                ),
                (
                    "second_witness",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="ledger_entries",
                        to="accounts.site",
                    ),
                ),
                (
                    "witness",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "location",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="ledger.location",
                    ),
                ),
                (
                    "supplier",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="ledger.supplier",
                    ),
                ),
            ],
            options={
                "ordering": ["seq"],
                "permissions": [
                    ("receive_stock", "Receive ketamine into stock"),
                    ("transfer_stock", "Transfer containers between locations"),
                    ("draw_stock", "Draw ketamine for a visit"),
                    ("waste_stock", "Waste the remainder of a visit's draw"),
                    ("witness_waste", "Witness a waste"),
                    ("adjust_stock", "Adjust a container's balance (flagged for review)"),
                    ("correct_entry", "Correct a ledger entry by reversing it"),
                ],
                "default_permissions": ("view",),
            },
        ),
        migrations.CreateModel(
            name="ContainerBalance",
            fields=[
                (
                    "container",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="balance",
                        serialize=False,
                        to="ledger.container",
                    ),
                ),
                ("balance_mg", models.DecimalField(decimal_places=2, max_digits=12)),
                ("balance_ml", models.DecimalField(decimal_places=4, max_digits=12)),
            ],
            options={
                "default_permissions": (),
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("balance_mg__gte", 0)),
                        name="container_balance_mg_not_negative",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("balance_ml__gte", 0)),
                        name="container_balance_ml_not_negative",
                    ),
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="location",
            constraint=models.UniqueConstraint(
                fields=("site", "name"), name="location_site_name_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="container",
            constraint=models.UniqueConstraint(
                fields=("lot", "number"), name="container_lot_number_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="lot",
            constraint=models.UniqueConstraint(
                fields=("product", "lot_number"), name="lot_product_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("quantity_mg__gte", 0), ("quantity_ml__gte", 0)),
                name="ledger_quantity_not_negative",
            ),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind__in", ("draw", "administer", "waste")), _negated=True),
                    ("appointment__isnull", False),
                    _connector="OR",
                ),
                name="ledger_visit_entry_has_visit",
            ),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "correction"), ("reverses__isnull", False)),
                    models.Q(
                        models.Q(("kind", "correction"), _negated=True), ("reverses__isnull", True)
                    ),
                    _connector="OR",
                ),
                name="ledger_correction_reverses_one",
            ),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind__in", ("adjust", "correction")), _negated=True),
                    models.Q(("reason", ""), _negated=True),
                    _connector="OR",
                ),
                name="ledger_adjust_has_reason",
            ),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "receive"), _negated=True),
                    models.Q(
                        ("supplier__isnull", False), models.Q(("invoice_number", ""), _negated=True)
                    ),
                    _connector="OR",
                ),
                name="ledger_receipt_has_invoice",
            ),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "waste"), _negated=True),
                    ("witness__isnull", False),
                    _connector="OR",
                ),
                name="ledger_waste_is_witnessed",
            ),
        ),
        migrations.RunPython(ledger_append_only, ledger_append_only_reverse),
    ]
