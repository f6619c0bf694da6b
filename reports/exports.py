"""The dashboard and a drill-down list as files: CSV (as Excel in Brazil opens it: `;`,
decimal comma, CRLF, UTF-8 with BOM, like the statement), XLSX (a sheet per table,
numbers as numbers with their formats) and PDF (charts and tables, fpdf2)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from decimal import Decimal

from fpdf import FPDF
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from core.formatting import brl, date_br
from core.pdf import FONT, fit, register_font
from reports.drilldown import Detail
from reports.tables import Cell, Table


def _csv_value(cell: Cell) -> str:
    if cell.kind == "money" and isinstance(cell.value, Decimal):
        return f"{cell.value:.2f}".replace(".", ",")
    if cell.kind == "int" and isinstance(cell.value, int):
        return str(cell.value)
    return cell.text


def _csv(rows: Sequence[Sequence[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def tables_csv(heading: str, tables: Sequence[Table]) -> bytes:
    rows: list[list[str]] = [[heading]]
    for table in tables:
        rows += [[], [table.title], table.columns]
        rows += [[_csv_value(c) for c in row] for row in table.rows]
        if table.note:
            rows.append([table.note])
    return _csv(rows)


_FORMATS = {"int": "#,##0", "money": '"R$" #,##0.00', "pct": "0.0%", "num": "0.00"}


def _sheet_name(title: str, used: set[str]) -> str:
    name = "".join(ch for ch in title if ch not in "[]:*?/\\")[:28].strip()
    base, n = name, 2
    while name in used:
        name = f"{base[:25]} {n}"
        n += 1
    used.add(name)
    return name


def tables_xlsx(heading: str, tables: Sequence[Table]) -> bytes:
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    used: set[str] = set()
    bold = Font(bold=True)
    for table in tables:
        sheet = book.create_sheet(_sheet_name(table.title, used))
        sheet.append([heading])
        sheet.append([table.title])
        sheet["A2"].font = bold
        sheet.append(table.columns)
        for col in range(1, len(table.columns) + 1):
            sheet.cell(row=3, column=col).font = bold
        for row in table.rows:
            sheet.append([c.value if c.kind != "text" and c.value is not None else c.text
                          for c in row])
            for col, c in enumerate(row, start=1):
                if c.kind in _FORMATS and c.value is not None:
                    sheet.cell(row=sheet.max_row, column=col).number_format = _FORMATS[c.kind]
        if table.note:
            sheet.append([])
            sheet.append([table.note])
        for col, name in enumerate(table.columns, start=1):
            widest = max([len(name)] + [len(r[col - 1].text) for r in table.rows
                                        if col - 1 < len(r)])
            sheet.column_dimensions[get_column_letter(col)].width = min(max(widest + 2, 10), 48)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class _Pdf(FPDF):
    def __init__(self, heading: str, issued_by: str) -> None:
        super().__init__(orientation="landscape", format="A4")
        register_font(self)
        self.heading, self.issued_by = heading, issued_by
        self.set_auto_page_break(True, margin=12)
        self.alias_nb_pages()

    def footer(self) -> None:
        self.set_y(-9)
        self.set_font(FONT, size=7)
        self.set_text_color(91, 101, 119)
        self.cell(0, 4, f"{self.heading} · emitido por {self.issued_by} em "
                        f"{dt.date.today():%d/%m/%Y} · página {self.page_no()}/{{nb}}",
                  align="R")
        self.set_text_color(0, 0, 0)


def _pdf_table(pdf: _Pdf, table: Table, max_columns: int = 14) -> None:
    columns = table.columns[:max_columns]
    rows = [row[:max_columns] for row in table.rows]
    if pdf.get_y() > pdf.h - 40:
        pdf.add_page()
    pdf.set_font(FONT, "B", 11)
    pdf.cell(0, 7, table.title, new_x="LMARGIN", new_y="NEXT")
    if not rows:
        pdf.set_font(FONT, "I", 8)
        pdf.cell(0, 5, "Nada no período.", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        return
    usable = pdf.w - pdf.l_margin - pdf.r_margin
    longest = [max([len(columns[i])] + [len(r[i].text) for r in rows if i < len(r)])
               for i in range(len(columns))]
    weights = [min(max(n, 4), 40) for n in longest]
    widths = [usable * w / sum(weights) for w in weights]
    pdf.set_font(FONT, "B", 7)
    pdf.set_fill_color(238, 241, 245)
    for w, name in zip(widths, columns, strict=True):
        pdf.cell(w, 5.5, fit(pdf, name, w), border=1, fill=True)
    pdf.ln()
    pdf.set_font(FONT, size=7)
    for row in rows:
        for w, cell in zip(widths, row, strict=False):
            align = "R" if "num" in cell.css else "L"
            pdf.cell(w, 5, fit(pdf, cell.text, w), border=1, align=align)
        pdf.ln()
    if table.note:
        pdf.set_font(FONT, "I", 7)
        pdf.multi_cell(0, 4, table.note, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def _pdf_chart(pdf: _Pdf, svg: str, x: float, y: float, w: float) -> None:
    # The charts' text names the embedded font first (`reports.charts`).
    pdf.image(io.BytesIO(svg.encode()), x=x, y=y, w=w)


def tables_pdf(heading: str, subtitle: str, tables: Sequence[Table],
               chart_svgs: dict[str, str], issued_by: str) -> bytes:
    pdf = _Pdf(heading, issued_by)
    pdf.add_page()
    pdf.set_font(FONT, "B", 15)
    pdf.cell(0, 9, heading, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=9)
    pdf.multi_cell(0, 5, subtitle, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    summary = [t for t in tables if t.key == "resumo"]
    for table in summary:
        _pdf_table(pdf, table)
    svgs = list(chart_svgs.values())
    if svgs:
        pdf.add_page()
        pdf.set_font(FONT, "B", 11)
        pdf.cell(0, 7, "Gráficos", new_x="LMARGIN", new_y="NEXT")
        top, w = pdf.get_y(), (pdf.w - pdf.l_margin - pdf.r_margin - 8) / 2
        for n, svg in enumerate(svgs):
            if n and n % 4 == 0:
                pdf.add_page()
                top = pdf.get_y()
            slot = n % 4
            x = pdf.l_margin + (slot % 2) * (w + 8)
            y = top + (slot // 2) * (w * 0.5 + 6)
            _pdf_chart(pdf, svg, x, y, w)
        pdf.add_page()
    for table in tables:
        if table.key != "resumo":
            _pdf_table(pdf, table)
    return bytes(pdf.output())


DETAIL_COLUMNS = ["Devedor", "Documento", "Contrato", "Parcela", "Vencimento", "Colocado em",
                  "Situação", "Valor original", "Saldo atual", "Recuperado pela assessoria"]


def detail_table(detail: Detail) -> Table:
    table = Table("detalhe", detail.title, DETAIL_COLUMNS,
                  note=f"{detail.total} título(s).")
    for line in detail.lines:
        table.rows.append([
            Cell(line.debtor_name), Cell(line.document), Cell(line.contract),
            Cell(str(line.installment), line.installment, None, "num", "int"),
            Cell(date_br(line.due_date), line.due_date.isoformat()),
            Cell(date_br(line.placed_on), line.placed_on.isoformat()),
            Cell(line.status),
            Cell(brl(line.original_amount), line.original_amount, None, "num", "money"),
            Cell(brl(line.current_balance), line.current_balance, None, "num", "money"),
            Cell(brl(line.recovered), line.recovered, None, "num", "money")])
    return table
