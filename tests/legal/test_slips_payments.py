"""Slips, the PIX webhook and bank return files against the real database and S3."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.access import transaction
from core.errors import NotFound
from core.models import Debt, MessageDispatch, Payment
from core.runtime import get_storage
from core.settings import get_settings
from legal import boleto, cnab, payments, pix, slips
from legal.access import access_agreement
from legal.models import Agreement, Installment
from legal.payment_models import Slip, SlipPayment
from tests.legal.helpers import build_agreement, creditor
from tests.pdftext import flat, fonts


def regua(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["uv", "run", "--no-sync", "regua", *args], capture_output=True,
                          text=True, env=os.environ, timeout=180)


async def issue(built) -> list[slips.SlipView]:  # type: ignore[no-untyped-def]
    async with transaction(built.principal) as session:
        checked = await access_agreement(session, built.principal, built.agreement_id)
        return await slips.issue_and_send(session, built.principal, checked)


def pix_body(*items: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"pix": list(items)}).encode()
    signature = payments.sign(body, get_settings().resolved_pix_webhook_secret())
    return body, {"X-Regua-Pix-Signature": signature, "Content-Type": "application/json"}


async def test_slips_are_issued_once_stored_and_sent(client, factory, database_url) -> None:
    tenant = await factory.tenant()
    built = await build_agreement(database_url, tenant.id)
    first = await issue(built)
    assert [s.number for s in first] == [1, 2]
    for view in first:
        assert len(view.boleto_barcode) == 44 and len(view.boleto_line) == 47
        parsed = boleto.parse(view.boleto_line, today=view.due_date)
        assert parsed.amount == view.amount and parsed.due_date == view.due_date
        assert view.nosso_numero in parsed.free_field
        code = pix.parse_payload(view.pix_payload)
        assert code.amount == view.amount and code.txid == view.txid
    assert first[0].txid != first[1].txid
    again = await issue(built)
    assert [s.nosso_numero for s in again] == [s.nosso_numero for s in first]
    async with transaction(built.principal) as session:
        rows = list((await session.execute(select(Slip).where(
            Slip.agreement_id == built.agreement_id))).scalars())
        sent = list((await session.execute(select(MessageDispatch).where(
            MessageDispatch.debtor_id == built.debtor_id))).scalars())
    assert len(rows) == 2 and all(r.sent_at is not None and r.pdf_key for r in rows)
    slip_pdf = get_storage().get(rows[0].pdf_key or "")
    assert slip_pdf.startswith(b"%PDF")
    assert fonts(slip_pdf) == {"DejaVuSansBook": True, "DejaVuSansBold": True}
    assert "Cobrança:" in flat(slip_pdf) and "Nosso número:" in flat(slip_pdf)
    # Once, to each contact point: the e-mail and the phone (WhatsApp), with the PDF.
    assert sorted(d.channel for d in sent) == ["email", "whatsapp"]
    assert all(d.attachments and d.attachments[0]["filename"] == "boleto-e-pix.pdf"
               for d in sent)


async def test_cli_prints_the_slips_as_json(client, factory, database_url) -> None:
    tenant = await factory.tenant()
    built = await build_agreement(database_url, tenant.id)
    result = regua("agreement", "slips", str(built.agreement_id), "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout.strip().splitlines()[-1])
    assert [item["number"] for item in listed] == [1, 2]
    assert listed[0]["amount"] == "100.00"
    assert dt.date.fromisoformat(listed[0]["due_date"])
    assert len(listed[0]["boleto_barcode"]) == 44 and len(listed[0]["boleto_line"]) == 47
    assert listed[0]["pix_payload"].startswith("000201")
    missing = regua("agreement", "slips", "0193a5b2-7c1d-7e00-8000-00000000abcd", "--json")
    assert missing.returncode == 1 and "acordo" in missing.stderr


async def test_another_tenant_cannot_reach_the_agreement(factory, database_url) -> None:
    tenant, other = await factory.tenant(), await factory.tenant()
    built = await build_agreement(database_url, tenant.id)
    stranger = creditor(other.id)
    async with transaction(stranger) as session:
        with pytest.raises(NotFound):
            await access_agreement(session, stranger, built.agreement_id)


async def test_pix_webhook_settles_once_and_ignores_repeats(client, factory,
                                                            database_url) -> None:
    tenant = await factory.tenant()
    built = await build_agreement(database_url, tenant.id)
    views = await issue(built)
    item = {"endToEndId": "E00000000202612051200abcdef123456", "txid": views[0].txid,
            "valor": "100.00", "horario": "2026-12-05T12:00:00.000Z"}
    body, headers = pix_body(item)
    bad = await client.post("/webhooks/pix", content=body,
                            headers={**headers, "X-Regua-Pix-Signature": "sha256=00"})
    assert bad.status_code == 403
    answer = await client.post("/webhooks/pix", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["counts"] == {"settled": 1}
    repeat = await client.post("/webhooks/pix", content=body, headers=headers)
    assert repeat.json()["counts"] == {"duplicate": 1}
    unknown_body, unknown_headers = pix_body({**item, "endToEndId": "E1", "txid": "RGNAOEXISTE"})
    unknown = await client.post("/webhooks/pix", content=unknown_body, headers=unknown_headers)
    assert unknown.json()["counts"] == {"unknown": 1}
    async with transaction(built.principal) as session:
        paid = (await session.execute(select(func.sum(Payment.amount)).where(
            Payment.debtor_id == built.debtor_id, Payment.source == "agency"))).scalar_one()
        first = (await session.execute(select(Installment).where(
            Installment.agreement_id == built.agreement_id, Installment.number == 1)
        )).scalar_one()
        balance = (await session.execute(select(Debt.current_balance).where(
            Debt.id == built.debt_ids[0]))).scalar_one()
    assert paid == Decimal("100.00")
    assert first.status == "paid" and first.paid_amount == Decimal("100.00")
    assert balance == Decimal("150.00")  # the agreement (250.00) less the first installment


@pytest.mark.parametrize("layout", ["240", "400"])
async def test_return_file_settles_reports_partial_over_and_unknown(
        client, factory, database_url, tmp_path, layout) -> None:
    tenant = await factory.tenant()
    full = await build_agreement(database_url, tenant.id, amounts=("100.00", "150.00"))
    partial = await build_agreement(database_url, tenant.id, amounts=("80.00",),
                                    document="11144477735")
    full_slips, partial_slips = await issue(full), await issue(partial)
    today = dt.date.today()

    def paid(view, amount: str) -> cnab.SlipPayment:  # type: ignore[no-untyped-def]
        return cnab.SlipPayment(view.nosso_numero, view.amount, Decimal(amount), today,
                                view.due_date, fee=Decimal("1.50"))

    rows = [paid(full_slips[0], "100.00"), paid(full_slips[1], "151.00"),
            paid(partial_slips[0], "50.00"),
            cnab.SlipPayment("12345679999999999", Decimal("10.00"), Decimal("10.00"), today,
                             today)]
    data = (cnab.write_240("001", rows, generated=today) if layout == "240"
            else cnab.write_400(rows, generated=today))
    path = tmp_path / f"retorno.{layout}"
    path.write_bytes(data)
    result = regua("payments", "import-return", str(path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["counts"] == {"settled": 1, "overpaid": 1, "partial": 1, "unknown": 1}
    assert report["overpaid"][0]["excess"] == "1.00"
    assert report["partial"][0]["expected"] == "80.00"
    assert report["unknown"][0]["reference"] == "12345679999999999"
    again = json.loads(regua("payments", "import-return", str(path), "--json")
                       .stdout.strip().splitlines()[-1])
    assert again["counts"] == {"duplicate": 3, "unknown": 1}
    async with transaction(full.principal) as session:
        agreement = (await session.execute(select(Agreement).where(
            Agreement.id == full.agreement_id))).scalar_one()
        debts = list((await session.execute(select(Debt).where(
            Debt.id.in_(full.debt_ids)))).scalars())
        received = (await session.execute(select(func.sum(Payment.amount)).where(
            Payment.debtor_id == full.debtor_id))).scalar_one()
        partial_installment = (await session.execute(select(Installment).where(
            Installment.agreement_id == partial.agreement_id))).scalar_one()
        held = (await session.execute(select(SlipPayment).where(
            SlipPayment.installment_id == partial_installment.id))).scalar_one()
    assert agreement.status == "settled" and agreement.settled_at is not None
    assert all(d.status == "paid" and d.current_balance == 0 for d in debts)
    assert received == Decimal("250.00")  # the excess is reported, not booked
    assert partial_installment.status == "open"
    assert held.outcome == "partial" and held.amount_paid == Decimal("50.00")


def test_a_file_that_is_not_a_return_is_refused(tmp_path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("nada\n")
    result = regua("payments", "import-return", str(path), "--json")
    assert result.returncode == 1
    assert "CNAB" in json.loads(result.stdout)["error"]
