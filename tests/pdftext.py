"""The text of a PDF as a reader extracts it, page by page, and the fonts it embeds.

pypdf reads the text through each font's ToUnicode map, as a viewer's copy and search
do: what it returns is what a reader of the document gets."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader


def pages(pdf: bytes) -> list[str]:
    """Each page's text, lines joined by newlines."""
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(pdf: bytes, skip: str | None = None) -> str:
    """All the text with line breaks and runs of spaces as single spaces, so a sentence
    wrapped across lines reads whole. Lines matching `skip` (a page's footer, which
    comes between the two halves of a paragraph split by a page break) are left out."""
    drop = re.compile(skip) if skip else None
    lines = [line for page in pages(pdf) for line in page.split("\n")
             if not (drop and drop.search(line))]
    return " ".join(" ".join(lines).split())


def fonts(pdf: bytes) -> dict[str, bool]:
    """Each font the pages use, by its PostScript name (a subset's tag dropped), and
    whether its program is embedded in the file."""
    found: dict[str, bool] = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        resources = page.get("/Resources")
        table = resources.get_object().get("/Font") if resources else None
        for ref in (table.get_object().values() if table else []):
            font = ref.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            name = str(font.get("/BaseFont", "")).lstrip("/").split("+")[-1]
            found[name] = any(k in descriptor for k in ("/FontFile", "/FontFile2",
                                                         "/FontFile3"))
    return found
