"""A stand-in for the cartórios, for the demo: the retorno a CRA would send back for a
remessa, with the outcomes given, built record by record on layout 4.3."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from legal.protest import layout


def retorno(remessa: bytes, outcomes: dict[str, dict[str, Any]]) -> bytes:
    """The retorno (SDT→BFO, RTP) naming the titles of `remessa` whose nosso número is in
    `outcomes`, each with the transaction fields given (keys of layout.TRANSACTION:
    notary, protocol, occurrence, irregularity, ...). Batches with none are left out."""
    out: list[str] = []
    header: dict[str, Any] = {}
    batch: list[dict[str, Any]] = []
    for number, line in enumerate(layout.split_lines(remessa), start=1):
        if line[:1] == "0":
            header, _ = layout.parse_record(layout.HEADER, line, number)
            batch = []
        elif line[:1] == "1":
            values, _ = layout.parse_record(layout.TRANSACTION, line, number)
            if values["our_number"] in outcomes:
                batch.append({**values, **outcomes[values["our_number"]]})
        elif batch:
            out.append(layout.format_record(layout.HEADER, {
                **header, "sender": "SDT", "recipient": "BFO", "transaction": "RTP",
                "titles": 0, "indications": 0, "originals": 0, "records": len(batch),
                "line": 1}))
            for index, values in enumerate(batch, start=2):
                out.append(layout.format_record(layout.TRANSACTION, {**values, "line": index}))
            trailer, _ = layout.parse_record(layout.TRAILER, line, number)
            out.append(layout.format_record(layout.TRAILER, {
                **trailer, "check_count": len(batch),
                "check_amount": sum((v["balance"] for v in batch), Decimal("0")),
                "line": len(batch) + 2}))
    return layout.encode(out)
