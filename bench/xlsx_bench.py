"""XLSX import benchmark: the same portfolio as XLSX and as CSV, imported in the same run.

    uv run python bench/xlsx_bench.py --rows 300000

The baseline is the CSV import of the same rows (the benchmark's generated export);
the XLSX holds them as a creditor's spreadsheet export would (openpyxl, text cells).
Each import runs in its own process into an empty tenant, so its time and peak memory
are its own. The XLSX import should cost about what the CSV one does in memory (both
stream), whatever the sheet's size; `--rows` at two sizes shows whether it does.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "xlsx.json")
    args = parser.parse_args()

    from tenants.intake.sample import write

    with scratch() as (folder, _):
        data = folder / "carteira.csv"
        write(data, args.rows)
        sheet = folder / "carteira.xlsx"
        started = time.perf_counter()
        write_xlsx(data, sheet)
        print(f"{args.rows:,} rows: CSV {data.stat().st_size / 1e6:.0f} MB, XLSX "
              f"{sheet.stat().st_size / 1e6:.0f} MB (written in "
              f"{time.perf_counter() - started:.0f}s)")
        results = {}
        for kind, path in (("csv", data), ("xlsx", sheet)):
            asyncio.run(create_tenant(f"bench-{kind}"))
            results[kind] = import_in_child(f"bench-{kind}", path)
            r = results[kind]
            print(f"    {kind}: {r['seconds']:.2f}s, peak memory {r['peak_rss_mb']:.0f} MB,"
                  f" {r['rows_accepted']:,} accepted, {r['rows_rejected']:,} rejected")
        csv_r, xlsx_r = results["csv"], results["xlsx"]
        assert (xlsx_r["rows_accepted"], xlsx_r["rows_rejected"]) == (
            csv_r["rows_accepted"], csv_r["rows_rejected"]), "the two files differ"
        result = {
            "rows": args.rows,
            "csv_s": round(csv_r["seconds"], 2), "xlsx_s": round(xlsx_r["seconds"], 2),
            "xlsx_vs_csv_time": round(xlsx_r["seconds"] / csv_r["seconds"], 2),
            "csv_peak_mb": round(csv_r["peak_rss_mb"]),
            "xlsx_peak_mb": round(xlsx_r["peak_rss_mb"]),
            "xlsx_vs_csv_memory": round(xlsx_r["peak_rss_mb"] / csv_r["peak_rss_mb"], 2),
        }
        save(result, args.out)


if __name__ == "__main__":
    main()
