"""Write a realistic creditor export (Windows-1252, `;`, decimal comma, 15 columns,
about 2% bad rows, debtors with several installments), deterministic for a seed.

    uv run python bench/portfolio_gen.py --rows 1000000 --out /tmp/carteira.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tenants.intake.formats.sample import write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bad-ratio", type=float, default=0.02)
    parser.add_argument("--encoding", default="cp1252")
    args = parser.parse_args()
    write(args.out, args.rows, args.seed, args.bad_ratio, args.encoding)


if __name__ == "__main__":
    main()
