"""Batch intake of the waitlist with CP-SAT, booked through the ordinary service (item 9)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from sustain.care import services as care
from sustain.scheduling.models import Appointment
from sustain.scheduling.services import OCCUPYING
from tests.sustain.scheduling.test_booking import overlapping_pairs

pytestmark = pytest.mark.solver

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def waiting(north, ada, sam):
    courses = []
    for n in range(3):
        patient = care.register_patient(
            by=sam, site=north, given_name=f"W{n}", family_name="Wait", sex="unknown",
            date_of_birth=dt.date(1980, 1, 1), phone="", email="", primary_condition="depression",
            weight_kg=Decimal("70"), today=NOW.date(),
        )  # fmt: skip
        courses.append(
            care.enrol_patient(
                patient=patient, protocol_key="depression-induction", protocol_version=1, by=ada
            )
        )
    return courses


@time_machine.travel(NOW, tick=False)
def test_waitlist_is_placed_and_booked(north, sam, waiting, capsys):
    call_command(
        "place_waitlist", "--site", str(north.pk), "--seconds", "2", "--book", "--by", "sam"
    )
    out = capsys.readouterr().out.splitlines()
    visits = list(Appointment.objects.filter(status__in=OCCUPYING))
    assert out[0] == "3 waiting series at North Clinic"
    assert out[2].endswith("0 unplaced, booked")
    assert len(visits) == 18
    assert overlapping_pairs(visits) == []
    for course in waiting:
        assert course.appointments.count() == 6


def test_booking_needs_a_scheduler(north, ben, waiting):
    with pytest.raises(CommandError):
        call_command("place_waitlist", "--site", str(north.pk), "--book", "--by", "ben")
