"""Batch intake of the waitlist with CP-SAT, booked through the ordinary service (item 9)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from sustain.care import services as care
from sustain.scheduling import staff
from sustain.scheduling.models import Appointment
from sustain.scheduling.services import OCCUPYING
from tests.sustain.conftest import make_user
from tests.sustain.scheduling.test_booking import overlapping_pairs
from tests.sustain.scheduling.test_staffing import put_on_shift

pytestmark = pytest.mark.solver

NOW = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def waiting(north, ada, sam):
    courses = []
    for n in range(3):
        patient = care.register_patient(
            by=sam, site=north, given_name=f"W{n}", family_name="Wait", sex="unknown",
            date_of_birth=dt.date(1980, 1, 1), phone="", email="", primary_condition="depression",
            weight_kg=Decimal("70"), today=NOW.date(), now=timezone.now(),
            confirm_duplicate=True,  # one family born one day: distinct people
        )  # fmt: skip
        courses.append(
            care.enrol_patient(
                patient=patient,
                protocol_key="depression-induction",
                protocol_version=1,
                by=ada,
                now=timezone.now(),
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
    # Asked for from Saturday, each patient alone would start on Monday: 2 days each, which
    # the batch meets, so it is proven best.
    assert out[3] == "proven bound: 0 unplaced, 6 days waited (gap 0 unplaced, 0 days)"
    assert len(visits) == 18
    assert overlapping_pairs(visits) == []
    for course in waiting:
        assert course.appointments.count() == 6


def test_booking_needs_a_scheduler(north, ben, waiting):
    with pytest.raises(CommandError):
        call_command("place_waitlist", "--site", str(north.pk), "--book", "--by", "ben")


@time_machine.travel(NOW, tick=False)
def test_the_waitlist_keeps_the_nurse_ratio_and_long_visits_in_extended_chairs(
    north, ada, ben, sam, waiting
):
    # One nurse at 1:1 while infusing and a prescriber, weekdays 8:00–18:00; a CRPS course
    # (5 h 20 min visits) waits too and may only use the extended chair.
    admin = make_user("alex", "clinic_admin", north)
    staff.set_phase_staffing(
        site=north, rules={"check_in": (2, False), "infusion": (1, True)}, by=admin, now=NOW
    )
    put_on_shift(
        north, nurse=ben, prescriber=ada, by=admin, until=dt.time(18), weeks=8,
        first=dt.date(2026, 11, 30),
    )  # fmt: skip
    patient = care.register_patient(
        by=sam, site=north, given_name="Long", family_name="Wait", sex="unknown",
        date_of_birth=dt.date(1980, 1, 1), phone="", email="", primary_condition="chronic_pain",
        weight_kg=Decimal("70"), today=NOW.date(), now=timezone.now(),
        confirm_duplicate=True,  # one family born one day: distinct people
    )  # fmt: skip
    crps = care.enrol_patient(
        patient=patient,
        protocol_key="crps-schwartzman-2009",
        protocol_version=1,
        by=ada,
        now=timezone.now(),
    )

    call_command(
        "place_waitlist", "--site", str(north.pk), "--seconds", "5", "--book", "--by", "sam"
    )

    visits = list(Appointment.objects.filter(status__in=OCCUPYING))
    assert len(visits) == 3 * 6 + 10
    assert overlapping_pairs(visits) == []
    assert {v.chair.name for v in crps.appointments.all()} == {"Chair 2"}
    end = NOW + dt.timedelta(days=70)
    assert [s for s in staff.site_profile(north, NOW, end) if s.short] == []


@time_machine.travel(NOW, tick=False)
def test_a_series_refused_meanwhile_books_none_of_the_batch(
    north, ada, sam, waiting, monkeypatch, capsys
):
    """Another scheduler books a visit into the plan's first slot while the plan is made: the
    batch is booked all or nothing, and the command answers in one line (no traceback)."""
    from sustain.scheduling import services  # noqa: PLC0415 - the module whose planner runs
    from sustain.scheduling.models import Chair  # noqa: PLC0415

    real = services.intake.plan_batch_cpsat

    def plan_then_someone_books(*args, **kwargs):
        plan = real(*args, **kwargs)
        last = max(plan.series)  # booked last, after the others were
        slot = plan.series[last][0]
        other = care.enrol_patient(
            patient=care.register_patient(
                by=sam, site=north, given_name="Walk", family_name="In", sex="unknown",
                date_of_birth=dt.date(1980, 1, 1), phone="", email="",
                primary_condition="depression", weight_kg=Decimal("70"), today=NOW.date(),
                now=timezone.now(),
            ),
            protocol_key="depression-induction", protocol_version=1, by=ada, now=timezone.now(),
        )  # fmt: skip
        services.book_visit(
            course=other, chair=Chair.objects.get(pk=slot.chair), starts_at=slot.start,
            by=sam, now=timezone.now(),
        )  # fmt: skip
        return plan

    monkeypatch.setattr(services.intake, "plan_batch_cpsat", plan_then_someone_books)

    with pytest.raises(CommandError) as refused:
        call_command(
            "place_waitlist", "--site", str(north.pk), "--seconds", "2", "--book", "--by", "sam"
        )

    assert str(refused.value).startswith("nothing was booked: ")
    assert str(refused.value).endswith("; run again")
    assert Appointment.objects.count() == 1  # the walk-in's visit only
