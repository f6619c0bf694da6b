"""A batch's contact points, as the import hands them to the database."""

from __future__ import annotations

from pathlib import Path

from tenants.intake.load.store import contacts_of

from .test_parsing import parse, write

HEADER = "CPF;Nome;Contrato;Parcela;Vencimento;Valor;Celular;Telefone;E-mail;Endereço;CEP"
ANA, BRUNO = "52998224725", "11144477735"


def test_contacts_are_distinct_grouped_by_debtor_and_keyed_in_that_order(
        tmp_path: Path) -> None:
    # Ana's rows surround Bruno's: her contacts follow her last row, as her id does.
    text = (f"{HEADER}\n"
            f"{ANA};Ana;C1;1;10/01/2025;10,00;(11) 98765-4321;;ana@x.com.br;Rua A, 1;01001-000\n"
            f"{BRUNO};Bruno;C2;1;10/01/2025;10,00;(21) 99876-5432;(21) 3333-4444;;;\n"
            f"{ANA};Ana;C1;2;10/02/2025;10,00;(11) 98765-4321;(11) 3222-1111;ANA@x.com.br;"
            "Rua A, 1;01001-000\n")
    _, batch = parse(write(tmp_path, text))
    contacts = contacts_of(batch.accepted)

    assert contacts.select("document", "kind", "value").rows() == [
        (BRUNO, "phone", "+552133334444"),
        (BRUNO, "phone", "+5521998765432"),
        (ANA, "address", "Rua A, 1, 01001000"),
        (ANA, "email", "ana@x.com.br"),
        (ANA, "phone", "+551132221111"),
        (ANA, "phone", "+5511987654321"),
    ]
    ids = contacts["id"].to_list()
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
