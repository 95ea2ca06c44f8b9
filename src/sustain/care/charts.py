"""Server-rendered SVG charts: the same markup serves a web page and, later, a PDF."""

import datetime as dt
from collections.abc import Sequence
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 16, 36
PHQ9_MAX = 27
# PHQ-9 severity bands [Kroenke2001]: lower bound, label, fill.
BANDS = ((0, "minimal", "#eef7ee"), (5, "mild", "#f6f8e8"), (10, "moderate", "#fdf3e1"),
         (15, "mod. severe", "#fce8df"), (20, "severe", "#f9dcdc"))  # fmt: skip


def phq9_chart(
    scores: Sequence[tuple[dt.datetime, int]], infusions: Sequence[dt.datetime], *, title: str
) -> str:
    """An SVG line chart of PHQ-9 totals over time with a dashed marker per infusion."""
    instants = [t for t, _ in scores] + list(infusions)
    if not instants:
        return ""
    start, end = min(instants), max(instants)
    span = max((end - start).total_seconds(), 86400.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: dt.datetime) -> float:
        return LEFT + plot_w * (t - start).total_seconds() / span

    def y(score: float) -> float:
        return TOP + plot_h * (1 - score / PHQ9_MAX)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (low, label, fill) in enumerate(BANDS):
        high = BANDS[i + 1][0] if i + 1 < len(BANDS) else PHQ9_MAX
        parts.append(
            f'<rect x="{LEFT}" y="{y(high):.1f}" width="{plot_w}" '
            f'height="{y(low) - y(high):.1f}" fill="{fill}"/>'
            f'<text x="{WIDTH - RIGHT - 4}" y="{y(high) + 12:.1f}" text-anchor="end" '
            f'class="band">{label}</text>'
        )
    for tick in (0, 5, 10, 15, 20, 27):
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" class="tick">'
            f"{tick}</text>"
        )
    for t in infusions:
        parts.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{TOP}" y2="{TOP + plot_h}" '
            f'class="infusion"><title>Infusion {t:%Y-%m-%d}</title></line>'
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
            f"<title>{t:%Y-%m-%d}: PHQ-9 {s}</title></circle>"
            for t, s in scores
        )
    parts.append("</svg>")
    return "".join(parts)
