import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django import template

from sustain_core import instruments, protocols

register = template.Library()


@register.filter
def plain(value: Decimal | int) -> str:
    """A Decimal without trailing zeros or exponent: 35.00 → "35", 350 → "350", 0.7230 → "0.723".

    Only the display changes; the value is not rounded.
    """
    return format(Decimal(value).normalize(), "f")


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
def words(key: str) -> str:
    """A stable key as words: "post_induction_2w" → "post induction 2w"."""
    return key.replace("_", " ")


@register.filter
def instrument_title(code: str) -> str:
    """An instrument code as its short title: "phq9" → "PHQ-9"."""
    return instruments.get_instrument(code).short_title


@register.filter
def regimen_text(protocol: protocols.Protocol) -> str:
    """A protocol's session dose in words (per session or per hour with its cap)."""
    regimen = protocol.regimen
    if regimen.kind == protocols.RegimenKind.PER_HOUR:
        text = (
            f"{regimen.mg_per_kg_per_h} mg/kg/h, at most {regimen.cap_mg_per_h} mg/h, "
            f"for {regimen.infusion_minutes} min"
        )
    else:
        text = f"{regimen.mg_per_kg} mg/kg over {regimen.infusion_minutes} min"
    return f"{text} in {protocol.bag_volume_ml} mL"


@register.filter
def weekday_names(days: Iterable[int]) -> str:
    """{0, 2, 4} → "Monday, Wednesday, Friday"."""
    names = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    return ", ".join(names[day] for day in sorted(days))
