"""An infusion as given, as the plasma model's schedule (sustain_core.pk), and its curve for
the chair-side record and its PDF (issue 17, item 5).

From the record: the dose drawn and the bag it was made up in (mg per mL: the dose over the
bag's final volume, or its nominal volume for a record from before the bag convention was
kept), the patient's dosing weight, the pump rate programmed at the start, the start, and the
record's events in time order:
- a stop pauses the infusion and a prescriber's resume restarts it at the rate it ran at;
- a pump rate change starts a new rate. Its detail is the nurse's free text (the service stores
  it as typed): only a text naming exactly one rate as a number with "mL/h" (the pump's unit)
  or "mg/h" is read; any other text is not guessed at, and the page says the model kept the
  previous rate.
- the end of the infusion ends it. While an infusion runs (or when it was never ended) the
  model lets the pump run on at its last rate and says it is projected.
The pump stops when the bag is empty: the stretches are cut where they have given the dose
drawn (a pump rate rounded to 0.1 mL/h empties the bag a little early or late).

A model, not a measurement, and the page says so.
"""

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sustain.care import pk_chart
from sustain.infusion.enums import EventKind
from sustain.infusion.models import ChairsideRecord, InfusionEvent, InfusionRecord
from sustain_core import pk
from sustain_core.errors import ClinicalValueError
from sustain_core.numbers import plain

# One rate: a number and mL/h or mg/h ("75 mL/h", "to 12.5 mg/hr"). A text with two is not read.
RATE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(ml|mg)\s*/\s*h(?:r|our)?\b", re.IGNORECASE)


@dataclass(frozen=True)
class GivenSchedule:
    """The infusion as given, in minutes from its start: ``segments`` for sustain_core.pk, the
    dosing ``weight_kg``, and ``notes``: what the model assumed (a projection, the bag running
    empty) or could not read (a rate change's text)."""

    segments: tuple[pk.Segment, ...]
    weight_kg: Decimal
    notes: tuple[str, ...]


def read_rate(detail: str, *, mg_per_ml: Decimal) -> Decimal | None:
    """The rate (mg/min) a rate change's text names, or None when it names none or several."""
    found = RATE.findall(detail)
    if len(found) != 1:
        return None
    number, unit = found[0]
    per_hour = Decimal(number) * (mg_per_ml if unit.lower() == "ml" else 1)
    return per_hour / 60


def _minutes(start: dt.datetime, at: dt.datetime) -> Decimal:
    return Decimal(str((at - start).total_seconds())) / 60


def record_schedule(
    *,
    given: InfusionRecord,
    record: ChairsideRecord,
    events: Sequence[InfusionEvent],
    tz: dt.tzinfo,
) -> GivenSchedule:
    """The schedule of the infusion as given (see the module's docstring).

    Raises ClinicalValueError naming ``record`` when the infusion has not started."""
    start = record.started_at
    if start is None:
        raise ClinicalValueError("record", "the infusion has not started")
    volume = given.final_volume_ml or given.bag_volume_ml
    mg_per_ml = given.dose_mg / volume
    rate = given.pump_rate_ml_per_h * mg_per_ml / 60
    notes: list[str] = []
    pieces: list[tuple[Decimal, Decimal | None, Decimal]] = []
    running, since = True, Decimal(0)
    end = record.ended_at
    for event in sorted(events, key=lambda e: (e.at, e.pk)):
        if event.at < start or (end is not None and event.at >= end):
            continue
        at = _minutes(start, event.at)
        if event.kind == EventKind.STOP and running:
            pieces.append((since, at, rate))
            running = False
        elif event.kind == EventKind.RESUME and not running:
            running, since = True, at
        elif event.kind == EventKind.RATE_CHANGE:
            new = read_rate(event.detail, mg_per_ml=mg_per_ml)
            if new is None:
                notes.append(
                    f"The rate change at {event.at.astimezone(tz):%H:%M} (“{event.detail}”) "
                    "names no single rate in mL/h or mg/h: the model kept the rate before it."
                )
                continue
            if running:
                pieces.append((since, at, rate))
                since = at
            rate = new
    if running:
        pieces.append((since, None if end is None else _minutes(start, end), rate))
    return GivenSchedule(
        segments=_until_empty(pieces, given.dose_mg, notes),
        weight_kg=given.weight_kg,
        notes=tuple(notes),
    )


def _until_empty(
    pieces: list[tuple[Decimal, Decimal | None, Decimal]], dose_mg: Decimal, notes: list[str]
) -> tuple[pk.Segment, ...]:
    """The stretches cut where they have given ``dose_mg``; an open stretch (no end recorded)
    runs on until then."""
    segments: list[pk.Segment] = []
    left = dose_mg
    for since, recorded_until, rate in pieces:
        if left <= 0 or rate <= 0:
            continue
        empty_at = since + left / rate
        until = recorded_until
        if until is None:
            notes.append(
                f"Projected: the infusion has no recorded end, so the pump runs on at its last "
                f"rate until the bag is empty ({plain(round(empty_at, 1))} min from the start)."
            )
            until = empty_at
        elif empty_at < until:
            notes.append(
                f"The bag ran empty at {plain(round(empty_at, 1))} min from the start, before the "
                "recorded stop or end: the model stops the pump there."
            )
            until = empty_at
        if until > since:
            segments.append(pk.Segment(since, until, rate))
            left -= (until - since) * rate
    return tuple(segments)


def record_plasma(
    *,
    given: InfusionRecord | None,
    record: ChairsideRecord | None,
    events: Sequence[InfusionEvent],
    tz: dt.tzinfo,
) -> pk_chart.Plasma:
    """The modelled curve of the infusion as given, or the reason there is none."""
    if given is None or record is None or record.started_at is None:
        return pk_chart.no_curve("The model is drawn once the infusion has started.")
    try:
        schedule = record_schedule(given=given, record=record, events=events, tz=tz)
        if not schedule.segments:
            return pk_chart.no_curve("No plasma curve: the record shows no time at a rate.")
        curve = pk_chart.curve_for(schedule.weight_kg, schedule.segments)
    except ClinicalValueError as refused:
        return pk_chart.no_curve(f"No plasma curve for this record: {refused.message}.")
    given_mg = round(sum((s.mg for s in schedule.segments), Decimal(0)), 1)
    text = (
        f"At the dosing weight {plain(schedule.weight_kg)} kg, about {plain(given_mg)} mg "
        f"over {len(schedule.segments)} stretch{'es' if len(schedule.segments) > 1 else ''} "
        f"of infusion. {pk_chart.summary(curve)}"
    )
    return pk_chart.Plasma(
        chart=pk_chart.plasma_chart(curve, title="Modelled plasma ketamine, this infusion"),
        summary=" ".join((text, *schedule.notes)),
        model=f"{curve.model.title}: {curve.model.source}",
    )
