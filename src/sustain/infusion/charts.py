"""The infusion day's vital signs as a server-rendered SVG: the same markup on the chair-side
page and, its styles put inside it (VITALS_STYLE), in the record's PDF (care.charts draws the
questionnaire trajectories alike)."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 40, 16, 12, 32
TOP_VALUE = 220  # mmHg and beats per minute share one axis, 0–220
SERIES = (
    ("systolic", "Systolic (mmHg)"),
    ("diastolic", "Diastolic (mmHg)"),
    ("heart_rate", "Heart rate (/min)"),
)
# The chart's styles in the record's PDF (care.charts.with_style: WeasyPrint draws an inline SVG
# with its own stylesheet only); the chair-side page has them from static/sustain.css.
VITALS_STYLE = (
    ".line{fill:none;stroke-width:2}.systolic{stroke:#1f5fa8}.diastolic{stroke:#6b8fc2}"
    ".heart_rate{stroke:#b36b00}.point{fill:#fff;stroke-width:1.5;stroke:#333}"
    ".threshold{stroke:#b42318;stroke-dasharray:4 3}.phase{fill:#7a4bb3;opacity:.08}"
    ".tick{font-size:9px;fill:#555}"
)


@dataclass(frozen=True)
class Reading:
    at: dt.datetime
    systolic: int
    diastolic: int
    heart_rate: int


def vitals_chart(
    readings: Sequence[Reading],
    *,
    started_at: dt.datetime | None,
    ended_at: dt.datetime | None,
    stop_systolic: int,
    stop_diastolic: int,
    stop_heart_rate: int,
    tz: dt.tzinfo,
) -> SafeString:
    """Blood pressure and heart rate over the visit, with the protocol's stop thresholds as
    dashed lines and the infusion shaded from its start to its end (or the last reading)."""
    if not readings:
        return SafeString("")
    instants = [r.at for r in readings] + [t for t in (started_at, ended_at) if t is not None]
    start, end = min(instants), max(instants)
    span = max((end - start).total_seconds(), 900.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: dt.datetime) -> float:
        return LEFT + plot_w * (t - start).total_seconds() / span

    def y(value: float) -> float:
        return TOP + plot_h * (1 - min(value, TOP_VALUE) / TOP_VALUE)

    title = "Blood pressure and heart rate"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{title}" class="chart vitals">',
        f"<title>{title}</title>",
    ]
    if started_at is not None:
        x0, x1 = x(started_at), x(ended_at or end)
        parts.append(
            f'<rect x="{x0:.1f}" y="{TOP}" width="{max(x1 - x0, 1):.1f}" height="{plot_h}" '
            f'class="phase"><title>Infusion</title></rect>'
        )
    for tick in (0, 60, 120, 180, 220):
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" class="tick">'
            f"{tick}</text>"
        )
    for value, label in (
        (stop_systolic, f"stop: systolic above {stop_systolic}"),
        (stop_diastolic, f"stop: diastolic above {stop_diastolic}"),
        (stop_heart_rate, f"stop: heart rate above {stop_heart_rate}"),
    ):
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'class="threshold"><title>{escape(label)}</title></line>'
        )
    for name, label in SERIES:
        points = [(r.at, getattr(r, name)) for r in readings]
        parts.append(
            f'<polyline points="{" ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)}" '
            f'class="line {name}"/>'
        )
        parts.extend(
            f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="3" class="point {name}">'
            f"<title>{t.astimezone(tz):%H:%M} {escape(label)} {v}</title></circle>"
            for t, v in points
        )
    for t, anchor in ((start, "start"), (end, "end")):
        parts.append(
            f'<text x="{x(t):.1f}" y="{HEIGHT - 10}" text-anchor="{anchor}" class="tick">'
            f"{t.astimezone(tz):%H:%M}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers and escaped text only
