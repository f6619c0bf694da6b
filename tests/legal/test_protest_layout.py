"""The CRA files against FEBRABAN's layouts, position by position. Positions are written
out here as the layout prints them (1-based, inclusive), not taken from the module's own
field table, so a shifted field fails."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from legal.protest import layout

DAY = dt.date(2026, 12, 7)
WHO = layout.Presenter("123", "Régua Assessoria de Cobrança")


def at(record: str, start: int, end: int) -> str:
    return record[start - 1:end]


def title(our_number: str, *, municipality: str = "3550308", place: str = "São Paulo",
          species: str = "DMI", amount: str = "1500.00", balance: str = "1234.56",
          state: str = "SP", document: str = "52998224725", kind: str = "002") -> layout.Title:
    return layout.Title(
        our_number=our_number, species=species, title_number="CT-9/3",
        issued_on=dt.date(2025, 1, 10), due_on=dt.date(2025, 2, 10),
        amount=Decimal(amount), balance=Decimal(balance), municipality=municipality,
        place=place, assignor_code="11222333000181", creditor_name="Crédito Ação Ltda.",
        creditor_document="11222333000181", creditor_address="Rua do Credor, 100",
        creditor_zip="01001000", creditor_city="São Paulo", creditor_state="SP",
        debtor_name="José Conceição da Silva", debtor_document_kind=kind,
        debtor_document=document, debtor_address="Rua das Flores, 12 - Apto 3",
        debtor_zip="04567000", debtor_city=place, debtor_state=state,
        debtor_district="Jardim Paulistano")


def test_remessa_records_field_by_field() -> None:
    titles = [title("000000000001"), title("000000000002", species="NP", balance="10.00"),
              title("000000000003", municipality="2304400", place="Fortaleza", state="CE",
                    document="11222333000181", kind="001")]
    records = layout.remessa(WHO, DAY, 42, titles)
    data = layout.encode(records)
    assert data.endswith(b"\r\n") and data.count(b"\r\n") == len(records) == 7
    assert all(len(r) == 600 for r in records)
    assert data.decode("ascii")  # nothing outside ASCII
    # Two praças, two batches in municipality order: Fortaleza (2304400) then São Paulo.
    assert [r[0] for r in records] == ["0", "1", "9", "0", "1", "1", "9"]
    header = records[3]
    assert at(header, 1, 1) == "0"
    assert at(header, 2, 4) == "123"
    assert at(header, 5, 44) == "REGUA ASSESSORIA DE COBRANCA".ljust(40)
    assert at(header, 45, 52) == "07122026"
    assert at(header, 53, 61) == "BFOSDTTPR"
    assert at(header, 62, 67) == "000042"
    assert at(header, 68, 71) == "0002"  # transaction records
    assert at(header, 72, 75) == "0002"  # titles (first debtor)
    assert at(header, 76, 79) == "0001"  # indications: the DMI
    assert at(header, 80, 83) == "0001"  # originals: the NP
    assert at(header, 84, 89) == " " * 6
    assert at(header, 90, 92) == "043"
    assert at(header, 93, 99) == "3550308"
    assert at(header, 100, 596) == " " * 497
    assert at(header, 597, 600) == "0001"

    t = records[4]
    expected = {
        (1, 1): "1", (2, 4): "123", (5, 19): "11222333000181 ",
        (20, 64): "CREDITO ACAO LTDA.".ljust(45), (65, 109): "CREDITO ACAO LTDA.".ljust(45),
        (110, 123): "11222333000181", (124, 168): "RUA DO CREDOR, 100".ljust(45),
        (169, 176): "01001000", (177, 196): "SAO PAULO".ljust(20), (197, 198): "SP",
        (199, 213): "000000000001   ", (214, 216): "DMI", (217, 227): "CT-9/3     ",
        (228, 235): "10012025", (236, 243): "10022025", (244, 246): "001",
        (247, 260): "00000000150000", (261, 274): "00000000123456",
        (275, 294): "SAO PAULO".ljust(20), (295, 295): "M", (296, 296): "N",
        (297, 297): "1", (298, 342): "JOSE CONCEICAO DA SILVA".ljust(45),
        (343, 345): "002", (346, 359): "00052998224725", (360, 370): " " * 11,
        (371, 415): "RUA DAS FLORES, 12 - APTO 3".ljust(45), (416, 423): "04567000",
        (424, 443): "SAO PAULO".ljust(20), (444, 445): "SP",
        # Fields 31 to 38 are the cartório's: zeros and blanks in a remessa.
        (446, 447): "00", (448, 457): " " * 10, (458, 458): " ", (459, 466): "0" * 8,
        (467, 476): "0" * 10,
        (477, 477): "D",  # DMI, endorsement by mandate, praça in SP (Anexo 3)
        (478, 485): "0" * 8, (486, 487): "  ", (488, 507): "JARDIM PAULISTANO".ljust(20),
        (508, 517): "0" * 10, (518, 523): "0" * 6, (524, 533): "0" * 10, (534, 538): "0" * 5,
        (539, 553): "0" * 15, (554, 556): "000", (557, 557): " ", (558, 565): " " * 8,
        (566, 566): " ", (567, 567): " ", (568, 577): "0" * 10, (578, 596): " " * 19,
        (597, 600): "0002",
    }
    for (start, end), value in expected.items():
        assert at(t, start, end) == value, (start, end, at(t, start, end))
    np_title = records[5]
    assert at(np_title, 214, 216) == "NP " and at(np_title, 477, 477) == " "
    assert at(np_title, 597, 600) == "0003"

    trailer = records[6]
    assert at(trailer, 1, 1) == "9" and at(trailer, 2, 4) == "123"
    assert at(trailer, 5, 44) == at(header, 5, 44) and at(trailer, 45, 52) == "07122026"
    # Security sum of header fields 09 to 12: 2 records + 2 titles + 1 + 1.
    assert at(trailer, 53, 57) == "00006"
    assert at(trailer, 58, 75) == "000000000000124456"  # 1234.56 + 10.00, field 18
    assert at(trailer, 76, 596) == " " * 521
    assert at(trailer, 597, 600) == "0004"

    fortaleza = records[1]
    assert at(records[0], 93, 99) == "2304400" and at(records[0], 597, 600) == "0001"
    assert at(fortaleza, 343, 345) == "001" and at(fortaleza, 346, 359) == "11222333000181"
    assert at(fortaleza, 477, 477) == " "  # a DMI by mandate, but CE is not in Anexo 3
    assert at(records[2], 53, 57) == "00003" and at(records[2], 58, 75) == "0" * 12 + "123456"


def test_declaration_follows_anexo_3() -> None:
    assert layout.declaration("DMI", "M", "CE") == ""
    assert layout.declaration("DMI", "M", "SP") == "D"
    assert layout.declaration("DSI", "M", "SP") == ""
    assert layout.declaration("DSI", "M", "GO") == "D"
    assert layout.declaration("CBI", "", "AM") == "C"
    assert layout.declaration("NP", "M", "SP") == ""


def test_numbers_are_never_cut() -> None:
    with pytest.raises(ValueError, match="não cabe em 14 posições"):
        layout.remessa(WHO, DAY, 1, [title("1", amount="1000000000000.00")])
    with pytest.raises(ValueError, match="não cabe em 6 posições"):
        layout.remessa(WHO, DAY, 1_000_000, [title("1")])


def test_desistencia_request_records() -> None:
    items = [layout.Request("01", "3550308", "A123", dt.date(2026, 11, 30), "CT-9/3",
                            "José da Silva", Decimal("1500.00"), "000000000001"),
             layout.Request("02", "3550308", "77", None, "X/1", "Ana", Decimal("2.50"),
                            "000000000002")]
    records = layout.requests(WHO, DAY, "S", items)
    assert all(len(r) == 127 for r in records)
    assert [r[0] for r in records] == ["0", "1", "2", "8", "1", "2", "8", "9"]
    header = records[0]
    assert at(header, 2, 4) == "123"
    assert at(header, 5, 49) == "REGUA ASSESSORIA DE COBRANCA".ljust(45)
    assert at(header, 50, 57) == "07122026"
    assert at(header, 58, 62) == "00002" and at(header, 63, 67) == "00002"
    assert at(header, 68, 122) == " " * 55 and at(header, 123, 127) == "00001"
    notary = records[1]
    assert at(notary, 2, 3) == "01" and at(notary, 4, 8) == "00001"
    assert at(notary, 9, 15) == "3550308" and at(notary, 123, 127) == "00002"
    request = records[2]
    assert at(request, 2, 11) == "A123      "
    assert at(request, 12, 19) == "30112026"
    assert at(request, 20, 30) == "CT-9/3     "
    assert at(request, 31, 75) == "JOSE DA SILVA".ljust(45)
    assert at(request, 76, 89) == "00000000150000"
    assert at(request, 90, 90) == "S"
    assert at(request, 91, 102) == " " * 12
    assert at(request, 103, 114) == "000000000001"
    assert at(request, 123, 127) == "00003"
    assert at(records[3], 2, 3) == "01" and at(records[3], 4, 8) == "00002"
    assert at(records[5], 12, 19) == "00000000"  # no protocol date: zeros
    trailer = records[7]
    assert at(trailer, 58, 62) == "00004"  # the header's 2 and the 2 type-2 records
    assert at(trailer, 63, 76) == "00000000150250"
    assert at(trailer, 123, 127) == "00008"


# ---- return files written by the test, from the remessa, as the layout describes ---------

def put(record: str, start: int, end: int, value: str) -> str:
    assert len(value) == end - start + 1, (start, end, value)
    return record[:start - 1] + value + record[end:]


def as_return(records: list[str], transaction: str,
              changes: dict[str, dict[tuple[int, int], str]]) -> bytes:
    """The confirmação keeps the remessa and changes header fields 05-07 and transaction
    fields 31-38; the retorno is the cartório's own (trailer: count and sum)."""
    out = []
    count = 0
    for record in records:
        if record[0] == "0":
            record, count = put(record, 53, 61, f"SDTBFO{transaction}"), 0
        elif record[0] == "1":
            count += 1
            for (start, end), value in changes.get(at(record, 199, 213).strip(), {}).items():
                record = put(record, start, end, value)
        elif record[0] == "9" and transaction == "RTP":
            record = put(record, 53, 57, f"{count:05d}")
        out.append(record)
    return ("\r\n".join(out) + "\r\n").encode("ascii")


def test_confirmation_and_return_are_read() -> None:
    records = layout.remessa(WHO, DAY, 7, [title("000000000001"), title("000000000002")])
    confirmation = as_return(records, "CRT", {
        "000000000001": {(446, 447): "03", (448, 457): "0000045678", (459, 466): "08122026"},
        "000000000002": {(458, 458): "5", (486, 487): "14", (558, 565): "22      "},
    })
    read = layout.read_return(confirmation)
    assert read.kind == "confirmacao" and read.presenter == "123" and not read.malformed
    first, second = (t.values for t in read.titles)
    assert first["notary"] == "03" and first["protocol"] == "0000045678"
    assert first["protocol_on"] == dt.date(2026, 12, 8)
    assert second["occurrence"] == "5" and second["irregularity"] == "14"
    retorno = as_return(records, "RTP", {
        "000000000001": {(458, 458): "2", (478, 485): "15122026", (467, 476): "0000003150"}})
    read = layout.read_return(retorno)
    assert read.kind == "retorno" and read.titles[0].values["costs"] == Decimal("31.50")


def test_malformed_records_and_files_name_line_and_field() -> None:
    records = layout.remessa(WHO, DAY, 7, [title("000000000001"), title("000000000002")])
    bad_date = as_return(records, "CRT", {"000000000002": {(459, 466): "31022026"}})
    read = layout.read_return(bad_date)
    assert [t.values["our_number"] for t in read.titles] == ["000000000001"]
    assert [str(e) for e in read.malformed] == [
        "linha 3, campo 34 'Data do Protocolo' (posições 459–466): data inválida '31022026'"
        " (DDMMAAAA)"]
    short = as_return(records, "CRT", {})
    lines = short.split(b"\r\n")
    lines[1] = lines[1][:599]
    with pytest.raises(layout.LayoutError, match="linha 2: o registro tem 599 posições"):
        layout.read_return(b"\r\n".join(lines))
    wrong_sum = as_return(records, "CRT", {})
    lines = wrong_sum.split(b"\r\n")
    lines[3] = lines[3][:57] + b"000000000000000001" + lines[3][75:]
    with pytest.raises(layout.LayoutError, match="linha 4, campo 06 'Somatório de Segurança"):
        layout.read_return(b"\r\n".join(lines))
    with pytest.raises(layout.LayoutError, match="é uma remessa"):
        layout.read_return(layout.encode(records))
    request = layout.encode(layout.requests(WHO, DAY, "S", []))
    with pytest.raises(layout.LayoutError, match="pedido de desistência ou cancelamento"):
        layout.read_return(request)
    no_trailer = b"\r\n".join(as_return(records, "RTP", {}).split(b"\r\n")[:3])
    with pytest.raises(layout.LayoutError, match="termina sem o trailer"):
        layout.read_return(no_trailer)


def test_the_sandbox_cartorio_answers_a_remessa_the_reader_accepts() -> None:
    from legal.protest import sandbox

    records = layout.remessa(WHO, DAY, 7, [title("000000000001"), title("000000000002"),
                                           title("000000000003", municipality="2304400")])
    answer = sandbox.retorno(layout.encode(records), {"000000000002": {
        "notary": "01", "protocol": "77", "occurrence": "2", "occurrence_on": DAY}})
    read = layout.read_return(answer)
    assert read.kind == "retorno" and len(read.titles) == 1 and not read.malformed
    values = read.titles[0].values
    assert (values["our_number"], values["occurrence"], values["protocol"]) == (
        "000000000002", "2", "77")
    assert values["balance"] == Decimal("1234.56")
