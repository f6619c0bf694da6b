"""The dashboard as tables of cells (text for people, value for spreadsheets, a link to
the debts behind it), and its charts: what the page, the exports and the monthly PDF
show, built once here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from core.formatting import brl, int_br
from core.models import CHANNEL_LABELS
from legal.escalation.models import PATH_LABELS, STATE_LABELS
from reports import charts
from reports.charts import Bar, Series, count, money_short, pct
from reports.dashboard import (
    ARM_LABELS,
    EVENT_LABELS,
    Dashboard,
    Difference,
)
from reports.families import BAND_LABELS

Link = Callable[[str, str], str | None]
Value = Decimal | int | str | None


@dataclass(frozen=True)
class Cell:
    """`kind` tells a spreadsheet how to show `value`: text, int, money, pct (a ratio) or
    num (a plain decimal)."""

    text: str
    value: Value = None
    href: str | None = None
    css: str = ""
    kind: str = "text"


@dataclass
class Table:
    key: str
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    note: str = ""


def _num(value: int, href: str | None = None) -> Cell:
    return Cell(int_br(value), value, href, "num", "int")


def _money(value: Decimal | None, href: str | None = None) -> Cell:
    return Cell("—" if value is None else brl(value), value, href, "num", "money")


def _pct(value: Decimal | None, css: str = "num") -> Cell:
    return Cell(pct(value), None if value is None else round(value, 4), None, css, "pct")


def _decimal(value: Decimal | None, places: int = 1) -> Cell:
    if value is None:
        return Cell("—", None, None, "num")
    return Cell(f"{value:.{places}f}".replace(".", ","), round(value, places), None, "num",
                "num")


def _hours(seconds: int) -> Cell:
    return Cell(f"{seconds // 3600}h{seconds % 3600 // 60:02d}",
                round(Decimal(seconds) / 3600, 2), None, "num", "num")


def month_label(month: dt.date) -> str:
    return f"{month:%m/%Y}"


def _channel(code: str) -> str:
    return CHANNEL_LABELS.get(code, code)  # type: ignore[call-overload, no-any-return]


def _diff(diff: Difference | None, fmt: Callable[[Decimal], str]) -> list[Cell]:
    if diff is None:
        return [Cell("—", None, None, "num"), Cell("—")]
    verdict = "diferença significativa" if diff.significant else "sem diferença significativa"
    return [Cell(fmt(diff.value), round(diff.value, 4), None, "num", "num"),
            Cell(f"de {fmt(diff.low)} a {fmt(diff.high)} ({verdict})")]


def _pp(value: Decimal) -> str:
    return f"{value * 100:+.1f}".replace(".", ",") + " p.p."


def _brl_signed(value: Decimal) -> str:
    return ("+" if value >= 0 else "-") + brl(abs(value))


def kpis(board: Dashboard) -> list[tuple[str, Cell]]:
    totals = board.channel_totals()
    out = [
        ("Valor colocado no período", _money(board.placed_amount)),
        ("Títulos colocados", _num(board.placed_debts)),
        ("Índice de liquidez", _pct(board.liquidity)),
        ("Recuperado no período", _money(board.money.recovered)),
        ("Prazo médio de pagamento (dias)", _decimal(board.money.average_days_to_pay)),
        ("Taxa de contato", _pct(totals.contact_rate)),
        ("Taxa de contato com o devedor (CPC)", _pct(totals.rpc_rate)),
        ("Promessas cumpridas", _pct(board.promises.kept_rate)),
        ("Acordos feitos", _num(board.agreements.counts.get("made", 0))),
        ("Valor em acordos feitos", _money(board.agreements.amounts.get("made", Decimal(0)))),
    ]
    if board.show_fees:
        out += [("Honorários da assessoria", _money(board.money.commission)),
                ("Líquido devido ao credor", _money(board.money.net_due))]
    return out


def build_tables(board: Dashboard, link: Link) -> list[Table]:
    out = [Table("resumo", "Resumo do período", ["Indicador", "Valor"],
                 [[Cell(label), cell] for label, cell in kpis(board)])]

    placed = board.placed_amount
    bands = Table("faixas", "Carteira colocada por faixa de atraso",
                  ["Faixa de atraso na colocação", "Títulos", "Valor colocado", "% do valor"],
                  note="Dias entre o vencimento e a colocação do título na assessoria.")
    for b in board.bands:
        bands.rows.append([Cell(BAND_LABELS[b.band]), _num(b.debts, link("faixa", b.band)),
                           _money(b.amount), _pct(b.amount / placed if placed else None)])
    out.append(bands)

    cohorts = Table("safras", "Recuperação por mês de colocação",
                    ["Mês de colocação", "Títulos", "Valor colocado",
                     "Recuperado pela assessoria", "Taxa de recuperação",
                     "Pago direto ao credor"],
                    note="Tudo o que foi pago à assessoria até hoje sobre os títulos "
                         "colocados em cada mês.")
    for c in board.cohorts:
        cohorts.rows.append([Cell(month_label(c.month), f"{c.month:%Y-%m}"),
                             _num(c.debts), _money(c.placed),
                             _money(c.recovered, link("safra", f"{c.month:%Y-%m}")),
                             _pct(c.rate), _money(c.direct)])
    out.append(cohorts)

    width = max((len(c.curve) for c in board.cohorts), default=0)
    vintage = Table("curvas", "Curvas de safra: recuperado acumulado ÷ colocado",
                    ["Safra", *[f"M{k}" for k in range(width)]],
                    note="M0 é o mês da colocação; M1, o mês seguinte, e assim por diante.")
    for c in board.cohorts:
        vintage.rows.append([Cell(month_label(c.month), f"{c.month:%Y-%m}"),
                             *[_pct(v) for v in c.curve],
                             *[Cell("") for _ in range(width - len(c.curve))]])
    out.append(vintage)

    contact = Table("contato", "Contato por canal",
                    ["Canal", "Tentativas", "Contatos", "Taxa de contato",
                     "Contatos com o devedor (CPC)", "Taxa de CPC", "Recebidos do devedor"])
    for ch in [*board.channels, board.channel_totals()]:
        name = _channel(ch.channel) if ch.channel else "Total"
        contact.rows.append([Cell(name), _num(ch.attempts),
                             _num(ch.contacts, link("contato", ch.channel) if ch.channel
                                  else None),
                             _pct(ch.contact_rate), _num(ch.rpc), _pct(ch.rpc_rate),
                             _num(ch.inbound)])
    out.append(contact)

    messages = Table("mensagens", "Mensagens da régua por canal e passo",
                     ["Passo", "Canal", "Planejadas", "Enviadas", "Entregues", "Lidas",
                      "Falharam", "Bloqueadas ou expiradas"])
    for row in board.messages:
        messages.rows.append([Cell(f"D{row.step_day:+d}", row.step_day),
                              Cell(_channel(row.channel)), _num(row.planned),
                              _num(row.sent, link("mensagem", f"{row.channel}:{row.step_day}")),
                              _num(row.delivered), _num(row.read), _num(row.failed),
                              _num(row.blocked)])
    out.append(messages)

    p = board.promises
    out.append(Table("promessas", "Promessas de pagamento",
                     ["Feitas", "Valor prometido", "Cumpridas", "Valor cumprido", "Quebradas",
                      "Em aberto", "Taxa de cumprimento"],
                     [[_num(p.made), _money(p.made_amount),
                       _num(p.kept, link("promessa", "cumprida")), _money(p.kept_amount),
                       _num(p.broken, link("promessa", "quebrada")),
                       _num(p.pending, link("promessa", "aberta")), _pct(p.kept_rate)]],
                     note="Cumprida: o devedor pagou à assessoria ao menos o valor prometido "
                          "entre o dia da promessa e a data prometida."))

    a = board.agreements
    agreements = Table("acordos", "Acordos", ["Situação", "Acordos", "Valor"])
    for event, label in EVENT_LABELS.items():
        agreements.rows.append([Cell(label.capitalize()),
                                _num(a.counts.get(event, 0), link("acordo", event)),
                                _money(a.amounts.get(event, Decimal(0)))])
    if a.running is not None:
        agreements.rows.append([Cell("Em andamento hoje (saldo a receber)"),
                                _num(a.running), _money(a.outstanding)])
    out.append(agreements)

    escalations = Table("escalonamentos", "Escalonamentos por caminho e situação",
                        ["Caminho", "Situação atual", "Títulos", "Valor"],
                        note="Títulos escalonados no período, pela situação de hoje.")
    for e in board.escalations:
        escalations.rows.append([
            Cell(PATH_LABELS.get(e.path, e.path)),  # type: ignore[call-overload]
            Cell(STATE_LABELS.get(e.state, e.state)),  # type: ignore[call-overload]
            _num(e.escalations, link("escalonamento", f"{e.path}:{e.state}")),
            _money(e.amount)])
    out.append(escalations)

    agents = Table("operadores", "Produtividade dos operadores",
                   ["Operador", "Ligações", "Horas logadas", "Ligações por hora",
                    "Tempo falado", "% do tempo falando", "Acordos", "Valor acordado"])
    for ag in board.agents:
        agents.rows.append([Cell(ag.name), _num(ag.calls), _hours(ag.logged_seconds),
                            _decimal(ag.calls_per_hour), _hours(ag.talk_seconds),
                            _pct(ag.talk_share), _num(ag.agreements), _money(ag.agreed_amount)])
    out.append(agents)

    dialer = Table("discador", "Discador por campanha",
                   ["Campanha", "Discagens", "Atendidas", "Taxa de atendimento",
                    "Abandonadas", "Taxa de abandono", "Meta de abandono"],
                   note=f"Ocupação dos operadores no período: {pct(board.occupancy)} "
                        "(tempo falado mais pós-atendimento ÷ tempo logado).")
    for d in board.dialer:
        dialer.rows.append([Cell(d.name), _num(d.dialed), _num(d.answered),
                            _pct(d.answer_rate), _num(d.abandoned),
                            _pct(d.abandon_rate, "num bad" if d.over_target else "num"),
                            _pct(d.abandon_target)])
    out.append(dialer)

    ex = board.experiment
    experiment = Table("campea-desafiante", "Régua campeã × desafiante",
                       ["Lado", "Devedores", "Pagantes", "% que pagou", "Recuperado",
                        "Recuperado por devedor"],
                       note="Devedores pela régua em que entraram no período (intenção de "
                            "tratar), com o que pagaram à assessoria desde então. Intervalo "
                            "de confiança de 95%.")
    for arm in (ex.champion, ex.challenger):
        if arm is not None:
            experiment.rows.append([Cell(ARM_LABELS.get(arm.arm, arm.arm).capitalize()),
                                    _num(arm.debtors),
                                    _num(arm.payers, link("experimento", arm.arm)),
                                    _pct(arm.payer_rate), _money(arm.recovered),
                                    _money(None if arm.mean is None else round(arm.mean, 2))])
    experiment.rows.append([Cell("Diferença no % que pagou (desafiante − campeã)"),
                            *_diff(ex.payer_rate_diff, _pp), Cell(""), Cell(""), Cell("")])
    experiment.rows.append([Cell("Diferença no recuperado por devedor"),
                            *_diff(ex.mean_diff, _brl_signed), Cell(""), Cell(""), Cell("")])
    out.append(experiment)

    if board.show_fees:
        m = board.money
        out.append(Table("honorarios", "Honorários e repasse ao credor",
                         ["Recebido pela assessoria", "Honorários (comissão)",
                          "Pago direto ao credor", "Líquido devido ao credor"],
                         [[_money(m.recovered, link("honorarios", "")), _money(m.commission),
                           _money(m.direct), _money(m.net_due)]],
                         note="Pela prestação de contas de cada mês do período."))
    return out


def build_charts(board: Dashboard, link: Link) -> dict[str, str]:
    """The dashboard's charts as SVG, by section key."""
    out = {
        "faixas": charts.bars(
            "Valor colocado por faixa de atraso",
            [Bar(BAND_LABELS[b.band].replace(" dias", "d"), b.amount, link("faixa", b.band))
             for b in board.bands], money_short),
        "safras": charts.bars(
            "Taxa de recuperação por mês de colocação",
            [Bar(month_label(c.month), c.rate or Decimal(0),
                 link("safra", f"{c.month:%Y-%m}")) for c in board.cohorts],
            lambda v: pct(Decimal(v)), color=charts.PALETTE[2]),
    }
    cohorts = board.cohorts[-12:]
    width = max((len(c.curve) for c in cohorts), default=0)
    out["curvas"] = charts.lines(
        "Curvas de safra", [f"M{k}" for k in range(width)],
        [Series(month_label(c.month), c.curve) for c in cohorts], lambda v: pct(Decimal(v), 0))
    if board.channels:
        out["contato"] = charts.grouped(
            "Taxas de contato por canal", [_channel(c.channel) for c in board.channels],
            [Series("contato", [c.contact_rate for c in board.channels]),
             Series("CPC", [c.rpc_rate for c in board.channels])],
            lambda v: pct(Decimal(v), 0))
    by_channel: dict[str, list[int]] = {}
    for message in board.messages:
        totals = by_channel.setdefault(message.channel, [0, 0, 0])
        totals[0] += message.sent
        totals[1] += message.delivered
        totals[2] += message.read
    if by_channel:
        names = sorted(by_channel)
        out["mensagens"] = charts.grouped(
            "Mensagens enviadas, entregues e lidas por canal", [_channel(n) for n in names],
            [Series(label, [Decimal(by_channel[n][i]) for n in names])
             for i, label in enumerate(("enviadas", "entregues", "lidas"))], count)
    return out


def agency_table(boards: list[Dashboard]) -> Table:
    """The tenants side by side: one column each, the same figures in the same rows."""
    table = Table("credores", "Credores lado a lado",
                  ["Indicador", *[b.tenant_name for b in boards]])
    if not boards:
        return table
    columns = [dict(kpis(b)) for b in boards]
    for label, _ in kpis(boards[0]):
        table.rows.append([Cell(label), *[c.get(label, Cell("—")) for c in columns]])

    def row(label: str, cells: list[Cell]) -> None:
        table.rows.append([Cell(label), *cells])

    for band in boards[0].bands:
        row(f"Colocado na faixa {BAND_LABELS[band.band]}",
            [_money(next(x.amount for x in b.bands if x.band == band.band)) for b in boards])
    row("Contatos com o devedor (CPC)", [_num(b.channel_totals().rpc) for b in boards])
    row("Promessas feitas", [_num(b.promises.made) for b in boards])
    row("Acordos quitados", [_num(b.agreements.counts.get("settled", 0)) for b in boards])
    row("Acordos quebrados", [_num(b.agreements.counts.get("broken", 0)) for b in boards])
    row("Saldo a receber em acordos hoje",
        [_money(b.agreements.outstanding) for b in boards])
    row("Títulos escalonados", [_num(sum(e.escalations for e in b.escalations))
                                for b in boards])
    row("Ligações atendidas pelos operadores", [_num(sum(a.calls for a in b.agents))
                                                for b in boards])
    row("Taxa de abandono do discador",
        [_pct(ratio_of(sum(d.abandoned for d in b.dialer), sum(d.answered for d in b.dialer)))
         for b in boards])
    row("Ocupação dos operadores", [_pct(b.occupancy) for b in boards])
    row("Desafiante − campeã (% que pagou)",
        [_diff(b.experiment.payer_rate_diff, _pp)[0] for b in boards])
    return table


def ratio_of(num: int, den: int) -> Decimal | None:
    return Decimal(num) / Decimal(den) if den else None


def agency_charts(boards: list[Dashboard]) -> dict[str, str]:
    names = [b.tenant_name[:18] for b in boards]
    return {
        "Índice de liquidez por credor": charts.bars("Índice de liquidez por credor",
                                [Bar(n, b.liquidity or Decimal(0)) for n, b in
                                 zip(names, boards, strict=True)], lambda v: pct(Decimal(v))),
        "Recuperado no período por credor": charts.bars("Recuperado no período por credor",
                                  [Bar(n, b.money.recovered) for n, b in
                                   zip(names, boards, strict=True)], money_short,
                                  color=charts.PALETTE[2]),
    }
