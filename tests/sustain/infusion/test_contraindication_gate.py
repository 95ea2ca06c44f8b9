"""An absolute contraindication found after induction began blocks every later infusion at the
chair (issue 11, item 2): the gate names it, the start is refused on the service, the web step
and the API, and a new screen without it opens the gate again."""

import datetime as dt
import json

import pytest
import time_machine
from django.test import Client

from sustain.care import protocol_versions
from sustain.care import services as care
from sustain.care.enums import Timepoint
from sustain.clinic import story
from sustain.infusion import chairside
from sustain.infusion import services as infusion
from sustain.infusion.models import InfusionRecord
from sustain.infusion.services import StepRefused
from sustain_core.protocols import split_sources
from tests.sustain import clinic_builders as build
from tests.sustain.second_factor import signed_in

pytestmark = pytest.mark.db

START = {"confirm": True}  # and the container_id of North's stock (build.vial)


def screen(course, by, at, *present: str) -> None:
    protocol = protocol_versions.protocol_for(course)
    items = [*protocol.contraindications_absolute, *protocol.contraindications_relative]
    care.sign_contraindication_screen(
        course=course, answers={item: item in present for item in items}, notes="", by=by,
        now=at,
    )  # fmt: skip


def test_a_later_screen_with_an_absolute_item_blocks_the_next_infusion(visits, ada, ben):
    first, second = visits[0], visits[1]
    build.give_infusion(first, ben, prescriber=ada)
    course = first.course
    pregnancy = next(
        item
        for item in protocol_versions.protocol_for(course).contraindications_absolute
        if item.startswith("Pregnancy")
    )
    screen(course, ada, second.starts_at - dt.timedelta(hours=20), pregnancy)
    before = second.starts_at - dt.timedelta(minutes=15)
    infusion.record_visit_assessment(
        appointment=second, instrument="phq9", answers=build.phq9(14),
        timepoint=Timepoint.PRE_INFUSION, by=ben, completed_at=before, now=before,
    )  # fmt: skip
    record = story.check_in_and_ready(second, ben, at=second.starts_at)
    start = second.starts_at + dt.timedelta(minutes=15)

    message = (
        f"an absolute contraindication is present ({split_sources(pregnancy).text}): no "
        "infusion until a prescriber signs a new contraindication screen without it"
    )
    assert [(f.item, f.message, f.resolvers) for f in chairside.gate(record, now=start)] == [
        ("contraindication", message, ())
    ]
    assert record.stage == "checking_in"
    with pytest.raises(StepRefused) as refused:
        chairside.start_infusion(
            record=record, container=build.vial(record.appointment.site), by=ben, now=start
        )
    assert refused.value.message == message
    with time_machine.travel(start, tick=False):
        client = Client()
        signed_in(ben, client)
        api = client.post(
            f"/api/v1/visits/{second.pk}/infusion/start",
            json.dumps(START | {"container_id": build.vial(second.site).pk}),
            content_type="application/json",
        )  # fmt: skip
        page = client.get(f"/visits/{second.pk}/infusion/").content.decode()
    assert (api.status_code, api.json()["error"]["message"]) == (409, message)
    assert "An" + message[2:] in page  # capitalised on the page
    assert InfusionRecord.objects.count() == 1

    # Not pregnant after all: the prescriber signs a new screen, and the gate opens.
    screen(course, ada, start)
    chairside.start_infusion(
        record=record, container=build.vial(record.appointment.site), by=ben,
        now=start + dt.timedelta(minutes=1),
    )  # fmt: skip
    assert InfusionRecord.objects.count() == 2
