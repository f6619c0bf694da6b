"""A deterministic generator of realistic creditor exports, for the demo and benchmarks.

Windows-1252, `;`, decimal comma with thousands dots, 15 columns, about 2% bad rows of
several kinds, debtors with 1-6 installments each, Portuguese names with accents.

    uv run python bench/portfolio_gen.py --rows 1000000 --out /tmp/carteira.csv
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from collections.abc import Iterator
from pathlib import Path

FIRST = ["José", "João", "Antônio", "Francisco", "Carlos", "Paulo", "Pedro", "Lucas", "Luíz",
         "Marcos", "Maria", "Ana", "Francisca", "Antônia", "Adriana", "Juliana", "Márcia",
         "Fernanda", "Patrícia", "Aline", "Sebastião", "Conceição", "Raimunda", "Inês"]
LAST = ["Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira",
        "Lima", "Gomes", "Ribeiro", "Carvalho", "Araújo", "Gonçalves", "Melo", "Simões",
        "Conceição", "Magalhães", "Brandão", "Assunção"]
CITIES = [("São Paulo", "SP", "11"), ("Rio de Janeiro", "RJ", "21"), ("Belo Horizonte", "MG", "31"),
          ("Fortaleza", "CE", "85"), ("Salvador", "BA", "71"), ("Curitiba", "PR", "41"),
          ("Recife", "PE", "81"), ("Porto Alegre", "RS", "51"), ("Manaus", "AM", "92"),
          ("Goiânia", "GO", "62"), ("Belém", "PA", "91"), ("São Luís", "MA", "98")]
STREETS = ["Rua das Flores", "Av. Brasil", "Rua São João", "Travessa Açaí",
           "Rua Sete de Setembro"]
PRODUCTS = ["Cartão de crédito", "Empréstimo pessoal", "Crediário", "Financiamento",
            "Cheque especial"]
HEADER = ["CPF/CNPJ", "Nome do Cliente", "Nº Contrato", "Parcela", "Vencimento",
          "Valor Original", "Telefone 1", "Telefone 2", "E-mail", "Endereço", "Cidade", "UF",
          "CEP", "Data de Nascimento", "Produto"]


def cpf(rng: random.Random) -> str:
    base = [rng.randint(0, 9) for _ in range(9)]
    for weights in (range(10, 1, -1), range(11, 1, -1)):
        r = sum(d * w for d, w in zip(base, weights, strict=False)) % 11
        base.append(0 if r < 2 else 11 - r)
    s = "".join(map(str, base))
    return f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}"


def money(cents: int) -> str:
    whole, frac = divmod(cents, 100)
    return f"{whole:,}".replace(",", ".") + f",{frac:02d}"


def rows(n: int, seed: int, bad_ratio: float) -> Iterator[list[str]]:
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    start = dt.date(2024, 1, 1)
    written, contract_no = 0, 100000
    previous: list[str] | None = None
    while written < n:
        city, uf, ddd = rng.choice(CITIES)
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.choice(LAST)}"
        doc = cpf(rng)
        local = unicodedata.normalize("NFKD", name.split()[0].lower())
        local = local.encode("ascii", "ignore").decode()
        email = f"{local}.{rng.randint(1, 99999)}@exemplo.com.br"
        birth = (dt.date(1950, 1, 1) + dt.timedelta(days=rng.randint(0, 18000)))
        birth_text = birth.strftime("%d/%m/%Y")
        contract_no += 1
        installments = rng.randint(1, 6)
        amount = rng.randint(5_000, 900_000)
        due = start + dt.timedelta(days=rng.randint(0, 700))
        mobile = f"({ddd}) 9{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
        landline = (f"({ddd}) 3{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
                    if rng.random() < 0.5 else "")
        street = f"{rng.choice(STREETS)}, {rng.randint(1, 3000)}"
        zip_code = f"{rng.randint(10000, 99999)}-{rng.randint(100, 999)}"
        product = rng.choice(PRODUCTS)
        for k in range(1, installments + 1):
            if written >= n:
                break
            row = [doc, name, f"CT{contract_no}", str(k),
                   (due + dt.timedelta(days=30 * (k - 1))).strftime("%d/%m/%Y"), money(amount),
                   mobile, landline, email, street, city, uf, zip_code, birth_text, product]
            if rng.random() < bad_ratio:
                kind = rng.randrange(5)
                if kind == 0:
                    row[0] = row[0][:-1] + str((int(row[0][-1]) + 1) % 10)  # bad check digit
                elif kind == 1:
                    row[1] = ""
                elif kind == 2:
                    row[4] = "31/02/2025"
                elif kind == 3:
                    row[5] = rng.choice(["0,00", "-10,00", "abc"])
                elif previous is not None:
                    row[2], row[3] = previous[2], previous[3]  # duplicate contract+installment
            previous = row
            written += 1
            yield row


def write(path: Path, n: int, seed: int = 42, bad_ratio: float = 0.02,
          encoding: str = "cp1252") -> None:
    with path.open("w", encoding=encoding, newline="") as fh:
        fh.write(";".join(HEADER) + "\r\n")
        buffer = []
        for row in rows(n, seed, bad_ratio):
            buffer.append(";".join(row))
            if len(buffer) >= 50_000:
                fh.write("\r\n".join(buffer) + "\r\n")
                buffer = []
        if buffer:
            fh.write("\r\n".join(buffer) + "\r\n")
