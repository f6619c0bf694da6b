"""The PDF helper every document uses: the embedded font, and text fitted to a cell by
the font's own widths."""

from __future__ import annotations

from core.pdf import FONT, fit, new_pdf
from tests.pdftext import flat, fonts


def test_text_is_written_in_the_embedded_font_and_reads_back() -> None:
    pdf = new_pdf(format="A4")
    pdf.add_page()
    written = "Conceição – ç, ã, é, ô · R$ 1.234,56 − 10% ≤ “total”…"
    pdf.cell(0, 8, written, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "B", 12)
    pdf.cell(0, 8, "Saldo a repassar ao credor")
    content = bytes(pdf.output())
    assert fonts(content) == {"DejaVuSansBook": True, "DejaVuSansBold": True}
    assert flat(content) == f"{written} Saldo a repassar ao credor"


def test_a_long_text_is_cut_to_its_cell_with_an_ellipsis() -> None:
    pdf = new_pdf(format="A4")
    pdf.set_font(FONT, size=8)
    short = fit(pdf, "Conceição", 40)
    long = fit(pdf, "Rua das Flores, 12 - Centro, Campinas/SP - 13010-000", 40)
    assert short == "Conceição"
    assert long.endswith("…") and "Rua das Flores".startswith(long[:14])
    assert pdf.get_string_width(long) <= 40 - 2 * pdf.c_margin
