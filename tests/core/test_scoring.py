"""Segments and the collection score: each segment rule on crafted debtors, the score's
direction and stored reasons, training that replaces the rules only when it beats them
on held-out rows, the import hook, the CLI, and a second tenant that sees none of it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from core.auth import service as auth
from core.auth.principal import Principal
from core.db import Scope
from core.debtors import file
from core.errors import NotFound
from core.ids import uuid7
from core.models import (
    ContactOptOut,
    ContactPoint,
    Debt,
    Debtor,
    DebtorScore,
    DebtorScoreHistory,
    Hold,
    Interaction,
    LedgerEntry,
    Payment,
    ScoringModel,
    ScoringPolicy,
)
from core.scoring import service, training
from core.scoring.rules import FEATURE_NAMES, band_of
from tests.portal.test_cli import regua

NOW = dt.datetime.now(dt.UTC)
TODAY = NOW.date()


def days_ago(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


def system(tenant_id: uuid.UUID) -> Principal:
    return Principal.system(Scope.tenant(tenant_id))


async def add_debtor(db, tenant_id: uuid.UUID, *, debts: list[dict[str, Any]],
                     contacts: list[tuple[str, str, str]] | None = None,
                     opt_outs: list[tuple[int, str]] = (), created_days_ago: int = 200,
                     kind: str = "cpf", hold: bool = False, inbound: int = 0) -> uuid.UUID:
    """A debtor with its debts (due, status, balance, paid_on, closed_on), contact points
    (kind, value, quality; default one unverified mobile) and opt-outs (contact index,
    channel)."""
    debtor_id = uuid7()
    created = NOW - dt.timedelta(days=created_days_ago)
    async with db.transaction(Scope.tenant(tenant_id)) as session:
        session.add(Debtor(tenant_id=tenant_id, id=debtor_id, name="Devedor de Teste",
                           document=str(random.randint(10**10, 10**11 - 1)) if kind == "cpf"
                           else str(random.randint(10**13, 10**14 - 1)),
                           document_kind=kind, created_at=created))
        for i, d in enumerate(debts):
            debt_id = uuid7()
            status = d.get("status", "open")
            closed = d.get("closed_on")
            session.add(Debt(
                tenant_id=tenant_id, id=debt_id, debtor_id=debtor_id, portfolio_id=uuid7(),
                last_portfolio_id=uuid7(), contract=f"C-{uuid.uuid4().hex[:10]}",
                installment=i + 1, original_amount=Decimal(d.get("balance", "100.00")),
                current_balance=Decimal(d.get("balance", "100.00")), due_date=d["due"],
                status=status,
                closed_at=dt.datetime.combine(closed, dt.time(15), dt.UTC) if closed else None))
            session.add(LedgerEntry(
                tenant_id=tenant_id, id=uuid7(), debt_id=debt_id, posted_on=d["due"],
                bucket="principal", kind="placement",
                amount=Decimal(d.get("balance", "100.00")), source="portfolio"))
            if d.get("paid_on"):
                session.add(Payment(tenant_id=tenant_id, id=uuid7(), debt_id=debt_id,
                                    debtor_id=debtor_id, amount=Decimal("100.00"),
                                    paid_on=d["paid_on"], source="creditor"))
        points = []
        for ckind, value, quality in (contacts if contacts is not None
                                      else [("phone", "+5511987654321", "unverified")]):
            point = ContactPoint(tenant_id=tenant_id, id=uuid7(), debtor_id=debtor_id,
                                 kind=ckind, value=value, source="test", quality=quality)
            session.add(point)
            points.append(point)
        for index, channel in opt_outs:
            session.add(ContactOptOut(tenant_id=tenant_id, id=uuid7(),
                                      contact_point_id=points[index].id, channel=channel,
                                      source="debtor"))
        if hold:
            session.add(Hold(tenant_id=tenant_id, id=uuid7(), debtor_id=debtor_id,
                             kind="dispute", reason="contesta", set_by_email="t@t"))
        for _ in range(inbound):
            session.add(Interaction(tenant_id=tenant_id, id=uuid7(), debtor_id=debtor_id,
                                    channel="call", direction="inbound", outcome="answered",
                                    process="test", cause_kind="debtor"))
    return debtor_id


async def scores(db, tenant_id: uuid.UUID) -> dict[uuid.UUID, DebtorScore]:
    async with db.transaction(Scope.tenant(tenant_id)) as session:
        rows = (await session.execute(select(DebtorScore))).scalars()
        return {r.debtor_id: r for r in rows}


OVERDUE = {"due": days_ago(40), "balance": "300.00"}


async def test_each_segment_rule_on_crafted_debtors(db, factory):
    t = (await factory.tenant("Segmentos")).id
    first = await add_debtor(db, t, debts=[OVERDUE, {"due": TODAY + dt.timedelta(days=30)}])
    habitual = await add_debtor(db, t, debts=[
        OVERDUE,
        # one paid 5 days late (its payment says so), one settled 3 days late (closed then)
        {"due": days_ago(120), "status": "paid", "paid_on": days_ago(115),
         "closed_on": days_ago(100)},
        {"due": days_ago(90), "status": "settled_by_creditor", "closed_on": days_ago(87)}])
    slow_payer = await add_debtor(db, t, debts=[
        OVERDUE,
        {"due": days_ago(200), "status": "paid", "paid_on": days_ago(140),
         "closed_on": days_ago(140)},
        {"due": days_ago(190), "status": "paid", "closed_on": days_ago(100)}])
    rich = await add_debtor(db, t, debts=[{"due": days_ago(40), "balance": "6000.00"}])
    several = await add_debtor(db, t, debts=[OVERDUE, OVERDUE, OVERDUE])
    newcomer = await add_debtor(db, t, debts=[OVERDUE], created_days_ago=5)
    broken = await add_debtor(db, t, debts=[{**OVERDUE, "status": "in_agreement"}])
    in_agreement = await add_debtor(db, t, debts=[{**OVERDUE, "status": "in_agreement"}])
    unreachable = await add_debtor(db, t, debts=[OVERDUE], contacts=[
        ("phone", "+5511900000001", "wrong_party"), ("email", "x@ex.com", "unverified")],
        opt_outs=[(1, "email")])
    calls_only = await add_debtor(db, t, debts=[OVERDUE], contacts=[
        ("phone", "+5511900000002", "unverified")], opt_outs=[(0, "sms"), (0, "whatsapp")])
    closed = await add_debtor(db, t, debts=[{"due": days_ago(40), "status": "paid",
                                             "closed_on": days_ago(1)}])
    async with db.transaction(Scope.tenant(t)) as session:
        # The agreement fell through: the debt comes back to collection.
        await session.execute(text("UPDATE debt SET status = 'open' WHERE debtor_id = :d"),
                              {"d": broken})

    summary = await service.refresh_tenant(system(t), t)
    got = {k: sorted(v.segments) for k, v in (await scores(db, t)).items()}

    assert got[first] == ["primeiro_atraso"]
    assert got[habitual] == ["devedor_viciado"]
    assert got[slow_payer] == []  # paid, but months late: not a habit of a few days
    assert got[rich] == ["primeiro_atraso", "saldo_alto"]
    assert got[several] == ["varios_titulos"]
    assert got[newcomer] == ["novo", "primeiro_atraso"]
    assert "acordo_quebrado" in got[broken]
    assert "acordo_quebrado" not in got[in_agreement]
    assert "sem_contato" in got[unreachable]
    assert "sem_contato" not in got[calls_only]  # calls are still allowed on that phone
    assert closed not in got  # nothing in collection: no score
    assert summary.debtors == len(got) == 10
    assert summary.segments["primeiro_atraso"] == 5
    assert got[broken] == ["acordo_quebrado"]  # an agreement before: not a first delay

    # The high-balance threshold is the tenant's policy.
    async with db.transaction(Scope.tenant(t)) as session:
        session.add(ScoringPolicy(tenant_id=t, id=uuid7(), high_balance_min=Decimal("7000"),
                                  several_debts_min=3, new_debtor_days=30, late_days_max=15,
                                  habitual_min=2))
    await service.refresh_tenant(system(t), t)
    assert "saldo_alto" not in (await scores(db, t))[rich].segments


async def test_the_score_falls_with_delay_rises_with_past_payments_and_keeps_its_reasons(
        db, factory):
    t = (await factory.tenant("Direcao")).id
    recent = await add_debtor(db, t, debts=[{"due": days_ago(10)}])
    old = await add_debtor(db, t, debts=[{"due": days_ago(200)}])
    older = await add_debtor(db, t, debts=[{"due": days_ago(400)}])
    payer = await add_debtor(db, t, debts=[
        {"due": days_ago(200)},
        {"due": days_ago(300), "status": "paid", "paid_on": days_ago(300),
         "closed_on": days_ago(299)},
        {"due": days_ago(330), "status": "paid", "paid_on": days_ago(331),
         "closed_on": days_ago(329)}])
    on_hold = await add_debtor(db, t, debts=[{"due": days_ago(200)}], hold=True)

    await service.refresh_tenant(system(t), t)
    s = await scores(db, t)
    assert s[recent].score > s[old].score > s[older].score
    assert s[payer].score > s[old].score
    assert s[on_hold].score < s[old].score
    for row in s.values():
        assert row.band == band_of(row.score) and row.method == "rules"

    reasons = s[older].reasons
    assert reasons[0]["feature"] == "days_overdue" and reasons[0]["effect"] < 0
    assert s[older].inputs["days_overdue"] == 400
    assert any(r["feature"] == "paid_debts" and r["effect"] > 0 for r in s[payer].reasons)

    async with db.transaction(Scope.tenant(t)) as session:
        kept = (await session.execute(select(DebtorScoreHistory).where(
            DebtorScoreHistory.debtor_id == older))).scalar_one()
    assert kept.scored_on == TODAY and kept.score == s[older].score
    assert kept.reasons == reasons and kept.vector["days_overdue"] == pytest.approx(400 / 30)

    # The debtor file shows it, in words.
    shown = await file.debtor_file(system(t), older)
    assert shown.score is not None and shown.score.score == s[older].score
    assert shown.score.reasons[0].text.startswith("400 dias de atraso")
    assert "reduz" in shown.score.reasons[0].text


async def craft_history(db, tenant_id: uuid.UUID, n: int,
                        paid_when) -> None:  # type: ignore[no-untyped-def]
    """`n` debtor-days scored 31 to 120 days ago, each with random inputs; a payment
    follows within 30 days when `paid_when(vector)` says so."""
    rng = random.Random(17)
    async with db.transaction(Scope.tenant(tenant_id)) as session:
        for i in range(n):
            debtor_id = uuid7()
            scored_on = days_ago(120 - (i * 89 // n))
            vector = {name: 0.0 for name in FEATURE_NAMES}
            vector.update(days_overdue=rng.uniform(0, 12), balance=4.0,
                          company=float(rng.random() < 0.5), open_debts=1.0)
            session.add(DebtorScoreHistory(
                tenant_id=tenant_id, id=uuid7(), debtor_id=debtor_id, scored_on=scored_on,
                score=500, band="C", method="rules", inputs={}, vector=vector, reasons=[]))
            if paid_when(vector):
                session.add(Payment(tenant_id=tenant_id, id=uuid7(), debt_id=uuid7(),
                                    debtor_id=debtor_id, amount=Decimal("50.00"),
                                    paid_on=scored_on + dt.timedelta(days=7),
                                    source="agency"))


async def test_a_model_replaces_the_rules_only_when_it_beats_them_on_held_out_rows(
        db, factory, client):
    # Companies pay, people do not: an input the rules give no weight.
    companies = (await factory.tenant("Empresas")).id
    await craft_history(db, companies, 400, lambda v: v["company"] == 1.0)
    # Whoever is less than three months late pays: the rules already rank that right.
    prompt = (await factory.tenant("Pontuais")).id
    await craft_history(db, prompt, 400, lambda v: v["days_overdue"] < 3)
    # Too few outcomes: nothing is trained.
    young = (await factory.tenant("Novato")).id
    await craft_history(db, young, 50, lambda v: v["company"] == 1.0)
    for t in (companies, prompt, young):
        await add_debtor(db, t, debts=[OVERDUE], kind="cnpj")

    won, rescored = await service.train_tenant(system(companies), companies)
    assert won.trained and won.active
    assert won.model_auc > won.rules_auc + training.MARGIN
    assert rescored.method == "model"
    assert {r.method for r in (await scores(db, companies)).values()} == {"model"}

    kept, rescored = await service.train_tenant(system(prompt), prompt)
    assert kept.trained and not kept.active
    assert kept.rules_auc == pytest.approx(1.0)
    assert rescored.method == "rules"

    none, _ = await service.train_tenant(system(young), young)
    assert not none.trained and "insuficientes" in none.note
    async with db.transaction(Scope.tenant(young)) as session:
        assert (await session.execute(select(ScoringModel))).first() is None

    # The supervisor's page shows both AUCs.
    supervisor = await factory.user("supervisor", tenant_ids=[companies, prompt])
    page = await client.get(f"/score/{companies}", headers=supervisor.headers)
    assert page.status_code == 200
    assert f"{won.rules_auc:.3f}".replace(".", ",") in page.text
    assert f"{won.model_auc:.3f}".replace(".", ",") in page.text


async def test_another_tenants_scores_stay_behind_the_wall(db, factory, client):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    mine = await add_debtor(db, alfa.id, debts=[OVERDUE])
    theirs = await add_debtor(db, beta.id, debts=[OVERDUE])
    await service.refresh_tenant(system(alfa.id), alfa.id)
    await service.refresh_tenant(system(beta.id), beta.id)

    async with db.transaction(Scope.tenant(alfa.id)) as session:
        seen = set((await session.execute(select(DebtorScore.debtor_id))).scalars())
        assert (await service.scores_for(session, [mine, theirs])).keys() == {mine}
    assert seen == {mine}

    supervisor = await factory.user("supervisor", tenant_ids=[alfa.id])
    principal = await auth.load_principal(db, supervisor.user_id)
    with pytest.raises(NotFound):
        await service.refresh_tenant(principal, beta.id)
    with pytest.raises(NotFound):
        await service.overview(principal, beta.id)
    assert [o.tenant_id for o in await service.overview(principal)] == [alfa.id]

    listing = await client.get("/score", headers=supervisor.headers)
    assert listing.status_code == 200
    assert "Alfa" in listing.text and "Beta" not in listing.text
    assert (await client.get(f"/score/{beta.id}", headers=supervisor.headers)).status_code == 404
    await client.get("/")
    posted = await client.post(f"/score/{beta.id}/calcular", headers={
        **supervisor.headers, "x-csrftoken": client.cookies.get("regua_csrf", "")})
    assert posted.status_code == 404
    # A creditor's own staff do not get the supervisor's page.
    assert (await client.get(f"/score/{alfa.id}", headers=alfa.admin.headers)).status_code == 403


async def test_an_import_scores_its_tenant_when_it_finishes(db, factory, worker, tmp_path: Path):
    from portal.operator import import_portfolio

    tenant = await factory.tenant("Importa")
    path = tmp_path / "carteira.csv"
    path.write_text("CPF/CNPJ;Nome;Contrato;Parcela;Vencimento;Valor;Telefone\n"
                    "52998224725;José;CT-1;1;10/01/2025;100,00;(11) 98765-4321\n"
                    "11144477735;Maria;CT-2;1;10/02/2025;9000,00;\n", encoding="utf-8")
    result = await import_portfolio(tenant.slug, str(path), None, "incremental", None)
    assert result["status"] == "done"
    for _ in range(150):  # the worker scores the tenant once the import has committed
        if len(got := await scores(db, tenant.id)) == 2:
            break
        await asyncio.sleep(0.2)
    assert len(got) == 2
    segments = {tuple(sorted(s.segments)) for s in got.values()}
    assert ("novo", "primeiro_atraso", "saldo_alto", "sem_contato") in segments


async def test_score_run_on_the_command_line(db, factory):
    tenant = await factory.tenant("Linha")
    await add_debtor(db, tenant.id, debts=[OVERDUE], created_days_ago=2)
    answer = regua("score", "run", "--tenant", tenant.slug, "--json")
    assert answer.returncode == 0, answer.stderr
    body = json.loads(answer.stdout.strip().splitlines()[-1])
    assert body["tenant"] == tenant.slug and body["debtors"] == 1
    assert sum(body["bands"].values()) == 1 and set(body["bands"]) == {"A", "B", "C", "D"}
    assert body["segments"]["novo"] == 1 and body["segments"]["sem_contato"] == 0
    assert regua("score", "run", "--tenant", "nao-existe", "--json").returncode == 1


async def test_bands_and_segments_select_debtors_for_cadences_and_dialer_lists(db, factory):
    t = (await factory.tenant("Listas")).id
    fresh = await add_debtor(db, t, debts=[{"due": days_ago(5)}],
                             contacts=[("phone", "+5511911112222", "good")])
    stale = await add_debtor(db, t, debts=[{"due": days_ago(700), "balance": "9000.00"}],
                             contacts=[])
    await service.refresh_tenant(system(t), t)
    s = await scores(db, t)
    assert s[fresh].band in ("A", "B") and s[stale].band == "D"
    async with db.transaction(Scope.tenant(t)) as session:
        async def ids(**condition: Any) -> set[uuid.UUID]:
            return set((await session.execute(service.matching(t, **condition))).scalars())

        assert await ids(score_max=500) == {stale}
        assert await ids(bands=["A", "B"]) == {fresh}
        assert await ids(segments=["sem_contato", "varios_titulos"]) == {stale}
        assert await ids(score_max=500, segments=["primeiro_atraso"]) == {stale}
        assert await ids(score_min=501, segments=["sem_contato"]) == set()
