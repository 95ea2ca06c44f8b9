# A reminder row records its claim, not its sending (issue 14): sent_at becomes queued_at.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0005_visits_cancelled_by"),
    ]

    operations = [
        migrations.RenameField(
            model_name="visitreminder", old_name="sent_at", new_name="queued_at"
        ),
        migrations.AlterModelOptions(
            name="visitreminder", options={"ordering": ["queued_at", "pk"]}
        ),
        migrations.AlterField(
            model_name="visitreminder",
            name="queued_at",
            field=models.DateTimeField(
                help_text="When the reminder was claimed and its message queued; whether it "
                "left is the message's status (issue 14)"
            ),
        ),
    ]
