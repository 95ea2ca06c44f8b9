"""Personas for database tests: Dr Ada (prescriber), Nurse Ben, Sam the scheduler, Alex the
clinic administrator, Ivy the auditor, all at North Clinic; Dr Carl, a prescriber at South
Clinic who must see nothing of North's; Nora, a North member with no role; and Pat, North's
patient (70 kg, depression)."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.test import Client

from sustain.accounts.models import Membership, Site, User
from sustain.care import services
from sustain.care.models import Patient
from sustain.ledger.models import Container
from sustain.scheduling.models import Chair, OpeningHours
from tests.sustain import clinic_builders
from tests.sustain.second_factor import signed_in

TODAY = dt.date(2026, 11, 23)  # a Monday


@receiver(connection_created)
def _let_the_test_runner_flush(sender: object, connection: BaseDatabaseWrapper, **kwargs) -> None:
    """pytest-django empties PostgreSQL test databases with TRUNCATE between transactional
    tests; the append-only tables' TRUNCATE trigger lets that through only in a test_...
    database on a connection that set sustain.test_flush (accounts migration 0008)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET sustain.test_flush = 'on'")


@pytest.fixture(autouse=True)
def _anchor_file(settings: pytest.FixtureRequest, tmp_path) -> None:
    """Each test its own anchor file (sustain.accounts.chain), never the install's."""
    settings.SUSTAIN_AUDIT_ANCHOR_PATH = tmp_path / "audit-anchors.jsonl"


@pytest.fixture(autouse=True)
def _fast_hasher(settings: pytest.FixtureRequest) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_site(name: str, tz: str, chairs: int) -> Site:
    site = Site.objects.create(name=name, timezone=tz)
    for weekday in range(5):
        OpeningHours.objects.create(
            site=site, weekday=weekday, opens=dt.time(8), closes=dt.time(18)
        )
    for n in range(1, chairs + 1):  # the last chair reclines fully, for long infusions
        extended = ["extended"] if n == chairs else []
        Chair.objects.create(site=site, name=f"Chair {n}", capabilities=extended)
    return site


@pytest.fixture
def north(db: None) -> Site:
    return make_site("North Clinic", "America/New_York", chairs=2)


@pytest.fixture
def south(db: None) -> Site:
    return make_site("South Clinic", "America/Chicago", chairs=1)


def make_user(username: str, role: str | None, site: Site) -> User:
    user = User.objects.create_user(
        username=username, password="not-used-in-tests", email=f"{username}@example.org"
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    Membership.objects.create(user=user, site=site)
    return user


@pytest.fixture
def ada(north: Site) -> User:
    return make_user("ada", "prescriber", north)


@pytest.fixture
def ben(north: Site) -> User:
    return make_user("ben", "nurse", north)


@pytest.fixture
def sam(north: Site) -> User:
    return make_user("sam", "scheduler", north)


@pytest.fixture
def alex(north: Site) -> User:
    return make_user("alex", "clinic_admin", north)


@pytest.fixture
def ivy(north: Site) -> User:
    return make_user("ivy", "auditor", north)


@pytest.fixture
def nora(north: Site) -> User:
    return make_user("nora", None, north)


@pytest.fixture
def carl(south: Site) -> User:
    return make_user("carl", "prescriber", south)


@pytest.fixture
def pat(north: Site, sam: User) -> Patient:
    return services.register_patient(
        by=sam,
        site=north,
        given_name="Pat",
        family_name="Quinn",
        date_of_birth=dt.date(1980, 5, 17),
        sex="female",
        phone="555-0100",
        email="pat@example.com",
        primary_condition="depression",
        weight_kg=Decimal("70.0"),
        # The clinic's default rule needs a height for the BMI (adjusted weight from BMI 30);
        # at 165 cm Pat's BMI is 25.7, so she is dosed on her actual weight.
        height_cm=Decimal("165.0"),
        today=TODAY,
        now=dt.datetime.combine(TODAY, dt.time(14), tzinfo=dt.UTC),  # 9:00 in New York
    )


@pytest.fixture
def stocked(north: Site, alex: User) -> list[Container]:
    """North's ketamine: three 500 mg vials (50 mg/mL, 10 mL) received into its safe on TODAY
    (tests/sustain/clinic_builders.stock); an infusion at North draws from them."""
    return clinic_builders.stock(north, alex, on=TODAY)


@pytest.fixture
def login() -> Callable[[User], Client]:
    def _login(user: User) -> Client:
        client = Client()
        signed_in(user, client)
        return client

    return _login
