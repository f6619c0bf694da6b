"""Spreadsheet import benchmark: the same portfolio as CSV, XLSX, XLSB and ODS, imported
in the same run.

    uv run python bench/sheet_bench.py --rows 300000

The baseline is the CSV import of the same rows (the benchmark's generated export);
the sheets hold them as a creditor's spreadsheet would (text cells; openpyxl writes the
XLSX, the tests' writer the XLSB, the ODS is written here as LibreOffice lays one out).
Each import runs in its own process into an empty tenant, so its time and peak memory
are its own. The sheets should cost about what the CSV does in memory (all of them
stream), whatever their size; `--rows` at two sizes shows whether they do.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_bench import create_tenant, import_in_child, save, scratch  # noqa: E402


def write_xlsx(source: Path, target: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Carteira")
    with source.open(encoding="cp1252", newline="") as fh:
        for record in csv.reader(fh, delimiter=";"):
            sheet.append(record)
    book.save(target)


def write_xlsb(source: Path, target: Path) -> None:
    from tests.tenants.intake.xlsb_writer import write_xlsb as write

    with source.open(encoding="cp1252", newline="") as fh:
        write(target, {"Carteira": ([v or None for v in record]
                                    for record in csv.reader(fh, delimiter=";"))})


ODS_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><office:document-content'
    ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
    ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
    ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3">'
    '<office:body><office:spreadsheet><table:table table:name="Carteira">')
ODS_TAIL = "</table:table></office:spreadsheet></office:body></office:document-content>"
ODS_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
    '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
    '<manifest:file-entry manifest:full-path="/" manifest:media-type='
    '"application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry'
    ' manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>')


def write_ods(source: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as book, \
            source.open(encoding="cp1252", newline="") as fh:
        book.writestr(zipfile.ZipInfo("mimetype"),
                      "application/vnd.oasis.opendocument.spreadsheet")
        book.writestr("META-INF/manifest.xml", ODS_MANIFEST)
        with book.open("content.xml", "w", force_zip64=True) as xml:
            xml.write(ODS_HEAD.encode())
            for record in csv.reader(fh, delimiter=";"):
                cells = "".join(
                    f'<table:table-cell office:value-type="string"><text:p>{escape(v)}'
                    "</text:p></table:table-cell>" if v else "<table:table-cell/>"
                    for v in record)
                xml.write(f"<table:table-row>{cells}</table:table-row>".encode())
            xml.write(ODS_TAIL.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "sheets.json")
    parser.add_argument("--write", nargs=3, metavar=("KIND", "SOURCE", "TARGET"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    writers = {"xlsx": write_xlsx, "xlsb": write_xlsb, "ods": write_ods}
    if args.write:
        kind, source, target = args.write
        writers[kind](Path(source), Path(target))
        return

    from tenants.intake.formats.sample import write

    with scratch() as (folder, _):
        data = folder / "carteira.csv"
        write(data, args.rows)
        files = {"csv": data} | {kind: folder / f"carteira.{kind}" for kind in writers}
        for kind in writers:
            started = time.perf_counter()
            # In a process of its own: a writer's memory would otherwise stay with this
            # process, and each import's child starts as a copy of it (its peak with it).
            subprocess.run([sys.executable, __file__, "--write", kind, str(data),
                            str(files[kind])], check=True)
            print(f"{kind.upper()} written in {time.perf_counter() - started:.0f}s")
        print(f"{args.rows:,} rows: " + ", ".join(
            f"{kind.upper()} {path.stat().st_size / 1e6:.0f} MB" for kind, path in files.items()))
        results = {}
        for kind, path in files.items():
            asyncio.run(create_tenant(f"bench-{kind}"))
            results[kind] = import_in_child(f"bench-{kind}", path)
            r = results[kind]
            print(f"    {kind}: {r['seconds']:.2f}s, peak memory {r['peak_rss_mb']:.0f} MB,"
                  f" {r['rows_accepted']:,} accepted, {r['rows_rejected']:,} rejected")
        csv_r = results["csv"]
        result: dict[str, object] = {"rows": args.rows, "csv_s": round(csv_r["seconds"], 2),
                                     "csv_peak_mb": round(csv_r["peak_rss_mb"])}
        for kind in writers:
            r = results[kind]
            assert (r["rows_accepted"], r["rows_rejected"]) == (
                csv_r["rows_accepted"], csv_r["rows_rejected"]), f"the {kind} differs"
            result |= {
                f"{kind}_s": round(r["seconds"], 2),
                f"{kind}_vs_csv_time": round(r["seconds"] / csv_r["seconds"], 2),
                f"{kind}_peak_mb": round(r["peak_rss_mb"]),
                f"{kind}_vs_csv_memory": round(r["peak_rss_mb"] / csv_r["peak_rss_mb"], 2),
            }
        save(result, args.out)


if __name__ == "__main__":
    main()
