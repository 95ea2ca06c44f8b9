"""Server-rendered SVG charts: the same markup serves a web page and, its styles put inside it
(with_style), a PDF."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape

from django.utils.safestring import SafeString, mark_safe

from sustain_core.instruments import Instrument
from sustain_core.numbers import plain

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 16, 36
BAND_FILLS = ("#eef7ee", "#f6f8e8", "#fdf3e1", "#fce8df", "#f9dcdc", "#f5d0d0")
# The trajectory chart's styles of the web page (static/sustain.css, svg.chart), for a PDF.
TRAJECTORY_STYLE = (
    ".line{fill:none;stroke:#1f5fa8;stroke-width:2}"
    ".point{fill:#fff;stroke:#1f5fa8;stroke-width:1.5}"
    ".infusion{stroke:#7a4bb3;stroke-dasharray:4 4;stroke-width:1.2}"
    ".booster{stroke:#b36b00;stroke-dasharray:2 3;stroke-width:1.2}"
    ".phase{fill:#7a4bb3;opacity:.08}.tick,.band{font-size:11px;fill:#555}"
    ".response{stroke:#3d6b00;stroke-dasharray:6 3;stroke-width:1}"
    ".remission{stroke:#1e7b34;stroke-width:1}"
    ".partial{stroke:#b36b00;stroke-dasharray:2 4;stroke-width:1}"
)


def with_style(chart: SafeString, css: str) -> SafeString:
    """The chart for a PDF, its styles (`css`, our own rules) inside it as the SVG's first
    child: WeasyPrint draws an inline SVG with the SVG's own stylesheet only, not the page's
    (without it a class-styled line is drawn as a filled black shape). Not for a web page, where
    an SVG's style element would style the whole document. No chart (an empty string) stays
    empty."""
    head, end, rest = str(chart).partition(">")
    if not end:
        return chart
    return mark_safe(f"{head}{end}<style>{css}</style>{rest}")  # noqa: S308 - our own markup


@dataclass(frozen=True)
class Marker:
    at: dt.datetime
    label: str
    booster: bool = False


def trajectory_chart(
    instrument: Instrument,
    scores: Sequence[tuple[dt.datetime, Decimal]],
    infusions: Sequence[Marker],
    *,
    induction: tuple[dt.datetime, dt.datetime] | None = None,
    response_line: int | Decimal | None = None,
    remission_line: int | Decimal | None = None,
    partial_line: int | Decimal | None = None,
) -> SafeString:
    """An SVG line chart of one instrument's scores over time.

    Severity bands come from the instrument definition; dashed lines mark infusions (boosters
    dotted); the induction phase is shaded; optional horizontal lines mark the response level
    (the baseline less the protocol's response fraction: half of it at 50 %, 70 % of it for
    PTSD's 30 %), the partial-response level and the remission threshold.
    """
    instants = [t for t, _ in scores] + [m.at for m in infusions]
    if not instants:
        return SafeString("")
    start, end = min(instants), max(instants)
    span = max((end - start).total_seconds(), 86400.0)
    top_value = float(instrument.total_max)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: dt.datetime) -> float:
        return LEFT + plot_w * (t - start).total_seconds() / span

    def y(value: float | Decimal) -> float:
        return TOP + plot_h * (1 - float(value) / top_value)

    title = f"{instrument.short_title} over time"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]
    bands = instrument.bands
    for i, (band, fill) in enumerate(zip(bands, BAND_FILLS, strict=False)):
        low = float(band.low)
        high = float(bands[i + 1].low) if i + 1 < len(bands) else top_value
        parts.append(
            f'<rect x="{LEFT}" y="{y(high):.1f}" width="{plot_w}" height="{y(low) - y(high):.1f}" '
            f'fill="{fill}"/><text x="{WIDTH - RIGHT - 4}" y="{y(high) + 12:.1f}" '
            f'text-anchor="end" class="band">{escape(band.label)}</text>'
        )
    if induction is not None:
        x0, x1 = x(induction[0]), x(induction[1])
        parts.append(
            f'<rect x="{x0:.1f}" y="{TOP}" width="{max(x1 - x0, 1):.1f}" height="{plot_h}" '
            f'class="phase"><title>Induction</title></rect>'
        )
    for tick in sorted({float(instrument.total_min), top_value / 2, top_value}):
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" class="tick">'
            f"{tick:g}</text>"
        )
    for value, css, label in (
        (response_line, "response", "response level"),
        (partial_line, "partial", "partial-response level"),
        (remission_line, "remission", "remission threshold"),
    ):
        if value is not None:
            parts.append(
                f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                f'class="{css}"><title>{label} {plain(value)}</title></line>'
            )
    for marker in infusions:
        css = "booster" if marker.booster else "infusion"
        parts.append(
            f'<line x1="{x(marker.at):.1f}" x2="{x(marker.at):.1f}" y1="{TOP}" '
            f'y2="{TOP + plot_h}" class="{css}"><title>{escape(marker.label)} '
            f"{marker.at:%Y-%m-%d}</title></line>"
        )
    for t, anchor in ((start, "start"), (end, "end")):
        parts.append(
            f'<text x="{x(t):.1f}" y="{HEIGHT - 12}" text-anchor="{anchor}" class="tick">'
            f"{t:%d %b}</text>"
        )
    if scores:
        points = " ".join(f"{x(t):.1f},{y(s):.1f}" for t, s in scores)
        parts.append(f'<polyline points="{points}" class="line"/>')
        parts.extend(
            f'<circle cx="{x(t):.1f}" cy="{y(s):.1f}" r="4" class="point">'
            f"<title>{t:%Y-%m-%d}: {escape(instrument.short_title)} {plain(s)}</title></circle>"
            for t, s in scores
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers and escaped text only
