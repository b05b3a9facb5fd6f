"""Charts as SVG drawn on the server: no chart library, no script, nothing to load from elsewhere.

Only SVG presentation attributes and classes from the console's stylesheet are used (the pages'
Content-Security-Policy forbids inline styles), and every label is escaped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from polyresponses.server.console._html import e

__all__ = ["bars"]

WIDTH, HEIGHT, PAD = 720, 160, 28


def bars(title: str, points: Sequence[tuple[int, float]]) -> str:
    """A bar chart of ``(minute since the epoch, value)``, oldest left, with its largest value labelled."""
    top = max((value for _, value in points), default=0.0) or 1.0
    step = (WIDTH - 2 * PAD) / max(len(points), 1)
    rects = []
    for index, (minute, value) in enumerate(points):
        height = (HEIGHT - 2 * PAD) * value / top
        x, y = PAD + index * step, HEIGHT - PAD - height
        label = f"{time.strftime('%H:%M', time.gmtime(minute * 60))}: {value:g}"
        rects.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(step - 1, 1):.1f}" height="{height:.1f}">'
            f"<title>{e(label)}</title></rect>"
        )
    first = time.strftime("%H:%M", time.gmtime(points[0][0] * 60)) if points else ""
    last = time.strftime("%H:%M", time.gmtime(points[-1][0] * 60)) if points else ""
    return (
        f'<figure class="chart"><figcaption>{e(title)}</figcaption>'
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{e(title)}">'
        f'<line class="axis" x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"/>'
        f'<text class="label" x="{PAD}" y="{PAD - 8}">max {top:g}</text>'
        f'<text class="label" x="{PAD}" y="{HEIGHT - 8}">{e(first)} UTC</text>'
        f'<text class="label end" x="{WIDTH - PAD}" y="{HEIGHT - 8}">{e(last)}</text>'
        f"{''.join(rects)}</svg></figure>"
    )
