"""``GET /metrics`` in the Prometheus text exposition format (version 0.0.4), with no dependency.

Labels are the route, the provider and the model as the client named them after alias resolution,
and the status; never keys, prompts or outputs. Cardinality is bounded by the provider table and by
the models actually asked for.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from dataclasses import dataclass, field

__all__ = ["BUCKETS", "Metrics", "Minute"]

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

BUCKETS = _BUCKETS

WINDOW_MINUTES = 60
"""How far back the console's charts look: the last hour, by minute, kept in memory per process."""


@dataclass(slots=True)
class Minute:
    """One minute of one provider and model: what the console charts."""

    requests: int = 0
    errors: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    histogram: list[int] = field(default_factory=lambda: [0] * (len(_BUCKETS) + 1))
    """Requests per latency bucket (the last one: above every bound)."""

    def percentile(self, fraction: float) -> float | None:
        return percentile(self.histogram, fraction)


def percentile(histogram: list[int], fraction: float) -> float | None:
    """The bucket bound under which ``fraction`` of the requests finished (``None``: no requests; ``inf`` when
    it lies in the last bucket, above every bound)."""
    total = sum(histogram)
    if not total:
        return None
    seen = 0
    for index, count in enumerate(histogram):
        seen += count
        if seen >= fraction * total:
            return _BUCKETS[index] if index < len(_BUCKETS) else float("inf")
    return float("inf")


Labels = tuple[tuple[str, str], ...]


class Metrics:
    def __init__(self) -> None:
        self.requests: defaultdict[Labels, int] = defaultdict(int)
        self.upstream_errors: defaultdict[Labels, int] = defaultdict(int)
        self.tokens: defaultdict[Labels, int] = defaultdict(int)
        self.latency: dict[Labels, list[float]] = {}
        """Per label set: one count per bucket, then the sum, then the total count."""
        self.in_flight_streams = 0
        self.websocket_connections = 0
        self.window: dict[tuple[int, str, str], Minute] = {}
        """``(minute since the epoch, provider, model)`` -> that minute's figures, for the last hour."""

    def _minute(self, provider: str, model: str) -> Minute:
        now = int(time.time() // 60)
        if len(self.window) > 4 * WINDOW_MINUTES and any(key[0] <= now - WINDOW_MINUTES for key in self.window):
            self.window = {key: value for key, value in self.window.items() if key[0] > now - WINDOW_MINUTES}
        return self.window.setdefault((now, provider, model), Minute())

    def recent(self) -> dict[tuple[int, str, str], Minute]:
        """The last hour's minutes (older ones left out)."""
        oldest = int(time.time() // 60) - WINDOW_MINUTES
        return {key: value for key, value in self.window.items() if key[0] > oldest}

    def request(self, route: str, provider: str, model: str, status: int, seconds: float) -> None:
        labels = (("route", route), ("provider", provider), ("model", model))
        self.requests[(*labels, ("status", str(status)))] += 1
        row = self.latency.setdefault(labels, [0.0] * (len(_BUCKETS) + 2))
        index = bisect.bisect_left(_BUCKETS, seconds)
        for bucket in range(index, len(_BUCKETS)):
            row[bucket] += 1
        row[-2] += seconds
        row[-1] += 1
        minute = self._minute(provider, model)
        minute.requests += 1
        minute.errors += status >= 400
        minute.histogram[index] += 1

    def upstream_error(self, provider: str, model: str, code: str) -> None:
        self.upstream_errors[(("provider", provider), ("model", model), ("code", code))] += 1

    def usage(self, provider: str, model: str, tokens_in: int, tokens_out: int) -> None:
        self.tokens[(("provider", provider), ("model", model), ("direction", "in"))] += tokens_in
        self.tokens[(("provider", provider), ("model", model), ("direction", "out"))] += tokens_out
        minute = self._minute(provider, model)
        minute.tokens_in += tokens_in
        minute.tokens_out += tokens_out

    def render(self) -> str:
        lines: list[str] = []
        _counter(
            lines,
            "polyresponses_requests_total",
            "Requests answered, by route, provider, model and status.",
            self.requests,
        )
        _counter(lines, "polyresponses_upstream_errors_total", "Errors from providers.", self.upstream_errors)
        _counter(lines, "polyresponses_tokens_total", "Tokens in and out, from the providers' usage.", self.tokens)
        lines.append(
            "# HELP polyresponses_request_duration_seconds Time to the whole answer (streams: to the last event)."
        )
        lines.append("# TYPE polyresponses_request_duration_seconds histogram")
        for labels, row in sorted(self.latency.items()):
            for bound, count in zip(_BUCKETS, row, strict=False):
                lines.append(
                    f"polyresponses_request_duration_seconds_bucket{_render((*labels, ('le', str(bound))))} {count:g}"
                )
            lines.append(
                f"polyresponses_request_duration_seconds_bucket{_render((*labels, ('le', '+Inf')))} {row[-1]:g}"
            )
            lines.append(f"polyresponses_request_duration_seconds_sum{_render(labels)} {row[-2]:.6f}")
            lines.append(f"polyresponses_request_duration_seconds_count{_render(labels)} {row[-1]:g}")
        lines.append("# HELP polyresponses_in_flight_streams Streams being sent now.")
        lines.append("# TYPE polyresponses_in_flight_streams gauge")
        lines.append(f"polyresponses_in_flight_streams {self.in_flight_streams}")
        lines.append("# HELP polyresponses_websocket_connections_total WebSocket mode connections accepted.")
        lines.append("# TYPE polyresponses_websocket_connections_total counter")
        lines.append(f"polyresponses_websocket_connections_total {self.websocket_connections}")
        return "\n".join(lines) + "\n"


def _counter(lines: list[str], name: str, help_text: str, values: dict[Labels, int]) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} counter")
    for labels, value in sorted(values.items()):
        lines.append(f"{name}{_render(labels)} {value}")


def _render(labels: Labels) -> str:
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in labels)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
