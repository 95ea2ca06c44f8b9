"""Every appointment now has a UID (0004): make it required and unique, with a fresh uuid4
for each new visit."""

import uuid

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0004_appointment_fill_uid")]

    operations = [
        migrations.AlterField(
            model_name="appointment",
            name="uid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
