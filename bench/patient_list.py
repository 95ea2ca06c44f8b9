"""Patient list benchmark: `python bench/patient_list.py`. Prints a Markdown table.

10,000 patients at one site (issue 13's target: the list answers in under 100 ms), with names
and dates of birth drawn deterministically from a few hundred names and 65 years, bulk-created
(the list reads them; registering each through the service would only make the set-up slow).
Each figure is one request through Django's test client as a nurse (who sees alerts): the
session, the permission checks, the audit event and the rendered page included. Runs on a
throwaway SQLite file, or on DATABASE_URL's PostgreSQL.
"""

import datetime as dt
import os
import random
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sustain.settings")
SCRATCH = Path(tempfile.mkdtemp(prefix="sustain-bench-"))
os.environ.setdefault("SUSTAIN_SQLITE_PATH", str(SCRATCH / "bench.sqlite3"))

import django  # noqa: E402 - after the environment is set

django.setup()

from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from run import signed_in, timed  # noqa: E402 - bench/run.py's sign-in and timer

from sustain.accounts.models import Membership, Site, User  # noqa: E402
from sustain.care.models import MrnSequence, Patient  # noqa: E402

PATIENTS = 10_000
GIVEN = [f"{a}{b}" for a in ("Al", "Be", "Ca", "Da", "El", "Fi", "Go", "Ha", "Iv", "Jo",
         "Ka", "Le", "Ma", "No", "Ol", "Pe", "Ro", "Sa", "Te", "Vi") for b in ("an", "en", "ia",
         "o", "ra", "ssa", "th", "x", "yn", "ic")]  # fmt: skip
FAMILY = [f"{a}{b}" for a in ("Ander", "Brook", "Carl", "Dun", "Ell", "Fair", "Garr", "Hol",
          "Ing", "Jen", "Kel", "Lind", "Mor", "Nor", "Oak", "Pres", "Quin", "Row", "Stan",
          "Thorn") for b in ("son", "ley", "ton", "ham", "well", "wood", "ford", "by", "er",
          "ing")]  # fmt: skip


def clinic() -> User:
    call_command("migrate", verbosity=0)
    site = Site.objects.create(name="Bench Clinic", timezone="America/New_York")
    nurse = User.objects.create_user("ben", password=None)
    nurse.groups.add(Group.objects.get(name="nurse"))
    Membership.objects.create(user=nurse, site=site)
    rng = random.Random(2027)  # noqa: S311 - reproducible benchmark data
    now = timezone.now()
    Patient.objects.bulk_create(
        (
            Patient(
                site=site,
                mrn=f"S{site.pk}-{n:06d}",
                given_name=rng.choice(GIVEN),
                family_name=rng.choice(FAMILY),
                date_of_birth=dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(65 * 365)),
                sex="unknown",
                phone=f"555-{rng.randrange(10_000):04d}",
                primary_condition="depression",
                created_at=now,
                created_by=nurse,
            )
            for n in range(1, PATIENTS + 1)
        ),
        batch_size=1000,
    )
    MrnSequence.objects.create(site=site, last=PATIENTS)  # as registration would leave it
    return nurse


def main() -> None:
    nurse = clinic()
    client = signed_in(nurse)
    one = Patient.objects.order_by("pk")[5000]
    name_pair = f"{one.given_name[1:4]} {one.family_name[:5]}".lower()
    requests = [
        ("first page, by name", "get", {}),
        ("search a part of a name (`row`)", "post", {"q": "row"}),
        (f"search parts of both names (`{name_pair}`)", "post", {"q": name_pair}),
        (
            f"search a date of birth (`{one.date_of_birth}`)",
            "post",
            {"q": str(one.date_of_birth)},
        ),
        (f"search an MRN (`{one.mrn}`)", "post", {"q": one.mrn}),
        ("page 100 of 200, youngest first", "post", {"sort": "-born", "page": "100"}),
    ]
    rows = []
    queries: list[str] = []

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        queries.append(sql)
        return execute(sql, params, many, context)

    for name, method, data in requests:

        def ask(method: str = method, data: dict[str, str] = data, name: str = name) -> object:
            response = getattr(client, method)("/", data)
            if response.status_code != 200:
                raise RuntimeError(f"{name} answered {response.status_code}")
            return response

        queries.clear()
        with connection.execute_wrapper(count):
            response = ask()
        page = response.content.decode()  # type: ignore[attr-defined]
        total = re.search(r"\(([0-9]+) patients\)", page)
        found = int(total.group(1)) if total else len(re.findall(r'href="/patients/\d+/"', page))
        median, p95 = timed(ask, 30)
        rows.append(
            (
                f"{name}: {found:,} found, {len(queries)} queries, {len(page) // 1024} KB",
                f"{median:.1f} ms (p95 {p95:.1f})",
            )
        )
    print(
        f"Patient list, {PATIENTS:,} patients at one site. Database: {connection.vendor}; "
        f"{os.cpu_count()} cores\n"
    )
    print("| request | result |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
