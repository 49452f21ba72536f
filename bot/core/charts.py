"""PNG charts for channel posts and reports (matplotlib, headless)."""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

_PYPLOT = threading.Lock()  # pyplot keeps global state: one figure at a time across threads


def bar_chart_png(categories: Sequence[str], series: Mapping[str, Sequence[float]], *, title: str,
                  xlabel: str = "", horizontal: bool = True) -> bytes:
    """A grouped bar chart; one colour per series (e.g. this quarter vs last)."""
    with _PYPLOT:
        return _bar_chart_png(categories, series, title=title, xlabel=xlabel, horizontal=horizontal)


def _bar_chart_png(categories: Sequence[str], series: Mapping[str, Sequence[float]], *, title: str,
                   xlabel: str, horizontal: bool) -> bytes:
    count = max(1, len(categories))
    height = max(3.0, 0.45 * count * max(1, len(series)) + 1.5) if horizontal else 4.5
    fig, ax = plt.subplots(figsize=(9, height), dpi=100)
    width = 0.8 / max(1, len(series))
    positions = list(range(len(categories)))
    for index, (name, values) in enumerate(series.items()):
        offsets = [p + (index - (len(series) - 1) / 2) * width for p in positions]
        if horizontal:
            ax.barh(offsets, list(values), height=width, label=name)
        else:
            ax.bar(offsets, list(values), width=width, label=name)
    if horizontal:
        ax.set_yticks(positions)
        ax.set_yticklabels([_wrap(c) for c in categories])
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        ax.xaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
    else:
        ax.set_xticks(positions)
        ax.set_xticklabels([_wrap(c, 14) for c in categories])
        ax.set_ylabel(xlabel)
        ax.yaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
    ax.set_title(title)
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _wrap(text: str, width: int = 28) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines)
