"""Time-series helpers for the monitoring endpoint: ranges and downsampling. Pure."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["MAX_POINTS", "RANGES", "downsample"]

MAX_POINTS = 300

# time_range -> (seconds, stored resolution to read)
RANGES: dict[str, tuple[float, str]] = {
    "1h": (3600.0, "raw"),
    "24h": (86_400.0, "minute"),
    "7d": (7 * 86_400.0, "minute"),
    "30d": (30 * 86_400.0, "hour"),
}


def downsample(
    points: Sequence[tuple[float, dict[str, float]]],
    since: float,
    until: float,
    max_points: int = MAX_POINTS,
) -> list[tuple[float, dict[str, float]]]:
    """Average points into at most `max_points` equal buckets over [since, until]."""
    if len(points) <= max_points:
        return list(points)
    width = (until - since) / max_points
    buckets: dict[int, list[dict[str, float]]] = {}
    for ts, doc in points:
        index = min(max_points - 1, max(0, int((ts - since) // width)))
        buckets.setdefault(index, []).append(doc)
    out: list[tuple[float, dict[str, float]]] = []
    for index in sorted(buckets):
        docs = buckets[index]
        keys = {k for d in docs for k in d}
        out.append(
            (
                since + index * width,
                {k: round(sum(float(d.get(k, 0.0)) for d in docs) / len(docs), 4) for k in keys},
            )
        )
    return out
