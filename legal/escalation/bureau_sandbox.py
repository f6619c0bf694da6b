"""The local credit-bureau sandbox: an HTTP server on loopback that takes PEFIN remessa
files as the gateway does (`POST /pefin/remessa`, HTTP Basic) and answers each with its
return file, for the demo and the tests.

Like a bureau it checks every record against the layout (600 characters, header,
trailer, sequence) and each debt's data, keeps what is listed, and answers a remessa
number it has seen with the answer it gave then (so a resent file is not listed twice).
Error codes are the sandbox's own, three characters as the layout's error field holds
(Serasa's code table comes with its contract):

| code | meaning |
| --- | --- |
| `S01` | CPF or CNPJ with wrong check digits |
| `S02` | due date missing, in the future, or more than five years old |
| `S03` | amount missing or zero |
| `S04` | debtor's name missing |
| `S05` | this debt (creditor, document, contract) is listed already |
| `S06` | exclusion of a debt that is not listed |
| `S07` | exclusion without its reason |
| `S90` (header) | remessa number already used by another file |

What it received is kept in the state folder (`sandbox/bureau/`, one JSON per remessa,
and `listed.json`), which the escalation pages read (`received`).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from core.channels.sandbox import store_dir
from core.collection.workable import add_years
from core.documents import is_valid_cnpj, is_valid_cpf
from core.settings import Settings, get_settings
from legal.escalation import pefin

log = logging.getLogger("regua.bureau_sandbox")
PATH = "/pefin/remessa"


def bureau_dir(settings: Settings) -> Path:
    return store_dir(settings) / "bureau"


@dataclass
class _State:
    root: Path
    lock: threading.Lock

    def listed(self) -> dict[str, Any]:
        path = self.root / "listed.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def save_listed(self, listed: dict[str, Any]) -> None:
        _write(self.root / "listed.json", listed)

    def remessa_path(self, cnpj_base: str, number: int) -> Path:
        return self.root / cnpj_base / f"remessa-{number:06d}.json"


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1))
    tmp.replace(path)


def _date_ok(text: str, today: dt.date) -> bool:
    try:
        day = dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return False
    return add_years(day, 5) >= today and day <= today


def judge(state: _State, data: bytes, today: dt.date) -> tuple[bytes, dict[str, Any]]:
    """The return file for a remessa, and the record the sandbox keeps of it."""
    parsed = pefin.read(data)
    path = state.remessa_path(parsed.cnpj_base, parsed.number)
    if path.exists():
        kept = json.loads(path.read_text())
        if kept["file"] == data.decode("latin-1"):
            return kept["answer"].encode("latin-1"), kept
        return pefin.answer(data, {}, ["S90"]), kept
    listed = state.listed()
    errors: dict[int, list[str]] = {}
    for record in parsed.records:
        codes = []
        document = record.document.lstrip("0")
        valid = (is_valid_cpf(record.document[-11:]) if len(document) <= 11
                 else is_valid_cnpj(record.document[-14:]))
        if not valid:
            codes.append("S01")
        if not _date_ok(record.due_date, today):
            codes.append("S02")
        if record.amount_cents <= 0:
            codes.append("S03")
        if not record.name:
            codes.append("S04")
        key = f"{parsed.cnpj_base}|{record.document}|{record.contract}|{record.due_date}"
        if record.operation == pefin.INCLUDE and key in listed:
            codes.append("S05")
        if record.operation == pefin.EXCLUDE:
            if key not in listed:
                codes.append("S06")
            if not pefin.field_of(record.line, 49, 50).strip():
                codes.append("S07")
        if codes:
            errors[record.sequence] = codes
        elif record.operation == pefin.INCLUDE:
            listed[key] = {"name": record.name, "amount_cents": record.amount_cents,
                           "listed_at": time.time(), "remessa": parsed.number}
        else:
            listed.pop(key, None)
    answer = pefin.answer(data, errors)
    kept = {"cnpj_base": parsed.cnpj_base, "number": parsed.number,
            "received_at": time.time(), "logon": parsed.logon,
            "records": [{"sequence": r.sequence, "operation": r.operation,
                         "document": r.document, "contract": r.contract,
                         "due_date": r.due_date, "amount_cents": r.amount_cents,
                         "name": r.name, "errors": errors.get(r.sequence, [])}
                        for r in parsed.records],
            "file": data.decode("latin-1"), "answer": answer.decode("latin-1")}
    _write(path, kept)
    state.save_listed(listed)
    return answer, kept


def received(settings: Settings, cnpj: str) -> list[dict[str, Any]]:
    """The remessas the sandbox received from a creditor (by its CNPJ), newest first."""
    folder = bureau_dir(settings) / cnpj[:8].zfill(9)
    if not folder.exists():
        return []
    found = [json.loads(p.read_text()) for p in sorted(folder.glob("remessa-*.json"))]
    return sorted(found, key=lambda k: k["number"], reverse=True)


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            log.debug("bureau sandbox: " + format, *args)

        def _reply(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            if self.path != PATH:
                self._reply(404, b"rota desconhecida no sandbox do bureau",
                            "text/plain; charset=utf-8")
                return
            auth = self.headers.get("Authorization") or ""
            try:
                user = base64.b64decode(auth.removeprefix("Basic ")).decode().split(":")[0]
            except ValueError:
                user = ""
            if not auth.startswith("Basic ") or not user:
                self._reply(401, "autenticação Basic (logon) ausente".encode(),
                            "text/plain; charset=utf-8")
                return
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                try:
                    answer, kept = judge(state, data, dt.date.today())
                except pefin.LayoutError as exc:
                    self._reply(400, f"arquivo fora do layout: {exc}".encode(),
                                "text/plain; charset=utf-8")
                    return
            log.info("bureau sandbox: remessa %s of %s, %d records", kept["number"],
                     kept["cnpj_base"], len(kept["records"]))
            self._reply(200, answer, "text/plain; charset=iso-8859-1")

    return Handler


class BureauSandbox:
    def __init__(self, settings: Settings) -> None:
        root = bureau_dir(settings)
        root.mkdir(parents=True, exist_ok=True)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0),
                                          _handler(_State(root, threading.Lock())))
        threading.Thread(target=self.server.serve_forever, name="bureau-sandbox",
                         daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start(settings: Settings | None = None) -> BureauSandbox | None:
    """Start the sandbox when no bureau is configured, and publish its address to this
    process's settings (and its children's). None when a real bureau is set."""
    settings = settings or get_settings()
    if settings.bureau_url is not None:
        return None
    sandbox = BureauSandbox(settings)
    os.environ["REGUA_BUREAU_SANDBOX_URL"] = sandbox.url
    get_settings.cache_clear()
    log.info("credit bureau: local PEFIN sandbox at %s (set REGUA_BUREAU_URL for a real"
             " gateway)", sandbox.url)
    return sandbox
