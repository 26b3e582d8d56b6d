"""The committee's HTML report in a real browser (issue 18): headless Chromium shows its charts
(drawn in the charts' colours, absent from the same page without them), fetches nothing, and
prints it on A4 pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_report import evaluated  # noqa: F401 (the fixture)

from ctg_exchange.report import charts

from conftest import CHROMIUM, Ctg, headless_chromium

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]
A4 = (595.3, 841.9)  # points
COLOURS = {"blue": charts.BLUE, "orange": charts.ORANGE, "red": charts.RED,
           "green": charts.GREEN}  # fmt: skip


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def coloured_pixels(page: Path, profile: Path) -> dict[str, int]:
    """How many pixels of each chart colour a screenshot of the whole page shows."""
    from PIL import Image

    shot = page.with_suffix(".png")
    headless_chromium(profile, f"--screenshot={shot}", "--window-size=1000,6000",
                      "--hide-scrollbars", page.as_uri())  # fmt: skip
    counts = dict.fromkeys(COLOURS, 0)
    targets = {name: _rgb(colour) for name, colour in COLOURS.items()}
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 24) or []
    for count, pixel in colours:
        assert isinstance(pixel, tuple)
        for name, target in targets.items():
            if all(abs(a - b) <= 12 for a, b in zip(pixel, target, strict=True)):
                counts[name] += count
    return counts


def test_chromium_shows_the_charts(evaluated: Ctg, tmp_path: Path) -> None:  # noqa: F811
    page = tmp_path / "report.html"
    evaluated.ok("report", "--html", str(page))
    text = page.read_text("utf-8")
    assert text.count("<svg") == 4  # status, delays, verdicts, deletions
    assert not re.search(r"""(src|href)=["']?https?:""", text)  # nothing fetched
    assert "<script" not in text and "@import" not in text
    assert not re.search(r"url\((?!#)", text)  # only the SVG's own clip paths
    shown = coloured_pixels(page, tmp_path / "profile")
    # the same page without its charts: what the colours counted come from
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r'<figure class="chart".*?</figure>', "", text, flags=re.S), "utf-8")
    without = coloured_pixels(bare, tmp_path / "profile")
    for name in COLOURS:
        assert shown[name] > 400, (name, shown)
        assert without[name] < 50, (name, without)


def test_chromium_prints_it_on_a4(evaluated: Ctg, tmp_path: Path) -> None:  # noqa: F811
    from pypdf import PdfReader

    page = tmp_path / "report.html"
    evaluated.ok("report", "--html", str(page))
    pdf = tmp_path / "report.pdf"
    headless_chromium(tmp_path / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
                      page.as_uri())  # fmt: skip
    reader = PdfReader(pdf)
    assert 2 <= len(reader.pages) <= 8
    for number, sheet in enumerate(reader.pages, start=1):
        size = (float(sheet.mediabox.width), float(sheet.mediabox.height))
        assert all(abs(a - b) < 1 for a, b in zip(size, A4, strict=True)), size
        assert f"{number} / {len(reader.pages)}" in (sheet.extract_text() or "")
    assert "Delays in days" in "".join(s.extract_text() or "" for s in reader.pages)
