"""Charts drawn on the server, one picture everywhere: dashboards (SVG inline in the page), report PDFs (SVG,
which WeasyPrint draws) and emails (PNG, since mail clients do not show SVG).

pygal draws the SVG with `js=[]` so the picture references no script and no CDN; cairosvg turns the same SVG
into PNG. Callers describe a chart with `Chart` and never touch pygal, so the look is set in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import pygal
from pygal.style import Style

ChartKind = Literal["line", "bar", "stacked_bar", "pie"]

# Colour-blind-safe palette (Okabe-Ito), readable on white paper and screens.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

_STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#333333",
    foreground_strong="#111111",
    foreground_subtle="#888888",
    colors=PALETTE,
    font_family="DejaVu Sans, Helvetica, Arial, sans-serif",
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=11,
    title_font_size=14,
    value_font_size=10,
)

# pygal inlines its config as a <script> even with js=[]: nothing reads it without pygal's JS, and a page's CSP
# or a mail client would block it anyway, so it is cut out.
_INLINE_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)

_KINDS = {"line": pygal.Line, "bar": pygal.Bar, "stacked_bar": pygal.StackedBar, "pie": pygal.Pie}


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]


@dataclass(frozen=True)
class Chart:
    """What to draw: a kind, x labels (one per value) and one or more series of the same length."""

    kind: ChartKind
    title: str = ""
    x_labels: list[str] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    unit: str = ""
    width: int = 640
    height: int = 280

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"unknown chart kind {self.kind!r}; one of {', '.join(_KINDS)}")
        for s in self.series:
            if self.x_labels and len(s.values) != len(self.x_labels):
                raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(self.x_labels)} labels")


def _pygal_chart(chart: Chart):
    # Show at most ~12 x labels so dense series (90 days, 24 hours) stay legible.
    step = max(1, len(chart.x_labels) // 12)
    config = pygal.Config(
        js=[],
        style=_STYLE,
        width=chart.width,
        height=chart.height,
        title=chart.title or None,
        show_legend=len(chart.series) > 1 or chart.kind == "pie",
        legend_at_bottom=True,
        x_label_rotation=0,
        show_minor_x_labels=False,
        truncate_label=-1,
        print_values=False,
        explicit_size=True,
        no_data_text="No data for this period",
        value_formatter=(lambda v: f"{v:,.4g}{chart.unit}") if chart.unit else (lambda v: f"{v:,.4g}"),
    )
    drawn = _KINDS[chart.kind](config)
    if chart.kind != "pie":
        drawn.x_labels = chart.x_labels
        drawn.x_labels_major = chart.x_labels[::step]
    for s in chart.series:
        drawn.add(s.name, s.values)
    return drawn


def render_svg(chart: Chart) -> str:
    """The chart as a standalone SVG document (no scripts, no external references)."""
    return _INLINE_SCRIPT.sub("", _pygal_chart(chart).render(is_unicode=True))


def render_png(chart: Chart, *, scale: float = 2.0) -> bytes:
    """The same picture as PNG for email bodies (rendered at `scale` for sharp text on high-DPI screens)."""
    import cairosvg  # imported here: only email rendering needs cairo

    return cairosvg.svg2png(bytestring=render_svg(chart).encode(), scale=scale)


def sparkline_svg(values: list[float | None], *, width: int = 120, height: int = 28) -> str:
    """A tiny trend line without axes, for tables of metrics."""
    line = pygal.Line(
        js=[],
        style=_STYLE,
        width=width,
        height=height,
        explicit_size=True,
        show_legend=False,
        show_x_labels=False,
        show_y_labels=False,
        show_dots=False,
        margin=1,
        spacing=0,
        show_x_guides=False,
        show_y_guides=False,
    )
    line.add("", values)
    return _INLINE_SCRIPT.sub("", line.render(is_unicode=True))
