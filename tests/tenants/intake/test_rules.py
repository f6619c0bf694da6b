"""Row rules on values as creditors' systems and spreadsheets write them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tenants.intake.rules.rows import Batch

from .test_parsing import HEADER, parse, rejected_reasons, write


def ana_owes(tmp_path: Path, dates: list[str] | None = None,
             amounts: list[str] | None = None) -> Batch:
    """A file of Ana's debts C0, C1, ... with these due dates or amounts."""
    dates = dates or ["10/01/2025"] * len(amounts or [])
    amounts = amounts or ["10,00"] * len(dates)
    text = HEADER + "\n" + "".join(f"52998224725;Ana;C{i};1;{d};{a}\n"
                                   for i, (d, a) in enumerate(zip(dates, amounts, strict=True)))
    return parse(write(tmp_path, text))[1]


@pytest.mark.parametrize(("raw", "expected"), [
    ("20250110", dt.date(2025, 1, 10)), ("10012025", dt.date(2025, 1, 10)),
    ("01122025", dt.date(2025, 12, 1)),
])
def test_digits_only_dates_of_bank_exports(tmp_path: Path, raw: str, expected: dt.date) -> None:
    _, batch = parse(write(tmp_path, f"{HEADER}\n52998224725;Ana;C1;1;{raw};10,00\n"))
    assert batch.accepted["due_date"].to_list() == [expected]


def test_a_placeholder_due_date_is_rejected(tmp_path: Path) -> None:
    _, batch = parse(write(tmp_path, f"{HEADER}\n52998224725;Ana;C1;1;01/01/1900;10,00\n"))
    assert "data padrão de um sistema" in rejected_reasons(batch)[2]


def test_installments_as_spreadsheets_leave_them(tmp_path: Path) -> None:
    rows = ["C1; 2 ", "C2;3/12 ", "C3;   ", "C4;1.0", "C5;01/03/2026"]
    text = HEADER + "\n" + "".join(f"52998224725;Ana;{contract};10/01/2025;10,00\n"
                                   for contract in rows)
    _, batch = parse(write(tmp_path, text))
    assert batch.accepted.select("contract", "installment").rows() == [
        ("C1", 2), ("C2", 3), ("C3", 1), ("C4", 1)]
    # "1/3" typed in Excel became a date: say so, not just "invalid".
    assert "veio como data" in rejected_reasons(batch)[6]


def test_contacts_as_old_records_hold_them(tmp_path: Path) -> None:
    text = ("CPF;Nome;Contrato;Vencimento;Valor;Celular;Telefone;Fone 3;CEP;UF;Data de Nascimento\n"
            "52998224725;Ana;C1;10/01/2025;10,00;(11) 8765-4321;11987654321.0;"
            "0 21 11 3333-4444 ramal 22;1310100;São Paulo;01/01/1980\n"
            "52998224725;Ana;C2;10/01/2025;10,00;;;;01.310-100;s.p.;01/01/2090\n")
    _, batch = parse(write(tmp_path, text))
    first, second = batch.accepted.rows(named=True)
    # A mobile from before the ninth digit, a number a spreadsheet wrote as 11987654321.0
    # and one dialled with a carrier's code.
    assert first["phones"] == "{+5511987654321,+5511987654321,+551133334444}"
    assert (first["zip"], first["state"]) == ("01310100", "SP")
    assert (second["zip"], second["state"], second["birth_date"]) == ("01310100", "SP", None)
    assert batch.warnings.select("linha", "coluna").rows() == [(3, "Data de Nascimento")]


@pytest.mark.parametrize("header", [
    "NR_CPF_CNPJ;NM_CLIENTE;NR_CONTRATO;Parcela;DT_VENCIMENTO;VL_ORIGINAL",
    "CPF/CNPJ;Razão Social/Nome;Contrato;Parcela;Vencimento Original;Valor do Débito",
])
def test_more_header_names_of_creditor_systems(tmp_path: Path, header: str) -> None:
    _, batch = parse(write(tmp_path, f"{header}\n52998224725;Ana;C1;1;10/01/2025;10,00\n"))
    assert batch.accepted.select("document", "name", "contract", "amount").rows() == [
        ("52998224725", "Ana", "C1", "10.00")]


def test_every_email_column_gives_its_addresses(tmp_path: Path) -> None:
    text = ("CPF;Nome;Contrato;Vencimento;Valor;E-mail 1;E-mail 2;Email Comercial\n"
            "52998224725;Ana;C1;10/01/2025;10,00;ana@x.com;;ANA@empresa.com.br\n"
            "52998224725;Ana;C2;10/01/2025;10,00;ana@;a@y.com; b@y.com;\n"
            "52998224725;Ana;C3;10/01/2025;10,00;;;\n")
    _, batch = parse(write(tmp_path, text))
    assert batch.accepted["email"].to_list() == [
        "ana@x.com,ana@empresa.com.br", "a@y.com,b@y.com", None]
    assert batch.warnings.select("linha", "coluna", "valor").rows() == [
        (3, "E-mail 1", "ana@")]


def test_cpf_and_cnpj_in_columns_of_their_own(tmp_path: Path) -> None:
    text = ("CPF;CNPJ;Nome;Contrato;Vencimento;Valor\n"
            "529.982.247-25;;Ana;C1;10/01/2025;10,00\n"
            ";11.222.333/0001-81;Padaria Pão Bom Ltda;C2;10/01/2025;10,00\n"
            ";;Sem Documento;C3;10/01/2025;10,00\n")
    _, batch = parse(write(tmp_path, text))
    assert batch.accepted.select("document", "document_kind").rows() == [
        ("52998224725", "cpf"), ("11222333000181", "cnpj")]
    assert rejected_reasons(batch) == {4: "CPF: CPF/CNPJ vazio"}


def test_dates_from_a_us_locale_system_are_read_month_first(tmp_path: Path) -> None:
    dates = ["04/05/2024"] + [f"03/{day}/2024" for day in range(13, 18)] + [
        "12/31/2024 00:00:00"]
    batch = ana_owes(tmp_path, dates=dates)
    assert batch.accepted["due_date"].to_list() == [
        dt.date(2024, 4, 5), *(dt.date(2024, 3, day) for day in range(13, 18)),
        dt.date(2024, 12, 31)]


def test_a_short_us_locale_file_is_read_month_first(tmp_path: Path) -> None:
    batch = ana_owes(tmp_path, dates=["03/25/2024", "04/15/2024", "01/05/2024"])
    assert batch.accepted["due_date"].to_list() == [
        dt.date(2024, 3, 25), dt.date(2024, 4, 15), dt.date(2024, 1, 5)]


@pytest.mark.parametrize("dates", [
    ["04/05/2024", "25/03/2024", "03/25/2024"],  # one day-first date decides
    ["10/01/2025", "10/02/2025", "10/13/2025"],  # a typo among dates that fit both orders
])
def test_dates_that_fit_both_orders_are_read_day_first(tmp_path: Path, dates) -> None:
    batch = ana_owes(tmp_path, dates=dates)
    assert batch.accepted["due_date"][0] == dt.date(int(dates[0][6:]), int(dates[0][3:5]),
                                                    int(dates[0][:2]))
    assert "data de vencimento inválida" in rejected_reasons(batch)[len(dates) + 1]


def test_numbers_excel_rounded_into_scientific_notation_are_rejected_saying_so(
        tmp_path: Path) -> None:
    text = (f"{HEADER}\n52998224725;Ana;1,23457E+11;1;10/01/2025;10,00\n"
            "5,29982E+10;Ana;C2;1;10/01/2025;10,00\n"
            "52998224725.0;Ana;C3;1;10/01/2025;10,00\n")  # a CPF typed as a number
    _, batch = parse(write(tmp_path, text))
    reasons = rejected_reasons(batch)
    assert "o Excel arredondou o número" in reasons[2] and reasons[2].startswith("Nº Contrato")
    assert "o Excel arredondou o número" in reasons[3] and reasons[3].startswith("CPF/CNPJ")
    assert batch.accepted.select("document", "contract").rows() == [("52998224725", "C3")]


def test_two_digit_birth_years_a_zero_led_cep_and_a_balance_without_amount(
        tmp_path: Path) -> None:
    text = ("CPF;Nome;Contrato;Vencimento;Valor Original;Saldo Devedor;CEP;Data de Nascimento\n"
            "52998224725;Ana;C1;10/01/2025;;80,00;0131010;10/10/49\n"
            "52998224725;Ana;C2;10/01/2025;;;01310100;10/10/85\n")
    _, batch = parse(write(tmp_path, text))
    row = batch.accepted.row(0, named=True)
    assert (row["amount"], row["balance"], row["zip"]) == ("80.00", "80.00", None)
    assert row["birth_date"] == dt.date(1949, 10, 10)
    assert batch.warnings.select("linha", "coluna").rows() == [(2, "CEP")]
    assert rejected_reasons(batch) == {3: "Valor Original: valor vazio"}


def test_erp_columns_named_by_the_kind_of_value_they_hold(tmp_path: Path) -> None:
    text = ("NR_CPF_CNPJ;NM_CLIENTE;NR_CLIENTE;NR_CONTRATO;DT_VENCIMENTO;VL_ORIGINAL;VL_SALDO;"
            "NR_DDD;NR_TELEFONE;DS_EMAIL;DS_ENDERECO;NM_CIDADE;SG_UF;NR_CEP\n"
            "52998224725;Ana;778;C1;10/01/2025;10,00;12,00;11;98765-4321;ana@x.com;Rua A, 1;"
            "São Paulo;SP;01310-100\n")
    _, batch = parse(write(tmp_path, text))
    row = batch.accepted.row(0, named=True)
    assert (row["name"], row["balance"], row["phones"], row["email"]) == (
        "Ana", "12.00", "{+5511987654321}", "ana@x.com")
    assert (row["address"], row["city"], row["state"], row["zip"]) == (
        "Rua A, 1", "São Paulo", "SP", "01310100")
    assert row["extra"] == '{"NR_CLIENTE":"778"}'  # the client's number is no name


def test_amounts_of_a_file_that_uses_the_decimal_point(tmp_path: Path) -> None:
    amounts = ["1234.56", "10.50", "99.90", "0.99", "1.500", "2,500.75", "7.10"]
    batch = ana_owes(tmp_path, amounts=amounts)
    assert batch.accepted["amount"].to_list() == [
        "1234.56", "10.50", "99.90", "0.99", "1.50", "2500.75", "7.10"]


def test_a_brazilian_amount_with_three_decimals_says_it_was_rounded(tmp_path: Path) -> None:
    amounts = ["1.234,567", "1.500", "10.5"]  # "10.5" alone does not turn the file around
    batch = ana_owes(tmp_path, amounts=amounts)
    assert batch.accepted["amount"].to_list() == ["1234.57", "1500.00", "10.50"]
    assert batch.warnings.select("linha", "aviso").rows() == [
        (2, "valor com mais de duas casas decimais: arredondado para centavos")]
