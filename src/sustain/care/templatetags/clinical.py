import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django import template

from sustain.care import labels
from sustain.care.models import Patient
from sustain_core import dosing, instruments, measurement, numbers, protocols

register = template.Library()


@register.filter
def plain(value: Decimal | int | None, places: int | None = None) -> str:
    """A number as people write it (sustain_core.numbers.plain, the one formatter of every page,
    PDF, command and API answer): 35.00 → "35", 5E+1 → "50", 0.7230 → "0.723"; with an
    argument at least that many decimals, as a pump shows its rate: 150|plain:1 → "150.0".

    Only the display changes; the value is not rounded. No value (None) shows nothing.
    """
    return "" if value is None else numbers.plain(value, places=places)


@register.filter
def percent(fraction: Decimal) -> str:
    """A fraction as a percentage, exactly: 0.3 → "30", 0.125 → "12.5" (never rounded)."""
    return plain(Decimal(fraction) * 100)


@register.filter
def hours(value: dt.timedelta) -> str:
    """A duration in whole hours when it is one (48 h), else in minutes."""
    seconds = int(value.total_seconds())
    return f"{seconds // 3600} h" if seconds % 3600 == 0 else f"{seconds // 60} min"


@register.filter
def field_label(name: str) -> str:
    """A patient field's name as the forms label it: "date_of_birth" → "date of birth"."""
    return str(getattr(Patient._meta.get_field(name), "verbose_name", name))


@register.filter
def words(key: str) -> str:
    """A stable key as words: "post_induction_2w" → "post induction 2w"."""
    return key.replace("_", " ")


@register.filter
def instrument_title(code: str) -> str:
    """An instrument code as its short title: "phq9" → "PHQ-9"."""
    return instruments.get_instrument(code).short_title


@register.filter
def recall(code: str) -> str:
    """The period an instrument's questions ask about: "phq9" → "last 2 weeks"."""
    return instruments.get_instrument(code).recall


@register.filter
def recall_text(code: str) -> str:
    """What an instrument's questions recall and its source: "last 2 weeks: [Kroenke2001],
    clinical-facts §7" (sustain_core.instruments: unknown or unconfirmed, it says so)."""
    instrument = instruments.get_instrument(code)
    return f"{instrument.recall}: {instrument.recall_source}"


@register.filter
def regimen_text(protocol: protocols.Protocol) -> str:
    """A protocol's session dose in words (per session or per hour with its cap)."""
    regimen = protocol.regimen
    if regimen.kind == protocols.RegimenKind.PER_HOUR:
        text = (
            f"{plain(regimen.mg_per_kg_per_h)} mg/kg/h, at most {plain(regimen.cap_mg_per_h)} "
            f"mg/h, for {regimen.infusion_minutes} min"
        )
    else:
        text = f"{plain(regimen.mg_per_kg)} mg/kg over {regimen.infusion_minutes} min"
    bag = (
        "the drug's volume withdrawn from the bag first"
        if protocol.bag_convention == dosing.BagConvention.WITHDRAW
        else "the drug's volume added to the bag, the pump rate for the final volume"
    )
    return f"{text} in {plain(protocol.bag_volume_ml)} mL ({bag})"


@register.filter
def weekday_names(days: Iterable[int]) -> str:
    """{0, 2, 4} → "Monday, Wednesday, Friday"."""
    names = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    return ", ".join(names[day] for day in sorted(days))


@register.filter(name="label")
def label_filter(value: object) -> str:
    """A coded value in plain words (sustain.care.labels.label): "chronic_pain" → "Chronic
    pain"."""
    return labels.label(value)


@register.filter(name="protocol_name")
def protocol_name_filter(protocol: protocols.Protocol) -> str:
    """A protocol's title and version (sustain.care.labels.protocol_name)."""
    return labels.protocol_name(protocol)


@register.filter
def plain_item(item: str) -> str:
    """A protocol item without the sources written in it (sustain_core.protocols
    .split_sources): "Severe hepatic disease: avoid (grade C) [Cohen2018-GC]" → "Severe
    hepatic disease: avoid"."""
    return protocols.split_sources(item).text


@register.filter
def rule_when(rule: measurement.MeasurementRule) -> str:
    """When a measurement rule asks, in words (sustain.care.labels.measure_when)."""
    return labels.measure_when(rule)


@register.filter
def due_when(item: measurement.DueItem, protocol: protocols.Protocol | None) -> str:
    """A questionnaire's occasion in words (sustain.care.labels.due_when): "Before infusion
    3", never the rule's key."""
    return labels.due_when(protocol, item.rule, item.occasion)
