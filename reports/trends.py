"""Trend analysis of a metric's recent periods: change, slope and direction, the usual band, plain sentences.

Pure functions of lists of numbers, so their answers can be checked by hand (tests/reports/test_trends.py).
"""

from dataclasses import dataclass
from statistics import median

# A trend is "flat" when the fitted slope moves the value by less than this share of its mean per period.
FLAT_SLOPE_SHARE = 0.02
BAND_WINDOW = 8  # periods the usual band is computed from
BAND_WIDTH = 3.0  # in MADs either side of the median


def change_pct(current: float, previous: float) -> float | None:
    """Change in percent against the previous value; None when there is nothing to compare with (previous 0)."""
    if not previous:
        return None
    return (current - previous) / abs(previous) * 100.0


def slope(values: list[float]) -> float:
    """Least-squares slope per step of `values` (0 for fewer than two values)."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    num = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    den = sum((x - mean_x) ** 2 for x in range(n))
    return num / den


def direction(values: list[float]) -> str:
    """rising, falling or flat, judged by the slope relative to the series' mean."""
    s = slope(values)
    scale = abs(sum(values) / len(values)) if values else 0.0
    if scale == 0.0:
        return "flat" if s == 0 else ("rising" if s > 0 else "falling")
    if abs(s) < FLAT_SLOPE_SHARE * scale:
        return "flat"
    return "rising" if s > 0 else "falling"


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    median: float
    mad: float


def usual_band(history: list[float], *, width: float = BAND_WIDTH, window: int = BAND_WINDOW) -> Band | None:
    """median ± width x MAD of the last `window` values of `history`; None below 3 values."""
    history = history[-window:]
    if len(history) < 3:
        return None
    m = median(history)
    mad = median(abs(v - m) for v in history)
    return Band(low=m - width * mad, high=m + width * mad, median=m, mad=mad)


def outside(value: float, band: Band | None) -> str:
    """'high', 'low' or '' (inside, or no band). A MAD of 0 means any different value is unusual."""
    if band is None:
        return ""
    if value > band.high:
        return "high"
    if value < band.low:
        return "low"
    return ""


@dataclass(frozen=True)
class Analysis:
    value: float
    previous: float | None
    change_pct: float | None
    slope: float
    direction: str
    flag: str  # "high", "low" or ""
    band: Band | None
    findings: list[str]


PERIOD_WORDS = {"day": "day over day", "week": "week over week", "month": "month over month",
                "quarter": "quarter over quarter", "custom": "against the previous period"}  # fmt: skip


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def analyse(title: str, periods: list[float], *, period: str = "week") -> Analysis:
    """`periods` are the metric's values for consecutive periods, the current one last."""
    if not periods:
        raise ValueError("no periods to analyse")
    value, history = periods[-1], periods[:-1]
    previous = history[-1] if history else None
    change = change_pct(value, previous) if previous is not None else None
    band = usual_band(history)
    flag = outside(value, band)
    findings = []
    if change is not None and round(change) != 0:
        verb = "rose" if change > 0 else "fell"
        findings.append(f"{title} {verb} {abs(change):.0f} % {PERIOD_WORDS.get(period, PERIOD_WORDS['custom'])}.")
    elif previous is not None:
        findings.append(f"{title} held steady at {_number(value)}.")
    if flag:
        findings.append(
            f"{title} was unusually {flag} at {_number(value)} (usual range "
            f"{_number(max(band.low, 0))}-{_number(band.high)})."
        )
    trend = direction(periods)
    if len(periods) >= 4 and trend != "flat":
        findings.append(f"{title} has been {trend} over the last {len(periods)} periods.")
    return Analysis(value, previous, change, slope(periods), trend, flag, band, findings)


def unusual_buckets(values: list[float], labels: list[str], *, title: str, history: list[float]) -> list[str]:
    """Sentences for the buckets of the current period (e.g. its days) outside the band of `history` (the same
    buckets of earlier periods): "Messages posted on Tuesday were unusually low (3)."""
    band = usual_band(history, window=len(history))
    found = []
    for value, label in zip(values, labels, strict=True):
        flag = outside(value, band)
        if flag:
            found.append(f"{title} on {label} were unusually {flag} ({_number(value)}).")
    return found
