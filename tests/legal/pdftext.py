"""The text of a PDF written by fpdf2 with its built-in fonts, page by page.

No PDF reader is among the project's dependencies, and fpdf2 writes plainly: each page's
content is one Flate stream of `(text) Tj` operators in Latin-1. This reads exactly
that, which is all the tests need to see what a reader of the dossier sees.
"""

from __future__ import annotations

import re
import zlib

_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_SHOW = re.compile(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f",
            b"(": b"(", b")": b")", b"\\": b"\\"}


def _unescape(raw: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(raw):
        if raw[i:i + 1] == b"\\" and i + 1 < len(raw):
            nxt = raw[i + 1:i + 2]
            if nxt in _ESCAPES:
                out += _ESCAPES[nxt]
                i += 2
                continue
            octal = re.match(rb"[0-7]{1,3}", raw[i + 1:i + 4])
            if octal:
                out.append(int(octal.group(), 8))
                i += 1 + len(octal.group())
                continue
        out += raw[i:i + 1]
        i += 1
    return bytes(out)


def pages(pdf: bytes) -> list[str]:
    """Each content stream's text lines joined by newlines (fpdf2: one per page)."""
    found = []
    for match in _STREAM.finditer(pdf):
        try:
            content = zlib.decompress(match.group(1))
        except zlib.error:
            continue  # images, fonts
        lines = [_unescape(m.group(1)).decode("latin-1") for m in _SHOW.finditer(content)]
        if lines:
            found.append("\n".join(lines))
    return found


def flat(pdf: bytes, skip: str | None = None) -> str:
    """All the text with line breaks and runs of spaces as single spaces, so a sentence
    wrapped across lines reads whole. Lines matching `skip` (a page's footer, which
    comes between the two halves of a paragraph split by a page break) are left out."""
    drop = re.compile(skip) if skip else None
    lines = [line for page in pages(pdf) for line in page.split("\n")
             if not (drop and drop.search(line))]
    return " ".join(" ".join(lines).split())
