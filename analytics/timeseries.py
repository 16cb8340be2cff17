"""Time buckets and the series shape every metric returns."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

INTERVALS = ("hour", "day", "week", "month")
LABEL_FORMATS = {"hour": "%d %b %H:00", "day": "%d %b", "week": "%d %b", "month": "%b %Y"}


def bucket_start(moment: datetime, interval: str) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if interval == "hour":
        return moment
    moment = moment.replace(hour=0)
    if interval == "week":
        return moment - timedelta(days=moment.weekday())  # ISO weeks start on Monday
    if interval == "month":
        return moment.replace(day=1)
    return moment


def next_bucket(moment: datetime, interval: str) -> datetime:
    if interval == "hour":
        return moment + timedelta(hours=1)
    if interval == "day":
        return moment + timedelta(days=1)
    if interval == "week":
        return moment + timedelta(days=7)
    return (moment.replace(day=28) + timedelta(days=4)).replace(day=1)


def buckets(start: datetime, end: datetime, interval: str) -> list[datetime]:
    """The starts of the buckets that cover [start, end)."""
    found, moment = [], bucket_start(start, interval)
    while moment < end:
        found.append(moment)
        moment = next_bucket(moment, interval)
    return found


@dataclass
class TimeSeries:
    """x labels and one or more named series of the same length. `buckets` are the x values when they are times
    (a retention table has week offsets instead). A series named "" is the metric itself, unbroken down."""

    labels: list[str]
    series: dict[str, list[float | None]]
    buckets: list[datetime] = field(default_factory=list)
    unit: str = ""
    extra: dict = field(default_factory=dict)

    @classmethod
    def over(cls, bucket_list: list[datetime], interval: str, series: dict[str, list], unit: str = ""):
        return cls([b.strftime(LABEL_FORMATS[interval]) for b in bucket_list], series, bucket_list, unit)

    def as_dict(self) -> dict:
        return {
            "labels": self.labels,
            "buckets": [b.isoformat() for b in self.buckets],
            "series": [{"name": name, "values": values} for name, values in self.series.items()],
            "unit": self.unit,
            **({"extra": self.extra} if self.extra else {}),
        }
