"""Charts drawn on the server as SVG: the page inlines them (no script, no CDN) and the
PDF embeds the same drawing (fpdf2 renders SVG). Text stays within Latin-1, which the
PDF's core fonts cover. A bar may link to the debts behind it (`href`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from core.formatting import decimal_br, int_br
from core.pdf import FONT as PDF_FONT

PALETTE = ("#0e7a62", "#e0a13a", "#3b6fd4", "#b42318", "#5fb49c", "#8e5ad1", "#475467",
           "#d4703b", "#1d9bb5", "#a3a13a", "#c2417a", "#6b8f2a")
INK, MUTED, LINE = "#1d2433", "#5b6577", "#dfe3ea"
# The PDF export embeds DejaVu Sans (`core.pdf`) and draws the charts with it; a page
# uses it where the browser has it.
FONT = f"font-family=\"{PDF_FONT}, Helvetica, Arial, sans-serif\""

Number = Decimal | int


def pct(value: Decimal | None, places: int = 1) -> str:
    """Decimal('0.1234') -> '12,3%'; None -> '—'."""
    if value is None:
        return "—"
    return f"{value * 100:.{places}f}%".replace(".", ",")


def money_short(value: Number) -> str:
    """R$ 1,2 mi / R$ 345 mil / R$ 12,50: short enough for an axis or a bar."""
    amount = Decimal(value)
    if abs(amount) >= 1_000_000:
        return f"R$ {amount / 1_000_000:.1f} mi".replace(".", ",")
    if abs(amount) >= 10_000:
        return f"R$ {amount / 1000:.0f} mil"
    return f"R$ {decimal_br(amount)}"


def count(value: Number) -> str:
    return int_br(int(value))


def _t(x: float, y: float, label: str, *, size: int = 11, anchor: str = "middle",
       color: str = INK, bold: bool = False) -> str:
    weight = ' font-weight="bold"' if bold else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"'
            f' {FONT} fill="{color}"{weight}>{escape(label)}</text>')


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
            f' viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}"'
            f' class="chart">' + "".join(body) + "</svg>")


@dataclass(frozen=True)
class Bar:
    label: str
    value: Number
    href: str | None = None


def bars(title: str, items: Sequence[Bar], fmt: Callable[[Number], str], *,
         width: int = 560, height: int = 240, color: str = PALETTE[0]) -> str:
    """Vertical bars, each labelled with its value above and its category below."""
    top = max((float(i.value) for i in items), default=0) or 1.0
    plot_h, base = height - 70, height - 40
    step = (width - 20) / max(len(items), 1)
    body = [f'<line x1="10" y1="{base}" x2="{width - 10}" y2="{base}" stroke="{LINE}"/>']
    for n, item in enumerate(items):
        h = plot_h * float(item.value) / top
        x = 10 + n * step + step * 0.15
        w = step * 0.7
        rect = (f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{w:.1f}" height="{h:.1f}"'
                f' rx="3" fill="{color}"><title>{escape(item.label)}: '
                f'{escape(fmt(item.value))}</title></rect>')
        body.append(f'<a href="{escape(item.href)}">{rect}</a>' if item.href else rect)
        body.append(_t(x + w / 2, base - h - 5, fmt(item.value), size=10, bold=True))
        body.append(_t(x + w / 2, base + 15, item.label, size=10, color=MUTED))
    return _svg(width, height, title, body)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Decimal | None]


def grouped(title: str, categories: Sequence[str], series: Sequence[Series],
            fmt: Callable[[Number], str], *, width: int = 560, height: int = 250) -> str:
    """Bars side by side per category (one color per series), with a legend."""
    values = [float(v) for s in series for v in s.values if v is not None]
    top = max(values, default=0) or 1.0
    plot_h, base = height - 90, height - 55
    step = (width - 20) / max(len(categories), 1)
    w = step * 0.8 / max(len(series), 1)
    body = [f'<line x1="10" y1="{base}" x2="{width - 10}" y2="{base}" stroke="{LINE}"/>']
    for c, category in enumerate(categories):
        for n, one in enumerate(series):
            value = one.values[c]
            if value is None:
                continue
            h = plot_h * float(value) / top
            x = 10 + c * step + step * 0.1 + n * w
            body.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{w - 2:.1f}"'
                        f' height="{h:.1f}" rx="2" fill="{PALETTE[n % len(PALETTE)]}">'
                        f'<title>{escape(category)}, {escape(one.name)}: '
                        f'{escape(fmt(value))}</title></rect>')
            body.append(_t(x + (w - 2) / 2, base - h - 4, fmt(value), size=9))
        body.append(_t(10 + c * step + step / 2, base + 15, category, size=10, color=MUTED))
    body += _legend([s.name for s in series], height - 18, width)
    return _svg(width, height, title, body)


def _legend(names: Sequence[str], y: float, width: int) -> list[str]:
    """Swatches and names in rows from `y` down (14 px a row)."""
    out, x = [], 14.0
    for n, name in enumerate(names):
        if x + 24 + 6.2 * len(name) > width:
            x, y = 14.0, y + 14
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10"'
                   f' fill="{PALETTE[n % len(PALETTE)]}"/>')
        out.append(_t(x + 14, y, name, size=10, anchor="start", color=MUTED))
        x += 22 + 6.2 * len(name)
    return out


def lines(title: str, x_labels: Sequence[str], series: Sequence[Series],
          fmt: Callable[[Number], str], *, width: int = 560, height: int = 300) -> str:
    """One line per series over `x_labels` (a series may stop early: None), y from 0 to
    the largest value, with a few gridlines and a legend."""
    values = [float(v) for s in series for v in s.values if v is not None]
    top = max(values, default=0) or 1.0
    left, right, plot_top, base = 58, width - 14, 14, height - 62
    span = max(len(x_labels) - 1, 1)

    def xy(i: int, v: Decimal) -> tuple[float, float]:
        return (left + (right - left) * i / span, base - (base - plot_top) * float(v) / top)

    body = []
    for g in range(5):
        y = base - (base - plot_top) * g / 4
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="{LINE}"/>')
        body.append(_t(left - 6, y + 4, fmt(Decimal(str(top * g / 4))), size=9, anchor="end",
                       color=MUTED))
    every = max(1, len(x_labels) // 12)
    for i, label in enumerate(x_labels):
        if i % every == 0:
            body.append(_t(xy(i, Decimal(0))[0], base + 15, label, size=9, color=MUTED))
    for n, one in enumerate(series):
        points = [xy(i, v) for i, v in enumerate(one.values) if v is not None]
        color = PALETTE[n % len(PALETTE)]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            body.append(f'<polyline points="{path}" fill="none" stroke="{color}"'
                        f' stroke-width="2"/>')
        for x, y in points:
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>')
    body += _legend([s.name for s in series], base + 34, width)
    return _svg(width, height, title, body)
