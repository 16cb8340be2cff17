"""A dashboard or a tile as data and charts for a time range, usable outside a request (the reports app renders
the same pictures into PDFs): `dashboard_render(...)` -> [TileResult], each with its TimeSeries, a
`chatapp.kernel.charts.Chart` and, for "number" tiles, the value and its change against the previous period.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from analytics.metrics import Metric, MetricInputError, catalogue, metric_series, summarize
from analytics.timeseries import TimeSeries
from chatapp.kernel.charts import Chart, Series, render_svg


@dataclass(frozen=True)
class TileSpec:
    """What a tile shows: a stored Tile or an entry of a built-in definition."""

    title: str
    metric: str
    chart: str = "line"
    interval: str = "day"
    range_days: int | None = None
    breakdown: str = ""
    filters: dict = field(default_factory=dict)
    id: int | None = None

    @classmethod
    def of(cls, tile) -> "TileSpec":
        if isinstance(tile, TileSpec):
            return tile
        if isinstance(tile, dict):
            return cls(**tile)
        return cls(tile.title, tile.metric, tile.chart, tile.interval, tile.range_days, tile.breakdown,
                   tile.filters or {}, tile.pk)  # fmt: skip


@dataclass
class TileResult:
    tile: TileSpec
    metric: Metric | None
    start: datetime
    end: datetime
    series: TimeSeries | None = None
    value: float | None = None
    previous: float | None = None
    error: str = ""

    @property
    def change(self) -> float | None:
        if self.value is None or not self.previous:
            return None
        return round(100 * (self.value - self.previous) / abs(self.previous), 1)

    @property
    def is_empty(self) -> bool:
        return self.series is None or not any(v for values in self.series.series.values() for v in values if v)

    def chart(self, *, width: int = 640, height: int = 280) -> Chart | None:
        """The picture (None for number tiles and tables, which are drawn as text)."""
        if self.series is None or self.tile.chart in ("number", "table"):
            return None
        kind = "line" if self.tile.chart == "line" else ("stacked_bar" if len(self.series.series) > 1 else "bar")
        return Chart(
            kind=kind, title="", x_labels=self.series.labels, unit=self.series.unit, width=width, height=height,
            series=[Series(name or (self.metric.title if self.metric else ""), list(values))
                    for name, values in self.series.series.items()],
        )  # fmt: skip

    def svg(self, **size) -> str:
        chart = self.chart(**size)
        return render_svg(chart) if chart is not None else ""

    def as_dict(self) -> dict:
        return {
            "tile": {"id": self.tile.id, "title": self.tile.title, "metric": self.tile.metric,
                     "chart": self.tile.chart, "interval": self.tile.interval, "breakdown": self.tile.breakdown,
                     "filters": self.tile.filters, "range_days": self.tile.range_days},
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "value": self.value, "previous": self.previous, "change_percent": self.change,
            "empty": self.is_empty, "error": self.error,
            "data": self.series.as_dict() if self.series is not None else None,
        }  # fmt: skip


def tile_render(tile, *, org, start: datetime, end: datetime, default_range_days: int | None = None) -> TileResult:
    """One tile over [start, end) (or its own range ending at `end`). A tile whose metric is unknown or cannot
    answer is returned with `error` set rather than raising, so one bad tile never blanks a dashboard."""
    spec = TileSpec.of(tile)
    if spec.range_days:
        start = end - timedelta(days=spec.range_days)
    metric = catalogue[spec.metric] if spec.metric in catalogue else None  # noqa: SIM401 -- a Registry has no get
    result = TileResult(spec, metric, start, end)
    if metric is None:
        result.error = f"The metric {spec.metric!r} is not available."
        return result
    try:
        result.series = metric_series(spec.metric, org=org, start=start, end=end, interval=spec.interval,
                                      breakdown=spec.breakdown, filters=spec.filters)  # fmt: skip
        if spec.chart == "number":
            result.value = summarize(metric, result.series)
            previous = metric_series(
                spec.metric,
                org=org,
                start=start - (end - start),
                end=start,
                interval=spec.interval,
                breakdown=spec.breakdown,
                filters=spec.filters,
            )
            result.previous = summarize(metric, previous)
    except MetricInputError as exc:
        result.error = str(exc)
    return result


def dashboard_render(dashboard, *, org, start: datetime, end: datetime, tiles=None) -> list[TileResult]:
    """Every tile of a dashboard (a Dashboard, or a built-in definition dict) over [start, end)."""
    if tiles is None:
        if isinstance(dashboard, dict):
            tiles = dashboard["tiles"]
        else:
            from analytics.selectors import dashboard_tiles

            tiles = list(dashboard_tiles(dashboard=dashboard))
    return [tile_render(tile, org=org, start=start, end=end) for tile in tiles]


def tile_csv_rows(result: TileResult):
    """The tile's data as CSV rows: a header of series names, then one row per x label."""
    if result.series is None:
        return [["error"], [result.error]]
    names = list(result.series.series)
    rows = [["bucket", *[name or result.tile.title for name in names]]]
    for i, label in enumerate(result.series.labels):
        bucket = result.series.buckets[i].isoformat() if result.series.buckets else label
        rows.append([bucket, *[result.series.series[name][i] for name in names]])
    return rows
