"""PIX BR Codes, boletos and CNAB return files against the worked examples of DOMAIN.md."""

from datetime import date
from decimal import Decimal

import pytest

from legal import boleto, cnab, pix

EXAMPLE_LINE = "00190500954014481606906809350314337370000000100"
EXAMPLE_BARCODE = "00193373700000001000500940144816060680935031"


def test_crc_check_value() -> None:
    assert f"{pix.crc16_ccitt_false(b'123456789'):04X}" == "29B1"


def test_static_payload_fields_lengths_and_crc() -> None:
    payload = pix.build_payload(
        merchant_name="Assessoria São João de Cobrança Ltda",
        merchant_city="São José dos Campos",
        amount=Decimal("123.4"),
        txid="ACORDO123P001",
        key="12345678000195",
    )
    assert payload.isascii()
    assert payload.startswith("000201")
    assert "0014br.gov.bcb.pix" in payload
    assert "0114" + "12345678000195" in payload
    assert "5406123.40" in payload
    assert "5802BR" in payload
    # Name cut to 25, city to 15, accents removed.
    assert "5925Assessoria Sao Joao de Co" in payload
    assert "6015Sao Jose dos Ca" in payload
    assert "62170513ACORDO123P001" in payload
    assert payload[-8:-4] == "6304"
    expected = f"{pix.crc16_ccitt_false(payload[:-4].encode()):04X}"
    assert payload[-4:] == expected
    parsed = pix.parse_payload(payload)
    assert parsed.amount == Decimal("123.40")
    assert parsed.txid == "ACORDO123P001"
    assert parsed.key == "12345678000195"


def test_dynamic_payload_has_location_without_scheme_and_single_use() -> None:
    payload = pix.build_payload(
        merchant_name="Regua", merchant_city="Sao Paulo", amount=Decimal("10.00"),
        txid="X", location="https://psp.example/qr/v2/abc",
    )
    assert payload.startswith("0002010102122")
    parsed = pix.parse_payload(payload)
    assert parsed.location == "psp.example/qr/v2/abc"
    assert parsed.txid == "***"
    assert parsed.fields["01"] == "12"


def test_payload_with_broken_crc_is_refused() -> None:
    payload = pix.build_payload(merchant_name="A", merchant_city="B", amount=None,
                                txid="T1", key="a@b.c")
    wrong = payload[:-1] + ("0" if payload[-1] != "0" else "1")
    with pytest.raises(pix.PixError):
        pix.parse_payload(wrong)


def test_txid_per_installment_is_alphanumeric_and_short() -> None:
    txid = pix.txid_for("0193a5b2-7c1d-7e00-8000-00000000abcd", 12)
    assert txid.isalnum() and len(txid) <= 25 and txid.endswith("P012")
    with pytest.raises(pix.PixError):
        pix.build_payload(merchant_name="A", merchant_city="B", amount=None,
                          txid="com-hifen", key="k")


def test_qr_png_is_an_image() -> None:
    png = pix.qr_png("000201test")
    assert png.startswith(b"\x89PNG")


def test_worked_example_line_to_barcode_and_back() -> None:
    assert boleto.barcode_from_line(EXAMPLE_LINE) == EXAMPLE_BARCODE
    assert boleto.line_from_barcode(EXAMPLE_BARCODE) == EXAMPLE_LINE
    parsed = boleto.parse(EXAMPLE_LINE, today=date(2008, 1, 10))
    assert parsed.bank == "001"
    assert parsed.amount == Decimal("1.00")
    assert parsed.due_date == date(2007, 12, 31)


def test_worked_example_regenerated_from_its_parts() -> None:
    slip = boleto.generate("001", Decimal("1.00"), date(2007, 12, 31),
                           "0500940144816060680935031")
    assert slip.barcode == EXAMPLE_BARCODE
    assert slip.line == EXAMPLE_LINE


def test_factor_restart() -> None:
    assert boleto.due_factor(date(2007, 12, 31)) == 3737
    assert boleto.due_factor(date(2025, 2, 21)) == 9999
    assert boleto.due_factor(date(2025, 2, 22)) == 1000
    assert boleto.due_factor(date(2026, 1, 1)) == 1313
    # Factor 1313 means 2026-01-01 today, though it meant 2001-05-12 in the first cycle.
    assert boleto.due_date_from_factor(1313, date(2026, 12, 5)) == date(2026, 1, 1)
    assert boleto.due_date_from_factor(1313, date(2001, 5, 1)) == date(2001, 5, 12)
    assert boleto.due_date_from_factor(3737, date(2008, 1, 1)) == date(2007, 12, 31)
    assert boleto.due_date_from_factor(0, date(2026, 1, 1)) is None


def test_generated_slip_after_restart_round_trips() -> None:
    nosso = boleto.nosso_numero_bb("1234567", 42)
    slip = boleto.generate("001", Decimal("250.75"), date(2027, 3, 10),
                           boleto.free_field_bb(nosso, "17"))
    assert len(slip.barcode) == 44 and len(slip.line) == 47
    back = boleto.parse(slip.formatted_line, today=date(2026, 12, 5))
    assert back.due_date == date(2027, 3, 10)
    assert back.amount == Decimal("250.75")
    assert nosso in back.free_field


@pytest.mark.parametrize("position", [0, 9, 20, 31, 32, 40])
def test_a_changed_digit_is_caught(position: int) -> None:
    digits = list(EXAMPLE_LINE)
    digits[position] = str((int(digits[position]) + 1) % 10)
    with pytest.raises(boleto.BoletoError):
        boleto.barcode_from_line("".join(digits))


def test_barcode_general_digit_checked() -> None:
    wrong = EXAMPLE_BARCODE[:4] + "4" + EXAMPLE_BARCODE[5:]
    with pytest.raises(boleto.BoletoError):
        boleto.check_barcode(wrong)


def test_i2of5_bars_count() -> None:
    runs = boleto.interleaved_2of5(EXAMPLE_BARCODE)
    # start (4) + 22 pairs x 10 elements + stop (3)
    assert len(runs) == 4 + 22 * 10 + 3
    assert sum(1 for bar, width in runs if width == 3) == 22 * 4 + 1


def _payments() -> list[cnab.SlipPayment]:
    return [
        cnab.SlipPayment("12345670000000001", Decimal("100.00"), Decimal("100.00"),
                         date(2026, 12, 1), date(2026, 12, 1), fee=Decimal("2.50")),
        cnab.SlipPayment("12345670000000002", Decimal("100.00"), Decimal("60.00"),
                         date(2026, 12, 2), date(2026, 12, 1)),
        cnab.SlipPayment("12345670000000003", Decimal("100.00"), Decimal("0"),
                         date(2026, 12, 2), date(2026, 12, 1), occurrence="02"),
    ]


@pytest.mark.parametrize("layout", ["240", "400"])
def test_return_file_round_trip(layout: str) -> None:
    data = (cnab.write_240("001", _payments(), generated=date(2026, 12, 3))
            if layout == "240" else cnab.write_400(_payments(), generated=date(2026, 12, 3)))
    parsed = cnab.parse(data)
    assert parsed.layout == layout
    assert parsed.bank == "001"
    assert [p.nosso_numero for p in parsed.paid] == ["12345670000000001", "12345670000000002"]
    first = parsed.paid[0]
    assert first.amount_paid == Decimal("100.00")
    assert first.fee == Decimal("2.50")
    assert first.paid_on == date(2026, 12, 1)
    assert parsed.paid[1].amount_paid == Decimal("60.00")
    assert [(o.nosso_numero, o.occurrence) for o in parsed.other] == [
        ("12345670000000003", "02")]


def test_return_file_with_a_short_line_names_it() -> None:
    data = cnab.write_400(_payments(), generated=date(2026, 12, 3))
    lines = data.split(b"\r\n")
    lines[2] = lines[2][:-5]
    with pytest.raises(cnab.CnabError, match="linha 3"):
        cnab.parse(b"\r\n".join(lines))
