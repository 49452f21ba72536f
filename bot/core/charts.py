"""PNG charts for channel posts and reports (matplotlib, headless), and the words that say what
each one shows (``alt_text``), for people who cannot see the picture.

matplotlib is imported on first drawing, not on import: services build alt text on the ack path."""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence
from typing import Any

_PYPLOT = threading.Lock()  # pyplot keeps global state: one figure at a time across threads


def alt_text(what: str, categories: Sequence[str], series: Mapping[str, Sequence[float | None]], *,
             kind: str = "Bar chart", threshold: int | None = None) -> str:
    """What a chart shows, in words a screen reader can say: "Bar chart of learning themes in
    Children in Care, 2026-27 Q1: Voice of the child 7, Planning 5, Recording fewer than 5."
    A value of None is a count withheld under the council's threshold (said as "fewer than N", or
    "withheld" without one); with several series each is said in turn, named."""
    def said(value: float | None) -> str:
        if value is None:
            return f"fewer than {threshold}" if threshold else "withheld"
        return f"{value:g}"

    def one(values: Sequence[float | None]) -> str:
        pairs = [f"{c} {said(v)}" for c, v in zip(categories, values, strict=False)]
        return ", ".join(pairs) if pairs else "nothing to show"

    head = f"{kind} of {what}"
    if len(series) == 1:
        [values] = series.values()
        return f"{head}: {one(values)}."
    return f"{head}. " + "; ".join(f"{name}: {one(values)}" for name, values in series.items()) + "."


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bar_chart_png(categories: Sequence[str], series: Mapping[str, Sequence[float]], *, title: str,
                  xlabel: str = "", horizontal: bool = True) -> bytes:
    """A grouped bar chart; one colour per series (e.g. this quarter vs last)."""
    with _PYPLOT:
        return _bar_chart_png(categories, series, title=title, xlabel=xlabel, horizontal=horizontal)


def _bar_chart_png(categories: Sequence[str], series: Mapping[str, Sequence[float]], *, title: str,
                   xlabel: str, horizontal: bool) -> bytes:
    plt = _pyplot()
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
