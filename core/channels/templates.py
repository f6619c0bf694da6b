"""Message templates: Jinja2 in Brazilian Portuguese, per tenant and channel, with the
platform's default for each channel, and the rules every collection template obeys.

Refused when saved:
- CDC art. 42-A: the rendered message must show the creditor's name, address and CNPJ
  and the agency's name and CNPJ. Checked by rendering the template against a sample
  context whose values are distinctive, then looking for each of them in the output.
- CDC arts. 42 and 71: threatening or shaming wording from `forbidden_wording.txt`,
  found in the template or in its rendering, is named in the refusal.
- São Paulo and Rio de Janeiro require a collection message to itemise the original
  amount and each addition. A template is a tenant's for all its debtors, so it is
  refused unless its rendering for a sample SP debtor shows the original amount and
  every addition (the context's `discriminacao`/`discriminacao_curta`, or a loop of its
  own over `dividas`). Refusing rather than appending: an appended block would sit
  outside the text the creditor approved, and an SMS would grow past what it reviewed.

Templates run in Jinja's sandbox (tenant staff write them) with undefined variables
as errors, so a typo is refused on save instead of rendering an empty field.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import TenantId
from core.auth.principal import Principal
from core.channels.base import Notice
from core.documents import format_document
from core.errors import NotFound, ValidationFailed
from core.formatting import brl, date_br
from core.ids import uuid7
from core.models import MESSAGE_CHANNELS, Channel, MessageTemplate
from core.models.ledger import BUCKET_LABELS, Bucket
from core.settings import Settings

HERE = Path(__file__).parent
DEFAULT_NAME = "padrao"
# A message a service sends about the debtor's own request (an approval's answer, with
# a link): its text comes in `aviso`; the platform ships it for e-mail and SMS.
NOTICE_NAME = "aviso"
ITEMISED_STATES = frozenset({"SP", "RJ"})
ADDITIONS = (Bucket.CORRECTION, Bucket.INTEREST, Bucket.FINE, Bucket.FEES)
MAX_BODY = 20_000

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                            keep_trailing_newline=False)

# What a WhatsApp template sends Meta as its body parameters, in order ({{1}}, {{2}}, ...).
DEFAULT_WHATSAPP_PARAMS = [
    "devedor.primeiro_nome", "total", "credor.nome", "credor.cnpj", "credor.endereco",
    "discriminacao_curta if exige_discriminacao else 'sem acréscimos'",
    "assessoria.nome", "assessoria.cnpj", "assessoria.telefone",
]


@dataclass(frozen=True)
class TemplateSource:
    """A template to render: a tenant's saved version, or the platform's default."""

    channel: Channel
    name: str
    version: int
    subject: str | None
    body: str
    params: list[str] | None = None
    id: uuid.UUID | None = None  # None: the platform's default


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body: str
    html: str | None
    params: list[str] | None


@dataclass
class DebtLine:
    contract: str
    installment: int
    due_date: dt.date
    original: Decimal
    balances: dict[Bucket, Decimal] = field(default_factory=dict)


def _default_file(name: str, part: str) -> Path:
    return HERE / "defaults" / (f"{part}.j2" if name == DEFAULT_NAME else f"{name}.{part}.j2")


def has_default(channel: Channel, name: str) -> bool:
    return channel in MESSAGE_CHANNELS and _default_file(name, channel.value).exists()


def default_template(channel: Channel, name: str = DEFAULT_NAME) -> TemplateSource:
    if not has_default(channel, name):
        raise ValueError(f"no message template {name!r} for {channel}")
    body = _default_file(name, channel.value).read_text(encoding="utf-8").strip()
    subject = None
    if channel is Channel.EMAIL:
        subject = _default_file(name, "email.subject").read_text(encoding="utf-8").strip()
    params = list(DEFAULT_WHATSAPP_PARAMS) if channel is Channel.WHATSAPP else None
    return TemplateSource(channel, name, 0, subject, body, params)


# ---- the context a template sees ----------------------------------------------------------

def _additions(line: DebtLine) -> list[tuple[str, Decimal]]:
    return [(BUCKET_LABELS[b], line.balances[b]) for b in ADDITIONS if line.balances.get(b)]


def _itemisation(lines: list[DebtLine]) -> tuple[str, str]:
    """The long and short itemisation: original amount, each addition, and what payments
    or discounts took off, so that the items add up to the total."""
    long_lines, short_parts = [], []
    for line in lines:
        principal = line.balances.get(Bucket.PRINCIPAL, Decimal("0"))
        items = [("valor original", line.original), *_additions(line)]
        if principal != line.original:
            items.append(("pagamentos e descontos", principal - line.original))
        total = sum((v for _, v in items), Decimal("0"))
        text = "; ".join(f"{label} {brl(value)}" for label, value in items)
        long_lines.append(f"- contrato {line.contract}, parcela {line.installment}: {text};"
                          f" total {brl(total)}")
        short_parts.append(" + ".join(f"{label} {brl(value)}" for label, value in items))
    return "\n".join(long_lines), "; ".join(short_parts)


def build_context(*, creditor_name: str, creditor_cnpj: str, creditor_address: str | None,
                  debtor_name: str, debtor_state: str | None, debtor_address: str | None,
                  lines: list[DebtLine], settings: Settings,
                  today: dt.date | None = None,
                  notice: Notice | None = None) -> dict[str, Any]:
    """Everything a template may name, in Portuguese: `credor`, `assessoria`, `devedor`,
    `dividas` (each with `valor_original`, `acrescimos` and `saldo`), `total`,
    `exige_discriminacao` (SP and RJ), `discriminacao`, `discriminacao_curta`, `hoje`,
    and `aviso` (`titulo`, `texto`, `resumo`, `link`; empty unless a service sends one)."""
    debts = []
    grand = Decimal("0")
    for line in lines:
        balance = sum(line.balances.values(), Decimal("0"))
        grand += balance
        debts.append({
            "contrato": line.contract, "parcela": line.installment,
            "vencimento": date_br(line.due_date), "valor_original": brl(line.original),
            "acrescimos": [{"rotulo": label, "valor": brl(value)}
                           for label, value in _additions(line)],
            "saldo": brl(balance),
        })
    long_text, short_text = _itemisation(lines)
    first = debtor_name.split()[0].title() if debtor_name.split() else debtor_name
    return {
        "credor": {"nome": creditor_name, "cnpj": format_document("cnpj", creditor_cnpj),
                   "endereco": creditor_address or ""},
        "assessoria": {"nome": settings.agency_name,
                       "cnpj": format_document("cnpj", settings.agency_cnpj),
                       "telefone": settings.agency_phone},
        "devedor": {"nome": debtor_name, "primeiro_nome": first,
                    "endereco": debtor_address or "", "uf": debtor_state or ""},
        "dividas": debts,
        "total": brl(grand),
        "exige_discriminacao": (debtor_state or "").upper() in ITEMISED_STATES,
        "discriminacao": long_text,
        "discriminacao_curta": short_text,
        "hoje": date_br(today or dt.date.today()),
        "aviso": {"titulo": notice.title if notice else "", "texto": notice.text if notice else "",
                  "resumo": notice.short if notice else "", "link": notice.link if notice else ""},
    }


# Distinctive values: a rendering that shows them shows the fields they stand for.
SAMPLE_CREDITOR = ("Credor Exemplo de Verificação S.A.", "12345678000195",
                   "Avenida da Verificação, 4242 - Centro, Campinas/SP")
SAMPLE_LINE = DebtLine("VERIF-001", 1, dt.date(2026, 1, 10), Decimal("1000.00"), {
    Bucket.PRINCIPAL: Decimal("1000.00"), Bucket.CORRECTION: Decimal("11.11"),
    Bucket.INTEREST: Decimal("22.22"), Bucket.FINE: Decimal("33.33"),
    Bucket.FEES: Decimal("44.44")})


SAMPLE_NOTICE = Notice("Proposta de acordo aprovada",
                       "A proposta de acordo foi aprovada: total de R$ 900,00 em 3 parcelas.",
                       "sua proposta de acordo foi aprovada. Aceite em:",
                       "https://regua.exemplo/acordo?t=exemplo")


def sample_context(settings: Settings, state: str = "SP") -> dict[str, Any]:
    name, cnpj, address = SAMPLE_CREDITOR
    return build_context(creditor_name=name, creditor_cnpj=cnpj, creditor_address=address,
                         debtor_name="Maria Exemplo", debtor_state=state,
                         debtor_address="Rua das Amostras, 10 - São Paulo/SP - 01001-000",
                         lines=[SAMPLE_LINE], settings=settings, notice=SAMPLE_NOTICE)


# ---- rendering ------------------------------------------------------------------------------

def html_of(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    inner = "\n".join("<p>" + str(escape(p)).replace("\n", "<br>\n") + "</p>"
                      for p in paragraphs)
    return ('<!doctype html><html lang="pt-BR"><head><meta charset="utf-8"></head>'
            f'<body style="font-family: Arial, sans-serif; font-size: 15px">{inner}</body></html>')


def render(source: TemplateSource, context: dict[str, Any]) -> Rendered:
    """Render a template (raises jinja2.TemplateError on a broken one)."""
    body = _env.from_string(source.body).render(context).strip()
    body = re.sub(r"\n{3,}", "\n\n", body)
    subject = None
    if source.subject is not None:
        subject = " ".join(_env.from_string(source.subject).render(context).split())
    params = None
    if source.params is not None:
        params = [str(_env.compile_expression(expr, undefined_to_none=False)(**context))
                  for expr in source.params]
    html = html_of(body) if source.channel is Channel.EMAIL else None
    return Rendered(subject, body, html, params)


# ---- the rules ------------------------------------------------------------------------------

def fold(text: str) -> str:
    """Lower case without accents, so 'POLÍCIA' and 'policia' match 'polícia'."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@cache
def forbidden_wording() -> tuple[str, ...]:
    lines = (HERE / "forbidden_wording.txt").read_text(encoding="utf-8").splitlines()
    return tuple(s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#"))


def forbidden_found(*texts: str) -> list[str]:
    """The listed expressions present in any of `texts`, as the list spells them."""
    folded = " ".join(fold(t) for t in texts)
    found = []
    for phrase in forbidden_wording():
        pattern = r"(?<!\w)" + r"\s+".join(map(re.escape, fold(phrase).split())) + r"(?!\w)"
        if re.search(pattern, folded):
            found.append(phrase)
    return found


def identification_missing(text: str, context: dict[str, Any]) -> list[str]:
    """What CDC art. 42-A requires that `text` (a rendering for `context`) does not show."""
    required = {
        "nome do credor": context["credor"]["nome"], "CNPJ do credor": context["credor"]["cnpj"],
        "endereço do credor": context["credor"]["endereco"],
        "nome da assessoria": context["assessoria"]["nome"],
        "CNPJ da assessoria": context["assessoria"]["cnpj"],
    }
    squashed = " ".join(text.split())
    return [label for label, value in required.items()
            if not value or " ".join(str(value).split()) not in squashed]


def _itemisation_missing(text: str) -> list[str]:
    squashed = " ".join(text.split())
    amounts = {"valor original": SAMPLE_LINE.original,
               **{BUCKET_LABELS[b]: SAMPLE_LINE.balances[b] for b in ADDITIONS}}
    return [label for label, value in amounts.items() if brl(value) not in squashed]


def check(source: TemplateSource, settings: Settings) -> None:
    """Refuse a template that breaks a rule, naming the field and what is wrong."""
    errors: dict[str, str] = {}
    if not source.body.strip():
        raise ValidationFailed({"body": "o modelo não pode ficar vazio"})
    if len(source.body) > MAX_BODY:
        raise ValidationFailed({"body": f"o modelo passa de {MAX_BODY} caracteres"})
    if source.channel is Channel.EMAIL and not (source.subject or "").strip():
        raise ValidationFailed({"subject": "o e-mail precisa de um assunto"})
    if source.channel is Channel.WHATSAPP and not source.params:
        raise ValidationFailed({"params": "informe os parâmetros do modelo aprovado na Meta"})
    try:
        sp = render(source, sample_context(settings, "SP"))
        elsewhere = render(source, sample_context(settings, "MG"))
    except TemplateError as exc:
        raise ValidationFailed({"body": f"o modelo não pôde ser lido: {exc.message}"}) from None
    shown = f"{sp.subject or ''}\n{sp.body}"
    words = forbidden_found(source.subject or "", source.body, shown, elsewhere.body,
                            *(sp.params or []))
    if words:
        quoted = ", ".join(f"“{w}”" for w in words)
        errors["body"] = ("linguagem ameaçadora ou constrangedora não é permitida"
                          f" (CDC arts. 42 e 71): {quoted}")
    for rendering in (sp, elsewhere):
        missing = identification_missing(rendering.body, sample_context(settings))
        if missing:
            errors.setdefault("body", "o modelo deve identificar o credor e a assessoria"
                              f" (CDC art. 42-A); falta: {', '.join(missing)}")
            break
    if "body" not in errors:
        missing = _itemisation_missing(sp.body)
        if missing:
            errors["body"] = ("mensagens a devedores de SP e RJ devem discriminar o valor"
                              " original e cada acréscimo (use {{ discriminacao }}); falta: "
                              + ", ".join(missing))
    if errors:
        raise ValidationFailed(errors)


# ---- the tenant's templates -------------------------------------------------------------------

def _source(row: MessageTemplate) -> TemplateSource:
    return TemplateSource(Channel(row.channel), row.name, row.version, row.subject, row.body,
                          row.params, row.id)


async def active(session: AsyncSession, tenant_id: uuid.UUID, channel: Channel,
                 name: str = DEFAULT_NAME) -> TemplateSource:
    """The tenant's active template of that name, else the platform's default."""
    row = (await session.execute(select(MessageTemplate).where(
        MessageTemplate.tenant_id == tenant_id, MessageTemplate.channel == channel,
        MessageTemplate.name == name, MessageTemplate.active))).scalar_one_or_none()
    if row is not None:
        return _source(row)
    if not has_default(channel, name):
        raise NotFound("modelo de mensagem")
    return default_template(channel, name)


async def list_templates(session: AsyncSession, tenant_id: TenantId) -> list[MessageTemplate]:
    return list((await session.execute(
        select(MessageTemplate).where(MessageTemplate.tenant_id == tenant_id,
                                      MessageTemplate.active)
        .order_by(MessageTemplate.channel, MessageTemplate.name))).scalars())


async def access_template(session: AsyncSession, principal: Principal,
                          template_id: uuid.UUID) -> MessageTemplate:
    row = (await session.execute(select(MessageTemplate).where(
        MessageTemplate.id == template_id))).scalar_one_or_none()
    if row is None or not principal.may_work(row.tenant_id):
        raise NotFound("modelo de mensagem")
    return row


def _name(value: str) -> str:
    name = value.strip().lower()
    if not re.fullmatch(r"[a-z0-9_]{1,100}", name):
        raise ValidationFailed({"name": "use de 1 a 100 letras minúsculas, números ou _"})
    return name


def _channel(value: str) -> Channel:
    try:
        channel = Channel(value)
    except ValueError:
        channel = None
    if channel not in MESSAGE_CHANNELS:
        names = ", ".join(c.value for c in MESSAGE_CHANNELS)
        raise ValidationFailed({"channel": f"canal inválido; use {names}"})
    return channel


async def save(session: AsyncSession, principal: Principal, tenant_id: TenantId, *,
               channel: str, name: str, body: str, subject: str | None = None,
               params: list[str] | None = None, settings: Settings) -> MessageTemplate:
    """Save a new version of a tenant's template (refused if it breaks a rule) and make
    it the active one."""
    chosen = _channel(channel)
    clean_name = _name(name)
    if subject is not None and len(subject) > 300:
        raise ValidationFailed({"subject": "o assunto passa de 300 caracteres"})
    if chosen is not Channel.EMAIL:
        subject = None
    if chosen is not Channel.WHATSAPP:
        params = None
    check(TemplateSource(chosen, clean_name, 0, subject, body, params), settings)
    current = (await session.execute(select(MessageTemplate).where(
        MessageTemplate.tenant_id == tenant_id, MessageTemplate.channel == chosen,
        MessageTemplate.name == clean_name).order_by(MessageTemplate.version.desc())
        .limit(1).with_for_update())).scalar_one_or_none()
    version = 1 if current is None else current.version + 1
    await session.execute(update(MessageTemplate).where(
        MessageTemplate.tenant_id == tenant_id, MessageTemplate.channel == chosen,
        MessageTemplate.name == clean_name, MessageTemplate.active).values(active=False))
    row = MessageTemplate(tenant_id=tenant_id, id=uuid7(), channel=chosen, name=clean_name,
                          version=version, subject=subject, body=body, params=params,
                          active=True,
                          created_by=None if principal.is_system else principal.user_id)
    session.add(row)
    await session.flush()
    await audit.record(session, principal.actor, "message_template.saved", tenant_id=tenant_id,
                       entity="message_template", entity_id=row.id,
                       after={"channel": chosen, "name": clean_name, "version": version})
    return row
