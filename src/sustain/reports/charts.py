"""Server-rendered SVG charts of the outcomes page (the same markup in its PDF).

A Kaplan–Meier step curve with its 95 % band and the literature's points, and bars of
proportions with their Wilson intervals beside the studies' figures. Numbers and escaped text
only; no script.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape

from django.utils.safestring import SafeString, mark_safe

from sustain_core import cohort

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 150, 16, 40
CURVE, BAND, STUDY, AXIS = "#1f5f99", "#c9dcef", "#8a3b12", "#444"


@dataclass(frozen=True)
class LiteraturePoint:
    """A study's figure drawn on the curve: ``days`` after the last induction infusion, the
    proportion still without relapse (``survival``) and its label."""

    days: float
    survival: float
    label: str


def relapse_chart(
    curve: cohort.SurvivalCurve, points: Sequence[LiteraturePoint] = ()
) -> SafeString:
    """The proportion of responders still without relapse over days since the last induction
    infusion: a step curve, its 95 % band, censoring ticks, and each study's point."""
    last = max([s.days for s in curve.steps] + [p.days for p in points] + [7.0])
    span = last * 1.05
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(days: float) -> float:
        return LEFT + plot_w * days / span

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value)

    title = "Responders without relapse, by days since the last induction infusion"
    parts = [_open(title)]
    parts += _axes(plot_w, plot_h, "days since the last induction infusion")
    step = 7 if span <= 84 else 28
    for day in range(0, int(span) + 1, step):
        parts.append(
            f'<text x="{x(day):.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="10" '
            f'text-anchor="middle" fill="{AXIS}">{day}</text>'
        )
    # The band and the curve as steps: flat until each time, then down.
    upper, lower, line = [(0.0, 1.0)], [(0.0, 1.0)], [(0.0, 1.0)]
    value, low, high = 1.0, 1.0, 1.0
    for s in curve.steps:
        line += [(s.days, value), (s.days, s.survival)]
        upper += [(s.days, high), (s.days, s.high)]
        lower += [(s.days, low), (s.days, s.low)]
        value, low, high = s.survival, s.low, s.high
    end = curve.steps[-1].days if curve.steps else 0.0
    line.append((end, value))
    band = [*upper, (end, high), (end, low), *lower[::-1]]
    parts.append(
        f'<polygon points="{_points(band, x, y)}" fill="{BAND}" stroke="none">'
        "<title>95 % interval</title></polygon>"
    )
    parts.append(
        f'<polyline points="{_points(line, x, y)}" fill="none" stroke="{CURVE}" '
        'stroke-width="2"><title>This clinic (Kaplan–Meier)</title></polyline>'
    )
    for s in curve.steps:
        if s.censored:  # a tick where courses left follow-up without a relapse
            parts.append(
                f'<line x1="{x(s.days):.1f}" x2="{x(s.days):.1f}" y1="{y(s.survival) - 4:.1f}" '
                f'y2="{y(s.survival) + 4:.1f}" stroke="{CURVE}"><title>censored at '
                f"{s.days:g} days: {s.censored}</title></line>"
            )
    for p in points:
        parts.append(
            f'<circle cx="{x(p.days):.1f}" cy="{y(p.survival):.1f}" r="4.5" fill="{STUDY}">'
            f"<title>{escape(p.label)}</title></circle>"
            f'<text x="{x(p.days) + 7:.1f}" y="{y(p.survival) - 6:.1f}" font-size="10" '
            f'fill="{STUDY}">{escape(p.label)}</text>'
        )
    parts.append(_legend([(CURVE, "this clinic"), (BAND, "95 % interval"), (STUDY, "studies")]))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers and escaped text only


@dataclass(frozen=True)
class Bar:
    """One bar: a label, a proportion and, for the clinic's own, its interval."""

    label: str
    value: float
    low: float | None = None
    high: float | None = None
    ours: bool = False


def proportion_chart(title: str, bars: Sequence[Bar]) -> SafeString:
    """Horizontal bars of proportions (0–100 %), the clinic's with its Wilson interval as a
    whisker, the studies' plain."""
    if not bars:
        return SafeString("")
    row = 26
    height = TOP + row * len(bars) + BOTTOM
    label_w, plot_w = 230, WIDTH - 230 - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>'
    ]

    def x(value: float) -> float:
        return label_w + plot_w * value

    for n, bar in enumerate(bars):
        top = TOP + n * row
        fill = CURVE if bar.ours else STUDY
        parts.append(
            f'<text x="{label_w - 6}" y="{top + 15}" font-size="11" text-anchor="end" '
            f'fill="{AXIS}">{escape(bar.label)}</text>'
            f'<rect x="{label_w}" y="{top + 4}" width="{plot_w * bar.value:.1f}" height="14" '
            f'fill="{fill}"><title>{escape(bar.label)}: {bar.value * 100:.1f} %</title></rect>'
            f'<text x="{x(max(bar.value, bar.high or 0)) + 6:.1f}" y="{top + 15}" '
            f'font-size="10" fill="{AXIS}">{bar.value * 100:.1f} %</text>'
        )
        if bar.low is not None and bar.high is not None:
            mid = top + 11
            parts.append(
                f'<line x1="{x(bar.low):.1f}" x2="{x(bar.high):.1f}" y1="{mid}" y2="{mid}" '
                f'stroke="#111" stroke-width="1.5"/>'
                f'<line x1="{x(bar.low):.1f}" x2="{x(bar.low):.1f}" y1="{mid - 5}" '
                f'y2="{mid + 5}" stroke="#111"/>'
                f'<line x1="{x(bar.high):.1f}" x2="{x(bar.high):.1f}" y1="{mid - 5}" '
                f'y2="{mid + 5}" stroke="#111"/>'
            )
    base = TOP + row * len(bars)
    for tick in (0, 25, 50, 75, 100):
        parts.append(
            f'<line x1="{x(tick / 100):.1f}" x2="{x(tick / 100):.1f}" y1="{TOP}" y2="{base}" '
            f'stroke="#ddd"/><text x="{x(tick / 100):.1f}" y="{base + 14}" font-size="10" '
            f'text-anchor="middle" fill="{AXIS}">{tick} %</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers and escaped text only


def fraction(value: Decimal) -> float:
    """A study's Decimal proportion as a float for drawing."""
    return float(value)


def _open(title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>'
    )


def _axes(plot_w: float, plot_h: float, x_label: str) -> list[str]:
    parts = [
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" stroke="{AXIS}"/>',
        f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        f'stroke="{AXIS}"/>',
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" font-size="11" '
        f'text-anchor="middle" fill="{AXIS}">{escape(x_label)}</text>',
    ]
    for tick in (0, 25, 50, 75, 100):
        level = TOP + plot_h * (1 - tick / 100)
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{level:.1f}" y2="{level:.1f}" '
            f'stroke="#e5e5e5"/><text x="{LEFT - 6}" y="{level + 4:.1f}" font-size="10" '
            f'text-anchor="end" fill="{AXIS}">{tick} %</text>'
        )
    return parts


def _legend(items: Sequence[tuple[str, str]]) -> str:
    left = WIDTH - RIGHT + 12
    parts = []
    for n, (colour, label) in enumerate(items):
        top = TOP + 8 + n * 18
        parts.append(
            f'<rect x="{left}" y="{top}" width="12" height="10" fill="{colour}"/>'
            f'<text x="{left + 18}" y="{top + 9}" font-size="11" fill="{AXIS}">'
            f"{escape(label)}</text>"
        )
    return "".join(parts)


def _points(
    coordinates: Sequence[tuple[float, float]],
    x: Callable[[float], float],
    y: Callable[[float], float],
) -> str:
    return " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in coordinates)
