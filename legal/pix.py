"""PIX BR Code (Banco Central's EMV-MPM profile): payload builder, parser and QR image.

Pure functions: no database, no I/O. The field layout and the CRC are those of
`/work/shared/DOMAIN.md` ("Payments"), from the BCB "Manual de Padrões para Iniciação do Pix".
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

GUI = "br.gov.bcb.pix"
NAME_MAX = 25
CITY_MAX = 15
TXID_STATIC_MAX = 25
DESCRIPTION_MAX = 72
_TXID = re.compile(r"^[A-Za-z0-9]{1,25}$")


class PixError(ValueError):
    """A payload that cannot be built or does not parse."""


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def ascii_text(text: str, limit: int) -> str:
    """Unaccented printable ASCII, trimmed to `limit` (the BR Code allows no other)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = "".join(ch for ch in folded if 32 <= ord(ch) < 127)
    return " ".join(cleaned.split())[:limit].strip()


def _field(tag: str, value: str) -> str:
    if len(value) > 99:
        raise PixError(f"field {tag} longer than 99 characters")
    return f"{tag}{len(value):02d}{value}"


def txid_for(prefix: str, number: int) -> str:
    """A txid per installment: alphanumerics only, at most 25 (static-code limit)."""
    base = re.sub(r"[^A-Za-z0-9]", "", prefix)
    suffix = f"P{number:03d}"
    return (base[: TXID_STATIC_MAX - len(suffix)] + suffix).upper()


def build_payload(
    *,
    merchant_name: str,
    merchant_city: str,
    amount: Decimal | None,
    txid: str,
    key: str | None = None,
    location: str | None = None,
    description: str | None = None,
) -> str:
    """A BR Code: static with a PIX key, or dynamic (single use) with a location URL.

    Exactly one of `key` and `location` is given. The location is stored without its
    scheme, as the standard says; a dynamic code carries txid "***" in field 62 because
    the PSP's location resolves to the charge with the real txid.
    """
    if (key is None) == (location is None):
        raise PixError("give a PIX key (static) or a location (dynamic), not both")
    name = ascii_text(merchant_name, NAME_MAX)
    city = ascii_text(merchant_city, CITY_MAX)
    if not name or not city:
        raise PixError("merchant name and city are required")
    if location is None and not _TXID.match(txid):
        raise PixError("txid must be 1 to 25 letters or digits")
    account = _field("00", GUI)
    if key is not None:
        account += _field("01", key.strip())
    else:
        assert location is not None
        account += _field("25", re.sub(r"^https?://", "", location))
    if description:
        text = ascii_text(description, DESCRIPTION_MAX)
        if text:
            account += _field("02", text)
    parts = [_field("00", "01")]
    if location is not None:
        parts.append(_field("01", "12"))
    parts.append(_field("26", account))
    parts.append(_field("52", "0000"))
    parts.append(_field("53", "986"))
    if amount is not None:
        if amount <= 0:
            raise PixError("amount must be positive")
        parts.append(_field("54", f"{amount.quantize(Decimal('0.01'))}"))
    parts.append(_field("58", "BR"))
    parts.append(_field("59", name))
    parts.append(_field("60", city))
    parts.append(_field("62", _field("05", "***" if location is not None else txid)))
    body = "".join(parts) + "6304"
    return body + f"{crc16_ccitt_false(body.encode('ascii')):04X}"


@dataclass(frozen=True)
class ParsedPix:
    fields: dict[str, str]
    account: dict[str, str]
    additional: dict[str, str]

    @property
    def amount(self) -> Decimal | None:
        value = self.fields.get("54")
        return Decimal(value) if value else None

    @property
    def txid(self) -> str | None:
        return self.additional.get("05")

    @property
    def key(self) -> str | None:
        return self.account.get("01")

    @property
    def location(self) -> str | None:
        return self.account.get("25")


def _tlv(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        if pos + 4 > len(text):
            raise PixError("truncated field")
        tag, length = text[pos : pos + 2], text[pos + 2 : pos + 4]
        if not length.isdigit():
            raise PixError(f"bad length in field {tag}")
        end = pos + 4 + int(length)
        if end > len(text):
            raise PixError(f"field {tag} runs past the end")
        out[tag] = text[pos + 4 : end]
        pos = end
    return out


def parse_payload(payload: str) -> ParsedPix:
    """Parse and verify a BR Code (CRC last, format indicator first)."""
    if not payload.isascii() or len(payload) < 8 or payload[-8:-4] != "6304":
        raise PixError("payload does not end with a CRC field")
    expected = f"{crc16_ccitt_false(payload[:-4].encode('ascii')):04X}"
    if payload[-4:].upper() != expected:
        raise PixError("CRC does not match")
    fields = _tlv(payload)
    if not payload.startswith("000201"):
        raise PixError("payload format indicator must come first")
    account = _tlv(fields.get("26", ""))
    if account.get("00", "").lower() != GUI:
        raise PixError("merchant account is not a PIX account")
    return ParsedPix(fields=fields, account=account, additional=_tlv(fields.get("62", "")))


def qr_png(payload: str, *, scale: int = 6) -> bytes:
    """The QR image of a payload as PNG (error correction M, as the BCB recommends)."""
    import segno

    buffer = io.BytesIO()
    segno.make_qr(payload, error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
