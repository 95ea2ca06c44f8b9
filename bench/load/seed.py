"""Seed the load test's clinic (TST-02): the demo clinic (`sustain demo`), patients enrolled and
waiting for their series to be booked through the API, and signed-in sessions past the second
factor for a nurse and the scheduler. Writes what the locustfile needs as JSON to argv[1].

Run with the database's environment (SUSTAIN_SQLITE_PATH or DATABASE_URL) and SUSTAIN_DEBUG=1
(the demo loads only in debug); bench/load/run.py serves the result with SUSTAIN_DEBUG=0.
"""

import datetime as dt
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sustain.settings")

import django
import django_otp

django.setup()

from django.core.management import call_command  # noqa: E402
from django.http import HttpRequest  # noqa: E402
from django.middleware.csrf import _get_new_csrf_string  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

from sustain.accounts.models import Site, User  # noqa: E402
from sustain.care import services as care  # noqa: E402
from sustain.care.models import Patient  # noqa: E402

TO_BOOK = 150  # patients enrolled and waiting: more than a 60 s run books


def session_cookie(user: User) -> str:
    """A session signed in as `user`, past the second factor with a confirmed authenticator
    (as bench/run.py signs in)."""
    client = Client()
    client.force_login(user)
    request = HttpRequest()
    request.session, request.user = client.session, user
    django_otp.login(request, TOTPDevice.objects.create(user=user, name="load", confirmed=True))
    request.session.save()
    return client.cookies["sessionid"].value


def main(out: Path) -> None:
    call_command("migrate", verbosity=0)
    call_command("demo", verbosity=0)
    site = Site.objects.get()
    sam = User.objects.get(username="sam.scheduler")
    ada = User.objects.get(username="dr.ada")
    now = timezone.now()
    today = now.astimezone(site.tz).date()
    patients = list(Patient.objects.filter(site=site).values_list("pk", flat=True))
    to_book = []
    for n in range(TO_BOOK):
        patient = care.register_patient(
            by=sam, site=site, given_name=f"Load{n:03d}", family_name="Waiting", sex="unknown",
            date_of_birth=dt.date(1970, 1, 1) + dt.timedelta(days=97 * n), phone="", email="",
            primary_condition="depression", weight_kg=Decimal("72.5"), today=today, now=now,
        )  # fmt: skip
        care.enrol_patient(
            patient=patient, protocol_key="depression-induction", protocol_version=1, by=ada,
            now=now,
        )  # fmt: skip
        # First days spread over the 9 weeks ahead, where the demo has staff on shift.
        first_day = today + dt.timedelta(days=1 + (n * 5) % 63)
        to_book.append([patient.pk, first_day.isoformat()])
    out.write_text(
        json.dumps(
            {
                "nurse": session_cookie(User.objects.get(username="nurse.ben")),
                "scheduler": session_cookie(sam),
                "csrf": _get_new_csrf_string(),
                "patients": patients,
                "to_book": to_book,
            }
        )
    )
    print(f"seeded: {len(patients)} demo patients, {len(to_book)} waiting to be booked")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
