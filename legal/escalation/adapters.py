"""Credit bureaus behind one interface: `BureauAdapter.include` lists debts,
`BureauAdapter.remove` takes listings down. Each takes a numbered batch and answers, per
debt, whether the bureau accepted it; the same batch sent again gives the same file, so
a retry after a crash is recognised by the bureau (same remessa number) and answered
with the answer it gave the first time.

One implementation: Serasa Experian's PEFIN remessa (`legal.escalation.pefin`, the
"SERASA-CONVEM04" layout), posted as a file to a gateway (`REGUA_BUREAU_URL`, HTTP Basic
with `REGUA_BUREAU_LOGON` / `REGUA_BUREAU_PASSWORD`), which answers with the return
file. Serasa's own transports (its file transfer service) carry the same file; the
gateway is the seam where one plugs in. With no URL the local bureau sandbox
(`legal.escalation.bureau_sandbox`) answers on loopback.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import httpx

from core.settings import Settings
from legal.escalation import pefin


class BureauUnavailable(RuntimeError):
    """The bureau could not be reached, or answered something other than a return file."""


@dataclass(frozen=True)
class Listing:
    """One debt as a bureau needs it. `reference` is the escalation's id."""

    reference: uuid.UUID
    document_kind: str
    document: str
    name: str
    contract: str
    due_date: dt.date
    amount: Decimal
    street: str = ""
    city: str = ""
    state: str = ""
    cep: str = ""
    phone: str = ""  # E.164
    reason: str = pefin.REASON_PAID  # why a listing is removed

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(reference=str(self.reference), due_date=self.due_date.isoformat(),
                    amount=str(self.amount))
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Listing:
        return cls(**{**data, "reference": uuid.UUID(data["reference"]),
                      "due_date": dt.date.fromisoformat(data["due_date"]),
                      "amount": Decimal(data["amount"])})


@dataclass(frozen=True)
class Batch:
    """What one remessa carries: its number (sequential per creditor), the day, and who
    reports (the creditor, as CDC art. 43 makes it responsible for the record)."""

    number: int
    day: dt.date
    creditor_cnpj: str
    creditor_name: str
    listings: tuple[Listing, ...]


@dataclass(frozen=True)
class Outcome:
    reference: uuid.UUID
    accepted: bool
    codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exchange:
    """What was sent, what came back, and each debt's outcome."""

    sent: bytes
    answer: bytes
    outcomes: tuple[Outcome, ...]


class BureauAdapter(ABC):
    name: str

    @abstractmethod
    async def include(self, batch: Batch) -> Exchange: ...

    @abstractmethod
    async def remove(self, batch: Batch) -> Exchange: ...


def _phone_parts(e164: str) -> tuple[str, str]:
    digits = e164.removeprefix("+55") if e164.startswith("+55") else ""
    return (digits[:2].zfill(4), digits[2:]) if len(digits) >= 10 else ("", "")


def _agency_phone(text: str) -> tuple[str, str]:
    digits = re.sub(r"\D", "", text)
    return (digits[:2].zfill(4), digits[2:][-8:].zfill(8)) if len(digits) >= 10 \
        else ("0000", "00000000")


class SerasaPefin(BureauAdapter):
    """Serasa Experian PEFIN over a file gateway (see the module's docstring)."""

    name = "serasa_pefin"

    def __init__(self, settings: Settings) -> None:
        url = settings.bureau_url or settings.bureau_sandbox_url
        if url is None:
            raise BureauUnavailable("nenhum bureau configurado (REGUA_BUREAU_URL) e o"
                                    " sandbox local não está no ar")
        self.url = url.rstrip("/") + "/pefin/remessa"
        self.sandbox = settings.bureau_url is None
        self.logon = settings.bureau_logon
        self.password = (settings.bureau_password.get_secret_value()
                         if settings.bureau_password else "")
        self.contact = settings.agency_name
        self.ddd, self.phone = _agency_phone(settings.agency_phone)

    def file(self, batch: Batch, operation: str) -> bytes:
        informant = pefin.Informant(cnpj=batch.creditor_cnpj, contact_name=self.contact,
                                    ddd=self.ddd, phone=self.phone, logon=self.logon)
        details = []
        for item in batch.listings:
            ddd, phone = _phone_parts(item.phone)
            details.append(pefin.Detail(
                operation=operation, due_date=item.due_date, document_kind=item.document_kind,
                document=item.document, name=item.name, amount=item.amount,
                contract=item.contract, street=item.street, city=item.city, state=item.state,
                cep=item.cep, ddd=ddd, phone=phone,
                reason=item.reason if operation == pefin.EXCLUDE else ""))
        return pefin.write(informant, batch.day, batch.number, details)

    async def _exchange(self, batch: Batch, operation: str) -> Exchange:
        try:
            sent = self.file(batch, operation)
        except pefin.LayoutError as exc:
            raise BureauUnavailable(f"remessa fora do layout: {exc}") from exc
        try:
            async with httpx.AsyncClient(timeout=60) as client:
                reply = await client.post(
                    self.url, content=sent, auth=(self.logon, self.password),
                    headers={"Content-Type": "text/plain; charset=iso-8859-1"})
        except httpx.HTTPError as exc:
            raise BureauUnavailable(f"bureau inacessível em {self.url}: {exc}") from exc
        if reply.status_code != 200:
            raise BureauUnavailable(f"bureau respondeu {reply.status_code}: {reply.text[:300]}")
        try:
            returned = pefin.read(reply.content)
        except pefin.LayoutError as exc:
            raise BureauUnavailable(f"retorno do bureau fora do layout: {exc}") from exc
        if returned.kind != pefin.RETURN or returned.number != batch.number:
            raise BureauUnavailable(f"retorno de outra remessa ({returned.number},"
                                    f" tipo {returned.kind!r})")
        if returned.header_errors:
            codes = tuple(returned.header_errors)
            return Exchange(sent, reply.content,
                            tuple(Outcome(i.reference, False, codes) for i in batch.listings))
        by_sequence = {r.sequence: r for r in returned.records}
        outcomes = []
        for n, item in enumerate(batch.listings, start=2):
            record = by_sequence.get(n)
            if record is None:
                outcomes.append(Outcome(item.reference, False, ("---",)))
            else:
                outcomes.append(Outcome(item.reference, not record.errors, tuple(record.errors)))
        return Exchange(sent, reply.content, tuple(outcomes))

    async def include(self, batch: Batch) -> Exchange:
        return await self._exchange(batch, pefin.INCLUDE)

    async def remove(self, batch: Batch) -> Exchange:
        return await self._exchange(batch, pefin.EXCLUDE)


def adapter_for(settings: Settings) -> BureauAdapter:
    return SerasaPefin(settings)
