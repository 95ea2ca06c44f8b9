"""The modelled plasma level of ketamine as a server-rendered SVG (sustain_core.pk): on a
protocol's page for its regimen at a reference 70 kg, and on a visit's chair-side record (and
its PDF) for the infusion as given. Styled with presentation attributes, not the site's CSS,
so the same markup prints in a PDF. Always labelled a model, beside the measured anchor."""

import math
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape

from django.utils.safestring import SafeString, mark_safe

from sustain_core import pk
from sustain_core.errors import ClinicalValueError
from sustain_core.numbers import plain
from sustain_core.protocols import Protocol

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 30, 36
# The protocol page draws its regimen for a reference adult (a convention, not a patient).
REFERENCE_WEIGHT_KG = Decimal("70")
# How long after the infusion ends the curve goes on (minutes).
AFTER_MINUTES = 120
POINTS = 240
INK, MUTED, CURVE, BAND, ANCHOR, INFUSING = (
    "#1f2933", "#52606d", "#1f5fa8", "#fdf3e1", "#9b3d00", "#ede6f6",
)  # fmt: skip
MODEL_NOTE = "Model, not a measurement"
ANCHOR_TEXT = (
    f"{pk.MEASURED_END_OF_INFUSION_NG_PER_ML} ng/mL measured at the end of 0.5 mg/kg over "
    "40 min [Zanos2018-T1]"
)
BAND_TEXT = (
    f"dissociative range {pk.DISSOCIATIVE_RANGE_NG_PER_ML[0]}–"
    f"{pk.DISSOCIATIVE_RANGE_NG_PER_ML[1]} ng/mL [Zanos2018-T1]"
)


@dataclass(frozen=True)
class Plasma:
    """A drawn curve and what the page says of it: ``chart`` (SVG), ``summary`` (the
    end-of-infusion level and the peak in words), ``model`` (its name and source). When no
    curve can be drawn, ``chart`` is empty and ``reason`` says why."""

    chart: SafeString
    summary: str
    model: str
    reason: str = ""


def no_curve(reason: str) -> Plasma:
    return Plasma(chart=SafeString(""), summary="", model="", reason=reason)


def _ng(value: float) -> str:
    return f"{value:.0f}"


def curve_for(weight_kg: Decimal, segments: tuple[pk.Segment, ...]) -> pk.PlasmaCurve:
    """The default model's curve from 0 to AFTER_MINUTES past the last segment's end."""
    horizon = float(segments[-1].end_min) + AFTER_MINUTES
    times = [horizon * i / POINTS for i in range(POINTS + 1)]
    return pk.plasma_curve(weight_kg=weight_kg, segments=segments, times_min=times)


def summary(curve: pk.PlasmaCurve) -> str:
    text = (
        f"The model puts the level at the end of the infusion ({curve.end_min:g} min) at "
        f"{_ng(curve.end_ng_per_ml)} ng/mL"
    )
    if curve.peak_at_min < curve.end_min:
        text += f", its peak {_ng(curve.peak_ng_per_ml)} ng/mL at {curve.peak_at_min:g} min"
    return (
        f"{text}; about {pk.MEASURED_END_OF_INFUSION_NG_PER_ML} ng/mL was measured at the end "
        "of 0.5 mg/kg over 40 min [Zanos2018-T1]."
    )


def plasma_chart(curve: pk.PlasmaCurve, *, title: str) -> SafeString:
    """An SVG of the modelled plasma level over minutes from the start: the infusion's
    stretches shaded, the dissociative range as a band, the measured 185 ng/mL as a dashed
    line, the end of the infusion marked, and "Model, not a measurement" with the model."""
    horizon = curve.times_min[-1]
    top_value = max(300.0, math.ceil(max(curve.ng_per_ml) * 1.1 / 50) * 50)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + plot_w * t / horizon

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top_value)

    label = f"{title}. {MODEL_NOTE}: {curve.model.title}"
    low, high = pk.DISSOCIATIVE_RANGE_NG_PER_ML
    anchor = pk.MEASURED_END_OF_INFUSION_NG_PER_ML
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" class="chart plasma" font-family="sans-serif">',
        f"<title>{escape(label)}</title>",
        f'<text x="{LEFT}" y="14" font-size="12" font-weight="bold" fill="{INK}">'
        f"{MODEL_NOTE}: {escape(curve.model.title)}</text>",
    ]
    for s in curve.segments:
        if s.mg_per_min > 0:
            parts.append(
                f'<rect x="{x(float(s.start_min)):.1f}" y="{TOP}" '
                f'width="{x(float(s.end_min)) - x(float(s.start_min)):.1f}" height="{plot_h}" '
                f'fill="{INFUSING}" opacity="0.6"><title>infusing {plain(s.start_min)}–'
                f"{plain(s.end_min)} min at {s.mg_per_min * 60:.2f} mg/h</title></rect>"
            )
    parts.append(
        f'<rect x="{LEFT}" y="{y(high):.1f}" width="{plot_w}" height="{y(low) - y(high):.1f}" '
        f'fill="{BAND}" opacity="0.7"><title>{escape(BAND_TEXT)}</title></rect>'
        f'<text x="{WIDTH - RIGHT - 4}" y="{y(high) + 12:.1f}" text-anchor="end" font-size="11" '
        f'fill="{MUTED}">{escape(BAND_TEXT)}</text>'
    )
    parts.append(
        f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(anchor):.1f}" y2="{y(anchor):.1f}" '
        f'stroke="{ANCHOR}" stroke-dasharray="6 3" stroke-width="1">'
        f"<title>{escape(ANCHOR_TEXT)}</title></line>"
        f'<text x="{LEFT + 4}" y="{y(anchor) - 4:.1f}" font-size="11" fill="{ANCHOR}">'
        f"{escape(ANCHOR_TEXT)}</text>"
    )
    for tick in sorted({0, low, high, int(top_value)}):
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{MUTED}">{tick}</text>'
        )
    step = 30 if horizon <= 240 else 60
    for t in range(0, int(horizon) + 1, step):
        parts.append(
            f'<text x="{x(t):.1f}" y="{HEIGHT - 18}" '
            f'text-anchor="{"end" if t >= horizon else "middle"}" font-size="11" '
            f'fill="{MUTED}">{t}</text>'
        )
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 4}" text-anchor="middle" font-size="11" '
        f'fill="{MUTED}">minutes from the start · ng/mL</text>'
    )
    points = " ".join(
        f"{x(t):.1f},{y(c):.1f}" for t, c in zip(curve.times_min, curve.ng_per_ml, strict=True)
    )
    parts.append(f'<polyline points="{points}" fill="none" stroke="{CURVE}" stroke-width="2.5"/>')
    parts.append(
        f'<circle cx="{x(curve.end_min):.1f}" cy="{y(curve.end_ng_per_ml):.1f}" r="4" '
        f'fill="#fff" stroke="{CURVE}" stroke-width="2"><title>end of the infusion, '
        f"{curve.end_min:g} min: {_ng(curve.end_ng_per_ml)} ng/mL (model)</title></circle>"
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers and escaped text only


def _reference_dose(protocol: Protocol) -> str:
    """The session at 70 kg in words, from the regimen's own figures (exact)."""
    regimen, kg = protocol.regimen, REFERENCE_WEIGHT_KG
    minutes = regimen.infusion_minutes
    if regimen.mg_per_kg is not None:
        return f"{plain(regimen.mg_per_kg * kg)} mg over {minutes} min"
    assert regimen.mg_per_kg_per_h is not None and regimen.cap_mg_per_h is not None  # noqa: S101
    per_hour = min(regimen.mg_per_kg_per_h * kg, regimen.cap_mg_per_h)
    return f"{plain(per_hour)} mg/h for {minutes} min, {plain(per_hour * minutes / 60)} mg"


def protocol_plasma(protocol: Protocol) -> Plasma:
    """The curve of one session of the protocol's regimen for a reference 70 kg adult, or the
    reason none is drawn (a regimen the model cannot take)."""
    try:
        segments = pk.regimen_schedule(protocol.regimen, weight_kg=REFERENCE_WEIGHT_KG)
        curve = curve_for(REFERENCE_WEIGHT_KG, segments)
    except ClinicalValueError as refused:
        return no_curve(f"No plasma curve for this regimen: {refused.message}.")
    return Plasma(
        chart=plasma_chart(curve, title=f"Modelled plasma ketamine, {protocol.title}"),
        summary=f"For a reference 70 kg adult ({_reference_dose(protocol)}). " + summary(curve),
        model=f"{curve.model.title}: {curve.model.source}",
    )
