"""Each relapse fit keeps the responders' episodes open when it was fitted (issue 17)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="relapsefit",
            name="open_episodes",
            field=models.JSONField(default=list),
        ),
    ]
