"""Order statistics for run summaries."""
import math
import statistics


def percentile(values, p):
    """Return the p-th percentile by the nearest-rank method, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(values):
    """Median, min and max of the values that are not None."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    return {"median": statistics.median(present), "min": min(present), "max": max(present),
            "n": len(present)}
