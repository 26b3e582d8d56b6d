"""The HTML report's charts, drawn by matplotlib as SVG to be inlined in the page.

matplotlib is imported here only, and only by ``report --html``: the other commands never load
it. No pyplot (no global state, no window): a :class:`~matplotlib.figure.Figure` drawn by the
SVG canvas. Text is drawn as paths (``svg.fonttype: path``), so the page needs no font at
viewing time, and the SVG's ids are salted per chart so that two charts of a page never share
an id; no date is written into them, so the same figures give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

BLUE, GREEN, ORANGE, RED, GREY = "#1f5fa8", "#2e8540", "#e08a00", "#c0392b", "#9aa0a6"


def _svg(figure: object, salt: str) -> str:
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    assert isinstance(figure, Figure)
    FigureCanvasSVG(figure)
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt}):
        figure.savefig(
            buffer,
            format="svg",
            metadata=dict.fromkeys(("Creator", "Date", "Format", "Type")),
            bbox_inches="tight",
        )
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: without the XML declaration and DOCTYPE


def _figure(height: float) -> object:
    import matplotlib
    from matplotlib.figure import Figure

    matplotlib.rcParams.update(
        {"svg.fonttype": "path", "font.family": "DejaVu Sans", "font.size": 9}
    )
    return Figure(figsize=(6.8, height))


def bars(salt: str, labels: Sequence[str], values: Sequence[int], colours: Sequence[str],
         xlabel: str) -> str:  # fmt: skip
    """Horizontal bars, one per label, each with its value written at its end."""
    from matplotlib.figure import Figure

    figure = _figure(0.35 * len(labels) + 0.8)
    assert isinstance(figure, Figure)
    axes = figure.add_subplot()
    positions = range(len(labels))
    axes.barh(list(positions), list(values), color=list(colours))
    axes.set_yticks(list(positions), labels=list(labels))
    axes.invert_yaxis()
    axes.set_xlabel(xlabel)
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    for position, value in zip(positions, values, strict=True):
        axes.annotate(str(value), (value, position), xytext=(3, 0),
                      textcoords="offset points", va="center")  # fmt: skip
    axes.spines[["top", "right"]].set_visible(False)
    axes.margins(x=0.12)
    return _svg(figure, salt)


def delays(salt: str, labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[float]]],
           due: Sequence[float | None], due_label: str, xlabel: str) -> str:  # fmt: skip
    """Grouped horizontal bars, one group per stage (median, 90th percentile, maximum), and
    the policy's due time marked where a stage has one."""
    from matplotlib.figure import Figure

    figure = _figure(0.55 * len(labels) + 1.2)
    assert isinstance(figure, Figure)
    axes = figure.add_subplot()
    height = 0.8 / len(series)
    for index, (name, colour, values) in enumerate(series):
        offsets = [i - 0.4 + height * (index + 0.5) for i in range(len(labels))]
        axes.barh(offsets, list(values), height=height, color=colour, label=name)
    marked = False
    for position, days in enumerate(due):
        if days is not None:
            axes.vlines(days, position - 0.45, position + 0.45, colors=RED, linestyles="dashed",
                        label="_nolegend_" if marked else due_label)  # fmt: skip
            marked = True
    axes.set_yticks(list(range(len(labels))), labels=list(labels))
    axes.invert_yaxis()
    axes.set_xlabel(xlabel)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=4, frameon=False)
    return _svg(figure, salt)
