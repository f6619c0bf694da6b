"""The monthly statement: commission by band and bucket, both sources apart, its totals
equal to the payments table to the cent, downloads, and the second tenant's 404."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from sqlalchemy import func, select

from core.access import DebtId, TenantId, transaction
from core.collection import ledger
from core.models import Bucket, Payment, PaymentSource
from legal import fees, payments, slips, statement
from legal.access import access_agreement
from legal.payment_models import SlipKind
from tests.legal.helpers import build_agreement
from tests.pdftext import flat, fonts


async def _month_with_payments(factory, database_url):  # type: ignore[no-untyped-def]
    tenant = await factory.tenant()
    built = await build_agreement(database_url, tenant.id, amounts=("100.00", "150.00"),
                                  placed=(("300.00", "20.00"),))
    today = dt.date.today()
    async with transaction(built.principal) as session:
        checked = await access_agreement(session, built.principal, built.agreement_id)
        views = await slips.issue(session, built.principal, checked)
        await fees.set_contract(session, built.principal, TenantId(tenant.id),
                                     fees.Contract((
                                         fees.Band(0, 180, Bucket.PRINCIPAL, Decimal("10")),
                                         fees.Band(181, None, Bucket.PRINCIPAL,
                                                        Decimal("20")),
                                         fees.Band(0, None, Bucket.INTEREST, Decimal("33")),
                                     ), None, True))
    async with transaction(built.principal) as session:
        await payments.apply(session, built.principal, kind=SlipKind.PIX,
                             reference=views[0].txid, external_id="E-stmt-1",
                             amount_paid=Decimal("100.00"), paid_on=today)
        # The creditor's own settlement file reports a direct payment on the same debt.
        await ledger.record_payment(session, built.principal, DebtId(built.debt_ids[0]),
                                    Decimal("33.33"), paid_on=today,
                                    source=PaymentSource.CREDITOR, reference="baixa")
    return tenant, built, today


async def test_statement_figures_reconcile_with_the_payments_table(factory,
                                                                    database_url) -> None:
    tenant, built, today = await _month_with_payments(factory, database_url)
    month = today.replace(day=1)
    async with transaction(built.principal) as session:
        report = await statement.build(session, TenantId(tenant.id), month)
        table = dict((await session.execute(
            select(Payment.source, func.sum(Payment.amount))
            .where(Payment.tenant_id == tenant.id, Payment.paid_on >= month)
            .group_by(Payment.source))).all())
    assert report.by_source["agency"].amount == table["agency"] == Decimal("100.00")
    assert report.by_source["creditor"].amount == table["creditor"] == Decimal("33.33")
    # The debt was placed 200 days overdue: principal earns 20%, interest 33%. The PIX
    # (100.00) paid the remaining interest first (none: the discount took it), so all
    # principal: 20.00. The direct payment, principal too: 6.666 -> 6.67 (half-even).
    assert [line.commission for line in report.lines] == [Decimal("20.00"), Decimal("6.67")]
    assert report.by_source["agency"].net_to_creditor == Decimal("80.00")
    assert report.by_source["creditor"].net_to_creditor == Decimal("-6.67")
    assert report.net_due == Decimal("73.33")
    assert all(line.agreement_id == built.agreement_id for line in report.lines)


async def test_statement_page_and_downloads_and_the_wall(client, factory, database_url) -> None:
    tenant, _built, today = await _month_with_payments(factory, database_url)
    other = await factory.tenant()
    month = f"{today:%Y-%m}"
    page = await client.get(f"/prestacao-de-contas?mes={month}", headers=tenant.admin.headers)
    assert page.status_code == 200
    assert "Saldo a repassar ao credor" in page.text and "R$ 73,33" in page.text
    assert "pago ao credor" in page.text and "pago à assessoria" in page.text
    download = await client.get(f"/prestacao-de-contas.csv?credor={tenant.id}&mes={month}",
                                headers=tenant.admin.headers)
    assert download.status_code == 200
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Data do pagamento", "Origem", "Devedor"]
    assert rows[-1] == ["Saldo a repassar ao credor", "", "", "", "", "", "", "", "", "73,33"]
    pdf = await client.get(f"/prestacao-de-contas.pdf?credor={tenant.id}&mes={month}",
                           headers=tenant.admin.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert fonts(pdf.content) == {"DejaVuSansBook": True, "DejaVuSansBold": True}
    shown = flat(pdf.content)
    assert "Prestação de contas" in shown and "pago à assessoria" in shown
    assert "Saldo a repassar ao credor: R$ 73,33" in shown
    viewer = await factory.user("creditor_viewer", tenant_id=tenant.id)
    assert (await client.get(f"/prestacao-de-contas?mes={month}",
                             headers=viewer.headers)).status_code == 200
    admin = await factory.user("admin", tenant_ids=[tenant.id, other.id])
    chosen = await client.get(f"/prestacao-de-contas?credor={tenant.id}&mes={month}",
                              headers=admin.headers)
    assert chosen.status_code == 200 and "R$ 73,33" in chosen.text
    for path in ("/prestacao-de-contas", "/prestacao-de-contas.csv", "/prestacao-de-contas.pdf"):
        stranger = await client.get(f"{path}?credor={tenant.id}&mes={month}",
                                    headers=other.admin.headers)
        assert stranger.status_code == 404, path
    agent = await factory.user("agent", tenant_ids=[tenant.id])
    assert (await client.get("/prestacao-de-contas", headers=agent.headers)).status_code == 403
