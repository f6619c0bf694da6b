"""PDFs: fpdf2, with one embedded TrueType font for every document Régua writes.

fpdf2's core fonts (Helvetica and the others) are not embedded: each viewer draws them
with a font of its own whose widths differ from those fpdf2 laid the text out with
(Chromium's viewer runs text out of its cells), and they hold Latin-1 only, so "–",
"≥" or "…" had to be replaced. DejaVu Sans (`core/fonts/`, unmodified, its licence
beside it) is embedded as a subset of the glyphs a document uses, with a ToUnicode map,
so every viewer shows the layout as computed and a reader extracts the text as written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fpdf import FPDF

FONT = "DejaVuSans"
_DIR = Path(__file__).with_name("fonts")
# The styles the documents use: regular, bold, italic.
_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}


def register_font(pdf: FPDF) -> FPDF:
    """Add the font in each style to `pdf`, and select it."""
    for style, name in _FILES.items():
        pdf.add_font(FONT, style, _DIR / name)
    pdf.set_font(FONT, size=10)
    pdf.set_creator("Régua")
    return pdf


def new_pdf(**options: Any) -> FPDF:
    """An FPDF (`options`: its own, e.g. format, orientation) with the font."""
    return register_font(FPDF(**options))


def fit(pdf: FPDF, text: str, width: float) -> str:
    """`text` as it fits a cell `width` wide in the current font (cells leave 1 mm each
    side): whole, or cut with "…"."""
    room = width - 2 * pdf.c_margin
    if pdf.get_string_width(text) <= room:
        return text
    while text and pdf.get_string_width(text + "…") > room:
        text = text[:-1]
    return text + "…"
