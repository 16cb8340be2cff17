"""Fixed-bucket latency histograms: cheap to record, additive across processes, quantiles by interpolation.

Every process counts durations into the same buckets, so merging two histograms is adding their counts (in memory,
then in the database with an additive upsert). A quantile is estimated by finding the bucket where the cumulative
count crosses it and interpolating linearly inside that bucket (the Prometheus `histogram_quantile` method). 100 ms
is a bucket bound on purpose: the SLO's "p95 < 100 ms" is then exact, not estimated.
"""

from bisect import bisect_left

# Upper bounds in milliseconds; the last bucket (index len(BOUNDS_MS)) holds everything slower.
BOUNDS_MS: tuple[float, ...] = (5, 10, 25, 50, 75, 100, 150, 250, 500, 1000, 2500, 5000, 10000)
BUCKETS = len(BOUNDS_MS) + 1
BUCKET_FIELDS: tuple[str, ...] = tuple(f"b{index}" for index in range(BUCKETS))


def bucket_of(duration_ms: float) -> int:
    """The index of the bucket a duration falls in (bounds are inclusive upper bounds, as Prometheus' `le`)."""
    return bisect_left(BOUNDS_MS, duration_ms)


def quantile(counts, q: float) -> float | None:
    """Estimate the q-quantile (0 < q < 1) in ms from bucket counts; None when there is nothing to estimate from.

    A quantile that lands in the overflow bucket is reported as the last bound (we cannot know more).
    """
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    cumulative = 0
    for index, count in enumerate(counts):
        if count and cumulative + count >= rank:
            if index >= len(BOUNDS_MS):
                return float(BOUNDS_MS[-1])
            lower = BOUNDS_MS[index - 1] if index else 0.0
            upper = BOUNDS_MS[index]
            return round(lower + (upper - lower) * (rank - cumulative) / count, 2)
        cumulative += count
    return float(BOUNDS_MS[-1])


def share_at_most(counts, bound_ms: float) -> float | None:
    """The share of observations at or under `bound_ms` (exact when it is a bucket bound)."""
    total = sum(counts)
    if total <= 0:
        return None
    index = bucket_of(bound_ms)
    return sum(counts[: index + 1]) / total
