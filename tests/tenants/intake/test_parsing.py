"""Reading and validating creditor files: encodings, delimiters, formats, row rules."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import polars as pl
import pytest

from core.models import ImportMode
from tenants.intake.formats import parsing, reader
from tenants.intake.load import file_keys
from tenants.intake.load.bloom_filter import BloomFilter
from tenants.intake.rules.rows import Batch

HEADER = "CPF/CNPJ;Nome do Cliente;Nº Contrato;Parcela;Vencimento;Valor Original"


def parse(path: Path, mode: ImportMode = ImportMode.INCREMENTAL,
          layout: dict | None = None) -> tuple[parsing.FileFormat, Batch]:
    fmt = parsing.sniff(path)
    mapping = parsing.match_headers(fmt.headers, layout, mode)
    batches = list(parsing.read_batches(path, fmt, mapping, mode))
    merged = Batch(
        accepted=pl.concat([b.accepted for b in batches]),
        rejected=pl.concat([b.rejected for b in batches]),
        warnings=pl.concat([b.warnings for b in batches]),
        rows=sum(b.rows for b in batches),
    )
    return fmt, merged


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "c.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def rejected_reasons(batch: Batch) -> dict[int, str]:
    return dict(zip(batch.rejected["row"], batch.rejected["motivo"], strict=True))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1"])
def test_encodings_are_detected_and_accents_survive(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path, f"{HEADER}\n529.982.247-25;João Conceição;C1;1;10/01/2025;10,00\n",
                 encoding)
    fmt, batch = parse(path)
    assert fmt.headers[2] == "Nº Contrato"
    assert batch.accepted["name"].to_list() == ["João Conceição"]


def test_excel_unicode_text_export_is_read(tmp_path: Path, monkeypatch) -> None:
    # Excel's "Unicode text": UTF-16 with a byte order mark, tab-separated. Small chunks
    # make records and characters cross chunk boundaries.
    monkeypatch.setattr(reader, "CHUNK_BYTES", 7)
    text = (HEADER.replace(";", "\t") + "\r\n"
            + "52998224725\tJoão Ação\tC1\t1\t10/01/2025\t1.234,56\r\n"
            + '52998224725\t"Ana\tdo Ó"\tC2\t1\t10/01/2025\t7,00\r\n')
    fmt, batch = parse(write(tmp_path, text, "utf-16"))
    assert (fmt.encoding, fmt.delimiter) == ("utf-16", "\t")
    assert batch.accepted.select("row", "name", "amount").rows() == [
        (2, "João Ação", "1234.56"), (3, "Ana do Ó", "7.00")]


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"])
def test_delimiters_are_detected(tmp_path: Path, delimiter: str) -> None:
    header = HEADER.replace(";", delimiter)
    row = delimiter.join(["52998224725", "Ana", "C1", "1", "10/01/2025", '"1.234,56"'])
    fmt, batch = parse(write(tmp_path, f"{header}\n{row}\n"))
    assert fmt.delimiter == delimiter
    assert batch.accepted["amount"].to_list() == ["1234.56"]


def test_quoted_delimiters_and_line_breaks_keep_spreadsheet_row_numbers(tmp_path: Path) -> None:
    text = (f"{HEADER}\n"
            '52998224725;"Silva; Ana\nSegunda linha";C1;1;10/01/2025;10,00\n'
            "\n"
            "111.111.111-11;Bad;C2;1;10/01/2025;10,00\n")
    _, batch = parse(write(tmp_path, text))
    assert batch.accepted["name"].to_list() == ["Silva; Ana Segunda linha"]
    assert batch.accepted["row"].to_list() == [2]
    # Row 3 is the blank line (skipped, not counted); the bad row is row 4.
    assert list(rejected_reasons(batch)) == [4]
    assert batch.rows == 2


@pytest.mark.parametrize(("raw", "expected"), [
    ("1.234,56", "1234.56"), ("R$ 1.234,56", "1234.56"), ("1234.56", "1234.56"),
    ("1,234.56", "1234.56"), ("12,5", "12.50"), ("1.234", "1234.00"), ("R$1.000.000,00",
                                                                         "1000000.00"),
    ("99.999", "99999.00"), ("0,5", "0.50"), ("1234.5678", "1234.57"),
])
def test_amount_formats(tmp_path: Path, raw: str, expected: str) -> None:
    _, batch = parse(write(tmp_path, f'{HEADER}\n52998224725;Ana;C1;1;10/01/2025;"{raw}"\n'))
    assert batch.accepted["amount"].to_list() == [expected]


def test_an_amount_that_loses_a_digit_is_read_as_decimal_and_says_so(tmp_path: Path) -> None:
    """'1,234' may be US thousands; read with the decimal comma it is rounded, so the
    creditor gets a warning naming the row and column, and the unambiguous rows none."""
    rows = ["1,234", "1.234,56", "12,50", "1234.5678"]
    text = HEADER + "\n" + "".join(
        f'52998224725;Ana;C{i};1;10/01/2025;"{raw}"\n' for i, raw in enumerate(rows))
    _, batch = parse(write(tmp_path, text))
    assert batch.accepted["amount"].to_list() == ["1.23", "1234.56", "12.50", "1234.57"]
    warned = batch.warnings.row(0, named=True)
    assert batch.warnings.height == 1 and warned["linha"] == 2
    assert warned["coluna"] == "Valor Original" and warned["valor"] == "1,234"
    assert "separa milhares" in warned["aviso"]


@pytest.mark.parametrize(("raw", "reason"), [
    ("0,00", "maior que zero"), ("-10,00", "maior que zero"), ("abc", "valor inválido"),
    ("", "valor vazio"),
])
def test_bad_amounts_are_rejected_with_reason(tmp_path: Path, raw: str, reason: str) -> None:
    _, batch = parse(write(tmp_path, f"{HEADER}\n52998224725;Ana;C1;1;10/01/2025;{raw}\n"))
    assert batch.accepted.height == 0
    assert reason in rejected_reasons(batch)[2]
    assert "Valor Original" in rejected_reasons(batch)[2]


@pytest.mark.parametrize(("raw", "expected"), [
    ("10/01/2025", dt.date(2025, 1, 10)), ("10/01/25", dt.date(2025, 1, 10)),
    ("2025-01-10", dt.date(2025, 1, 10)), ("1/2/2025", dt.date(2025, 2, 1)),
    ("10.01.2025", dt.date(2025, 1, 10)), ("10-01-2025", dt.date(2025, 1, 10)),
    ("2025/01/10", dt.date(2025, 1, 10)), ("45678", dt.date(2025, 1, 21)),
    # Dates with a time of day, as database and ERP exports write them.
    ("10/01/2025 00:00:00", dt.date(2025, 1, 10)), ("10/01/2025 23:59", dt.date(2025, 1, 10)),
    ("2025-01-10 00:00:00", dt.date(2025, 1, 10)),
    ("2025-01-10T00:00:00.000-03:00", dt.date(2025, 1, 10)),
])
def test_date_formats(tmp_path: Path, raw: str, expected: dt.date) -> None:
    _, batch = parse(write(tmp_path, f"{HEADER}\n52998224725;Ana;C1;1;{raw};10,00\n"))
    assert batch.accepted["due_date"].to_list() == [expected]


@pytest.mark.parametrize("raw", ["31/02/2025", "2025-13-01", "amanhã", "10/01", "10/01 12:00",
                                 "31/02/2025 00:00:00"])
def test_bad_dates_are_rejected_naming_the_column(tmp_path: Path, raw: str) -> None:
    _, batch = parse(write(tmp_path, f"{HEADER}\n52998224725;Ana;C1;1;{raw};10,00\n"))
    reason = rejected_reasons(batch)[2]
    assert "Vencimento: data de vencimento inválida" in reason
    assert raw in reason


def test_documents_padded_and_alphanumeric_cnpj(tmp_path: Path) -> None:
    text = (f"{HEADER}\n"
            "52998224725;CPF inteiro;C1;1;10/01/2025;1\n"
            "1234567890;CPF sem zero;C2;1;10/01/2025;1\n"  # 01234567890 lost its zero
            "191000191;CPF sem dois zeros;C3;1;10/01/2025;1\n"  # 00191000191
            "1222333000128;CNPJ sem zero;C4;1;10/01/2025;1\n"  # 01222333000128
            "12.ABC.345/01DE-35;CNPJ alfanumérico;C5;1;10/01/2025;1\n"
            "123;Curto;C6;1;10/01/2025;1\n")
    _, batch = parse(write(tmp_path, text))
    docs = dict(zip(batch.accepted["contract"], batch.accepted["document"], strict=True))
    kinds = dict(zip(batch.accepted["contract"], batch.accepted["document_kind"], strict=True))
    assert docs["C1"] == "52998224725"
    assert docs["C2"] == "01234567890" and kinds["C2"] == "cpf"
    assert docs["C3"] == "00191000191"
    assert docs["C5"] == "12ABC34501DE35" and kinds["C5"] == "cnpj"
    assert docs["C4"] == "01222333000128" and kinds["C4"] == "cnpj"
    assert "C6" not in docs


@pytest.mark.parametrize("filter_bits", [None, 8])
def test_duplicates_name_the_first_row_even_across_batches(tmp_path: Path, monkeypatch,
                                                            filter_bits: int | None) -> None:
    monkeypatch.setattr(reader, "CHUNK_BYTES", 64)  # many small batches
    if filter_bits is not None:  # a saturated filter: every key is searched for
        monkeypatch.setattr(file_keys, "BloomFilter", lambda: BloomFilter(filter_bits))
    lines = [HEADER] + [f"52998224725;Ana;C{i};1;10/01/2025;10,00" for i in range(1, 30)]
    lines.append("52998224725;Ana;C3;1;10/01/2025;99,00")
    lines.append("52998224725;Ana;C3;2;10/01/2025;99,00")
    _, batch = parse(write(tmp_path, "\n".join(lines) + "\n"))
    reasons = rejected_reasons(batch)
    assert list(reasons) == [31]
    assert "repetidos" in reasons[31] and "linha 4" in reasons[31]
    assert batch.accepted.height == 30


def test_a_rejected_row_does_not_block_a_later_valid_one(tmp_path: Path) -> None:
    text = (f"{HEADER}\n111.111.111-11;Ana;C1;1;10/01/2025;10,00\n"
            "52998224725;Ana;C1;1;10/01/2025;10,00\n")
    _, batch = parse(write(tmp_path, text))
    assert batch.accepted["row"].to_list() == [3]
    assert list(rejected_reasons(batch)) == [2]


def test_totals_lines_are_rejected_rows_named_as_such(tmp_path: Path) -> None:
    text = (f"{HEADER}\n52998224725;Ana;C1;1;10/01/2025;10,00\n"
            ";;Subtotal;;;10,00\n;Total Geral:;;;;10,00\n"
            "52998224725;Total Comércio;;1;10/01/2025;10,00\n")
    _, batch = parse(write(tmp_path, text))
    assert batch.accepted.height == 1
    reasons = rejected_reasons(batch)
    assert reasons[3] == reasons[4] == "linha de totais: não é um débito"
    # A debtor whose name starts with "Total" is a debt with a missing contract.
    assert reasons[5] == "Nº Contrato: contrato vazio"


def test_a_header_repeated_mid_file_is_a_rejected_row_named_as_such(tmp_path: Path) -> None:
    # Two exports joined: the second one's header is a line of the file, not a debt.
    text = (f"{HEADER}\n52998224725;Ana;C1;1;10/01/2025;10,00\n"
            f"{HEADER.upper()}\n52998224725;Ana;C2;1;10/01/2025;10,00\n")
    _, batch = parse(write(tmp_path, text))
    assert batch.accepted["contract"].to_list() == ["C1", "C2"]
    assert rejected_reasons(batch) == {
        3: "cabeçalho repetido no meio do arquivo (arquivos juntados?): não é um débito"}
    assert batch.rejected_keys.height == 0


def test_title_lines_above_the_header_are_passed_over(tmp_path: Path) -> None:
    # A report title (a merged cell), its date and a blank line, then the real header.
    text = ("Relatório de inadimplentes;;;;;\nGerado em 01/03/2025;;;;;\n;;;;;\n"
            f"{HEADER}\n52998224725;Ana;C1;1;10/01/2025;10,00\n;Bia;C2;1;10/01/2025;5,00\n")
    fmt, batch = parse(write(tmp_path, text))
    assert fmt.header_row == 4 and fmt.headers[1] == "Nome do Cliente"
    # Rows keep the numbers the spreadsheet shows.
    assert batch.accepted["row"].to_list() == [5]
    assert list(rejected_reasons(batch)) == [6]


def test_without_a_recognisable_header_the_first_line_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "Relatório de março\nCódigo;Cliente;Total\n1;Ana;10,00\n")
    fmt = parsing.sniff(path)
    assert fmt.header_row == 1 and fmt.headers == ["Relatório de março"]


def test_missing_required_columns_name_headers_and_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "Documento;Cliente;Valor\n52998224725;Ana;10,00\n")
    fmt = parsing.sniff(path)
    with pytest.raises(parsing.FileError) as error:
        parsing.match_headers(fmt.headers, None, ImportMode.INCREMENTAL)
    message = str(error.value)
    assert "Contrato" in message and "Vencimento" in message
    assert "“Documento”" in message and "“Valor”" in message


def test_headers_match_without_case_accents_or_punctuation(tmp_path: Path) -> None:
    text = ("cpf_cnpj;NOME DO CLIENTE;n. contrato;PARCELA;DATA DE VENCIMENTO;saldo devedor;"
            "Telefone 1;Telefone 2;Telefone 3;e-mail;ENDEREÇO;Município;uf;cep;Observação\n"
            "52998224725;Ana;C1;1/12;10/01/2025;10,00;(11) 98765-4321;+55 21 3333-4444;"
            "11987654321;ANA@EX.COM;Rua A, 1;São Paulo;sp;01310-100;cliente antiga\n")
    _, batch = parse(write(tmp_path, text))
    row = batch.accepted.row(0, named=True)
    assert row["installment"] == 1
    assert row["phones"] == "{+5511987654321,+552133334444,+5511987654321}"
    assert row["email"] == "ana@ex.com" and row["state"] == "SP" and row["zip"] == "01310100"
    assert row["city"] == "São Paulo"
    assert row["extra"] == '{"Observação":"cliente antiga"}'


def test_erp_headers_with_abbreviations_and_underscores_match(tmp_path: Path) -> None:
    text = ("NR_DOC;NOME_DEVEDOR;NUM_CONTRATO;N_PARCELA;DtVencimento;VL_ORIGINAL;FONE_RES\n"
            "529.982.247-25;Ana;C1;3;10/01/2025;10,00;(11) 3333-4444\n")
    fmt, batch = parse(write(tmp_path, text))
    mapping = parsing.match_headers(fmt.headers, None, ImportMode.INCREMENTAL)
    assert not mapping.extra
    row = batch.accepted.row(0, named=True)
    assert (row["document"], row["name"], row["contract"], row["installment"]) == (
        "52998224725", "Ana", "C1", 3)
    assert row["due_date"] == dt.date(2025, 1, 10) and row["amount"] == "10.00"
    assert row["phones"] == "{+551133334444}"


@pytest.mark.parametrize("layout", [
    "CPF;Nome;Contrato;Vencimento;Valor;DDD1;FONE1;DDD2;CELULAR2",
    "CPF;Nome;Contrato;Vencimento;Valor;DDD1;DDD2;FONE1;CELULAR2",
])
def test_a_ddd_in_its_own_column_goes_in_front_of_the_phone(tmp_path: Path,
                                                             layout: str) -> None:
    ddd_first = layout.index("DDD2") < layout.index("FONE1")
    rows = [("011", "3333-4444", "21", "98765-4321"),  # DDD with a trunk zero
            ("11", "(11) 3333-4444", "21", "98765-4321"),  # a number that has its DDD
            ("", "3333-4444", "21", "")]  # no DDD: the phone cannot be dialled
    lines = [layout]
    for i, (d1, f1, d2, f2) in enumerate(rows):
        cells = [d1, d2, f1, f2] if ddd_first else [d1, f1, d2, f2]
        lines.append(f"52998224725;Ana;C{i};10/01/2025;10,00;" + ";".join(cells))
    _, batch = parse(write(tmp_path, "\n".join(lines) + "\n"))
    phones = batch.accepted["phones"].to_list()
    assert phones == ["{+551133334444,+5521987654321}", "{+551133334444,+5521987654321}",
                      "{}"]
    assert batch.warnings.select("linha", "coluna").rows() == [(4, "FONE1")]
    assert batch.accepted["extra"].to_list() == [None] * 3  # the DDD columns were used


def test_a_cell_with_several_phones_or_emails_keeps_each_valid_one(tmp_path: Path) -> None:
    text = ("CPF;Nome;Contrato;Parcela;Vencimento;Valor;Telefones;DDD;Celular;E-mail\n"
            "52998224725;Ana;C1;1 de 12;10/01/2025;10,00;(11) 98765-4321 / (11) 3333-4444;"
            "21;98765-1111, 3333-2222;ANA@X.COM, ana@y.com\n"
            "52998224725;Ana;C2;2 DE 12;10/01/2025;10,00;11 98765-4321 ramal 12;;;"
            "Ana <ana@x.com>, ana@\n"
            "52998224725;Ana;C3;3;10/01/2025;10,00;1/2;21;98765-1111;\n")
    _, batch = parse(write(tmp_path, text))
    assert batch.accepted["installment"].to_list() == [1, 2, 3]
    assert batch.accepted["phones"].to_list() == [
        "{+5511987654321,+551133334444,+5521987651111,+552133332222}",
        "{+5511987654321}", "{+5521987651111}"]
    assert batch.accepted["email"].to_list() == ["ana@x.com,ana@y.com", "ana@x.com", None]
    # The number that could not be read is said, the others are kept (an extension is
    # no number).
    assert batch.warnings.select("linha", "coluna").rows() == [
        (3, "E-mail"), (4, "Telefones")]


def test_an_email_cell_with_a_name_or_a_note_keeps_the_address(tmp_path: Path) -> None:
    cells = ["Ana Souza <Ana@X.com>",  # a mail program's export: the name is not lost data
             "ana@x.com (pessoal)",  # a note beside the address
             "ana@x.com, ana.y.com",  # a second address without its @
             "ana@x.com",
             "ana.x.com"]  # no address at all
    lines = ["CPF;Nome;Contrato;Vencimento;Valor;E-mail"] + [
        f"52998224725;Ana;C{i};10/01/2025;10,00;{cell}" for i, cell in enumerate(cells)]
    _, batch = parse(write(tmp_path, "\n".join(lines) + "\n"))
    assert batch.accepted["email"].to_list() == ["ana@x.com"] * 4 + [None]
    warned = dict(zip(batch.warnings["valor"], batch.warnings["aviso"], strict=True))
    assert set(warned) == {"ana@x.com (pessoal)", "ana@x.com, ana.y.com", "ana.x.com"}
    assert warned["ana.x.com"] == "e-mail inválido descartado"
    assert warned["ana@x.com, ana.y.com"].startswith("texto que não é e-mail descartado")


def test_address_parts_join_the_street(tmp_path: Path) -> None:
    text = ("CPF;Nome;Contrato;Vencimento;Valor;Logradouro;Número;Complemento;Bairro;Cidade\n"
            "52998224725;Ana;C1;10/01/2025;10,00;Rua A;120;apto 3;Centro;Rio\n"
            "52998224725;Ana;C2;10/01/2025;10,00;Rua A;;;;Rio\n")
    _, batch = parse(write(tmp_path, text))
    assert batch.accepted["address"].to_list() == ["Rua A, 120, apto 3 - Centro", "Rua A"]
    # Without a street the parts are kept as they came, as extra fields.
    text = ("CPF;Nome;Contrato;Vencimento;Valor;Número;Bairro\n"
            "52998224725;Ana;C1;10/01/2025;10,00;120;Centro\n")
    _, batch = parse(write(tmp_path, text))
    row = batch.accepted.row(0, named=True)
    assert row["address"] is None and row["extra"] == '{"Número":"120","Bairro":"Centro"}'


def test_invalid_contacts_are_dropped_with_warnings_and_the_row_kept(tmp_path: Path) -> None:
    text = ("CPF;Nome;Contrato;Vencimento;Valor;Celular;E-mail;CEP;UF;Data de Nascimento\n"
            "52998224725;Ana;C1;10/01/2025;10,00;(10) 98765-4321;ana@;123;XX;31/02/1980\n")
    _, batch = parse(write(tmp_path, text))
    assert batch.accepted.height == 1
    row = batch.accepted.row(0, named=True)
    assert row["phones"] == "{}" and row["email"] is None and row["zip"] is None
    assert row["state"] is None and row["birth_date"] is None
    assert sorted(batch.warnings["coluna"].to_list()) == [
        "CEP", "Celular", "Data de Nascimento", "E-mail", "UF"]
    assert set(batch.warnings["linha"].to_list()) == {2}


def test_layout_maps_unusual_headers(tmp_path: Path) -> None:
    text = "ID Fiscal;Sacado;Referência;Data Limite;Montante;Fone Recado\n" \
           "52998224725;Ana;R-9;10/01/2025;10,00;(11) 98765-4321\n"
    layout = {"document": "ID Fiscal", "name": "Sacado", "contract": "Referência",
              "due_date": "Data Limite", "amount": "Montante", "phone": ["Fone Recado"]}
    _, batch = parse(write(tmp_path, text), layout=layout)
    assert batch.accepted.row(0, named=True)["contract"] == "R-9"
    assert batch.accepted.row(0, named=True)["phones"] == "{+5511987654321}"


def test_settlement_file(tmp_path: Path) -> None:
    text = "Contrato;Parcela;Valor Pago;Data do Pagamento\nC1;1;10,00;05/01/2025\n;2;5;x\n"
    _, batch = parse(write(tmp_path, text), ImportMode.SETTLEMENT)
    assert batch.accepted.row(0, named=True)["amount_paid"] == "10.00"
    assert batch.accepted.row(0, named=True)["paid_on"] == dt.date(2025, 1, 5)
    assert "contrato vazio" in rejected_reasons(batch)[3]


def test_a_settlement_file_with_contact_columns_is_read(tmp_path: Path) -> None:
    text = "Contrato;Parcela;Valor Pago;Telefone;DDD\nC1;1;10,00;3333-4444;11\n"
    _, batch = parse(write(tmp_path, text), ImportMode.SETTLEMENT)
    assert batch.accepted["contract"].to_list() == ["C1"]


def test_rows_longer_than_the_header_are_reported_with_the_cells_beyond_it(
        tmp_path: Path) -> None:
    text = (f"{HEADER}\n52998224725;Ana;C1;1;10/01/2025;10,00;sobra;;(11) 98765-4321\n"
            "52998224725;Ana;C2;1;10/01/2025;10,00;;\n")  # empty cells beyond are fine
    _, batch = parse(write(tmp_path, text))
    assert rejected_reasons(batch) == {2: "linha com mais colunas preenchidas que o cabeçalho"
                                          " (6); além dele: sobra |  | (11) 98765-4321"}
    assert batch.accepted["contract"].to_list() == ["C2"]


def test_chunk_boundaries_inside_quoted_fields(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(reader, "CHUNK_BYTES", 50)
    rows = [f'52998224725;"Nome\ncom quebra {i}";C{i};1;10/01/2025;10,00' for i in range(20)]
    _, batch = parse(write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n"))
    assert batch.accepted["row"].to_list() == list(range(2, 22))
    assert batch.accepted["name"][5] == "Nome com quebra 5"


def test_xlsx_with_typed_cells_and_named_sheet(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "Resumo"
    book.active.append(["nada aqui"])
    sheet = book.create_sheet("Carteira")
    sheet.append(["Carteira de cobrança — março/2025"])
    sheet.merge_cells("A1:F1")
    sheet.append(["CPF", "Nome", "Contrato", "Parcela", "Vencimento", "Valor"])
    sheet.append([1234567890, "Ana", "C1", 1, dt.datetime(2025, 1, 10), 1234.5])
    sheet.append(["529.982.247-25", "Bia", 778, 2, "10/02/2025", "R$ 10,00"])
    sheet.append([None, None, None, None, None, None])
    sheet.append([52998224725, "Caio", "C3", 1, 45000, 0.1 + 0.2])
    path = tmp_path / "carteira.xlsx"
    book.save(path)
    fmt = parsing.sniff(path, sheet="Carteira")
    assert fmt.kind == "xlsx" and fmt.sheets == ["Resumo", "Carteira"]
    mapping = parsing.match_headers(fmt.headers, None, ImportMode.INCREMENTAL)
    batch = next(parsing.read_batches(path, fmt, mapping, ImportMode.INCREMENTAL))
    rows = {r["contract"]: r for r in batch.accepted.iter_rows(named=True)}
    assert rows["C1"]["document"] == "01234567890"
    assert rows["C1"]["due_date"] == dt.date(2025, 1, 10) and rows["C1"]["amount"] == "1234.50"
    assert rows["778"]["amount"] == "10.00"
    assert rows["C3"]["due_date"] == dt.date(2023, 3, 15) and rows["C3"]["amount"] == "0.30"
    assert fmt.header_row == 2
    assert batch.accepted["row"].to_list() == [3, 4, 6]
    # The preview's rows come from the sniff, as the import reads them (blank row skipped).
    assert [r[:3] for r in fmt.head] == [["1234567890", "Ana", "C1"],
                                         ["529.982.247-25", "Bia", "778"],
                                         ["52998224725", "Caio", "C3"]]


FIXTURES = Path(__file__).parent / "fixtures"


def test_an_excel_97_xls_file_is_read(tmp_path: Path) -> None:
    # Written by xlwt, as older ERPs write them: a title line, typed dates and numbers.
    path = FIXTURES / "carteira.xls"
    fmt = parsing.sniff(path)
    assert (fmt.kind, fmt.sheet, fmt.header_row) == ("xls", "Títulos", 3)
    _, batch = parse(path)
    rows = batch.accepted.select("row", "document", "name", "contract", "due_date", "amount")
    assert rows.rows() == [
        (4, "52998224725", "José Araújo", "C-001", dt.date(2025, 1, 10), "1234.56"),
        (5, "12345678909", "Conceição Lima", "778", dt.date(2025, 2, 10), "99.90")]
    assert "linha 4" in rejected_reasons(batch)[6]  # the same contract again


def test_an_opendocument_ods_file_is_read(tmp_path: Path) -> None:
    cells = [["CPF", "Nome", "Contrato", "Vencimento", "Valor"],
             ["52998224725", "Ana", "C1", ("date", "2025-01-10"), ("float", "10.5")]]

    def cell(value: str | tuple[str, str]) -> str:
        if isinstance(value, tuple):
            kind, raw = value
            attr = "office:date-value" if kind == "date" else "office:value"
            return (f'<table:table-cell office:value-type="{kind}" {attr}="{raw}">'
                    f"<text:p>{raw}</text:p></table:table-cell>")
        return (f'<table:table-cell office:value-type="string"><text:p>{value}</text:p>'
                "</table:table-cell>")

    rows = "".join(f"<table:table-row>{''.join(cell(c) for c in r)}</table:table-row>"
                   for r in cells)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content'
        ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="Carteira">{rows}'
        "</table:table></office:spreadsheet></office:body></office:document-content>")
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest'
        ' xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
        ' manifest:version="1.2"><manifest:file-entry manifest:full-path="/"'
        ' manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml"'
        ' manifest:media-type="text/xml"/></manifest:manifest>')
    path = tmp_path / "carteira.ods"
    with zipfile.ZipFile(path, "w") as ods:
        ods.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet",
                     compress_type=zipfile.ZIP_STORED)
        ods.writestr("META-INF/manifest.xml", manifest)
        ods.writestr("content.xml", content)
    fmt, batch = parse(path)
    assert (fmt.kind, fmt.sheet) == ("ods", "Carteira")
    assert batch.accepted.select("contract", "due_date", "amount").rows() == [
        ("C1", dt.date(2025, 1, 10), "10.50")]


def test_a_missing_sheet_is_a_clear_error(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    path = tmp_path / "x.xlsx"
    book.save(path)
    with pytest.raises(parsing.FileError, match="não existe"):
        parsing.sniff(path, sheet="Carteira")


def test_old_mac_line_ends_are_read_with_spreadsheet_row_numbers(tmp_path: Path,
                                                                  monkeypatch) -> None:
    # Lines ending in a lone CR, as old-Mac exports save them; a line break inside quotes
    # stays in its field. Small chunks make records cross chunk boundaries.
    monkeypatch.setattr(reader, "CHUNK_BYTES", 7)
    text = ("Carteira de março\r"
            f"{HEADER}\r"
            '52998224725;"João\rConceição";C1;1;10/01/2025;10,00\r'
            "\r"
            "111.111.111-11;Bia;C2;1;10/01/2025;10,00\r"
            "52998224725;Caio;C3;1;10/01/2025;7,00")
    fmt, batch = parse(write(tmp_path, text, "cp1252"))
    assert (fmt.header_row, fmt.headers[1]) == (2, "Nome do Cliente")
    assert [r[:2] for r in fmt.head] == [["52998224725", "João\nConceição"],
                                         ["111.111.111-11", "Bia"], ["52998224725", "Caio"]]
    # One row for the quoted line break; row 4 is the blank line.
    assert batch.accepted.select("row", "name").rows() == [(3, "João Conceição"),
                                                           (6, "Caio")]
    assert list(rejected_reasons(batch)) == [5]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_stray_carriage_return_in_a_field_is_read_as_a_space(tmp_path: Path, monkeypatch,
                                                               newline: str) -> None:
    # A CR without an LF inside an unquoted field (text pasted from another program):
    # the row is imported, the CR read as a blank. One-byte blocks split each CRLF, which
    # must still end its line.
    monkeypatch.setattr(reader, "CHUNK_BYTES", 1)
    lines = [f"{HEADER};Endereço",
             "52998224725;Ana;C1;1;10/01/2025;10,00;RUA A 1\rAPTO 2",
             "52998224725;Bia;C2;1;10/01/2025;10,00;RUA B 2"]
    path = write(tmp_path, newline.join(lines) + newline)
    fmt, batch = parse(path)
    assert fmt.head[0][6] == "RUA A 1 APTO 2"
    assert batch.accepted.select("row", "name", "address").rows() == [
        (2, "Ana", "RUA A 1 APTO 2"), (3, "Bia", "RUA B 2")]
    cells = pl.concat(frame for frame, _ in reader.iter_csv(path, fmt))["c6"].to_list()
    assert cells == ["RUA A 1 APTO 2", "RUA B 2"]


def test_a_title_block_of_labels_and_values_is_passed_over(tmp_path: Path) -> None:
    # "Cliente:" and "Vencimento:" name two known columns as labels; the header below
    # names more, and is the one chosen, in a CSV as in a spreadsheet.
    title = [["Relatório:", "Títulos Vencidos"],
             ["Credor:", "Banco Exemplo S.A.", "", "Data:", "01/12/2026"],
             ["Cliente:", "Todos", "", "Vencimento:", "01/01/2020 a 30/11/2026"], []]
    header = ["CPF/CNPJ", "Nome do Cliente", "Contrato", "Parcela", "Vencimento", "Valor"]
    rows = [["52998224725", "Ana", "C1", "1", "10/01/2025", "10,00"]]
    text = "".join(";".join(r) + "\n" for r in [*title, header, *rows])
    fmt, batch = parse(write(tmp_path, text, "cp1252"))
    assert (fmt.header_row, fmt.headers) == (5, header)
    assert batch.accepted.select("row", "name").rows() == [(6, "Ana")]
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in [*title, header, *rows]:
        book.active.append(row or [None])
    path = tmp_path / "titulos.xlsx"
    book.save(path)
    fmt, batch = parse(path)
    assert (fmt.header_row, fmt.headers) == (5, header)
    assert batch.accepted.select("row", "name").rows() == [(6, "Ana")]


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8"])
def test_accents_past_a_plain_ascii_sample_keep_their_encoding(tmp_path: Path, monkeypatch,
                                                               encoding: str) -> None:
    # The sample the encoding is told by holds no accent: each chunk is read as UTF-8
    # when it is valid UTF-8 and as Windows-1252 otherwise.
    monkeypatch.setattr(reader, "SAMPLE_BYTES", 1024)
    monkeypatch.setattr(reader, "CHUNK_BYTES", 1024)
    plain = [f"52998224725;CLIENTE {i};C{i};1;10/01/2025;10,00" for i in range(100)]
    text = "\n".join([HEADER.replace("º", "o"), *plain,
                      "52998224725;JOÃO CONCEIÇÃO;LAST;1;10/01/2025;10,00"]) + "\n"
    fmt, batch = parse(write(tmp_path, text, encoding))
    assert fmt.encoding == "ascii"  # all the sample tells; the preview shows it
    assert batch.accepted.height == 101
    assert batch.accepted.select("row", "name").row(-1) == (102, "JOÃO CONCEIÇÃO")


def test_the_format_is_described_in_words_a_person_reads(tmp_path):
    from tenants.intake.formats import reader

    path = tmp_path / "carteira.csv"
    path.write_bytes("CPF;Nome;Contrato\n52998224725;Jos\xe9;1\n".encode("cp1252"))
    described = reader.sniff(path).description
    assert described == "CSV, texto do Windows (ANSI), separador ponto e vírgula"
    assert "cp1252" not in described
