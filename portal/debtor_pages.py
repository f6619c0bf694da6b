"""Pages of the debtor file: the search ("Devedores") and the file with its forms.

Each handler parses the form, calls one service of `core.debtors`, and renders or
redirects; the rules (who may act, what is masked, what a hold does) live there.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from core.auth.principal import Principal
from core.auth.roles import ALL_ROLES
from core.auth.web import requires
from core.collection.contacts import OPT_OUT_SOURCES
from core.collection.holds import MANUAL_KINDS
from core.debtors import actions, file, search
from core.debtors.schemas import DebtorFile, SearchPage
from core.errors import DomainError, Forbidden, NotFound
from core.models import Bucket, ContactQuality
from core.models.activity import HOLD_LABELS
from core.models.collection import CONTACT_QUALITY_LABELS
from core.models.ledger import BUCKET_LABELS
from portal.pages import page

Req = Request[Principal, str, Any]
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
READERS = requires(*ALL_ROLES)
ACTORS = requires(*file.ACTING_ROLES)

# What the contact point form offers: what staff learn on a call or from the debtor.
QUALITY_CHOICES = [(q, CONTACT_QUALITY_LABELS[q]) for q in (
    ContactQuality.WRONG_PARTY, ContactQuality.INVALID, ContactQuality.GOOD,
    ContactQuality.UNVERIFIED)]
DONE = {"nota": "Anotação registrada.", "bloqueio": "Bloqueio registrado: a cobrança está"
        " suspensa.", "desbloqueio": "Bloqueio encerrado: a cobrança pode ser retomada.",
        "qualidade": "Qualidade do contato atualizada.", "optout": "Canal bloqueado para o"
        " contato.", "optin": "Canal liberado para o contato."}


def _missing(exc: NotFound) -> NotFoundException:
    return NotFoundException(detail=str(exc.detail))


@get("/devedores", guards=[READERS])
async def search_page(request: Req, q: FromQuery[str] = "",
                      pagina: FromQuery[int] = 1) -> Template:
    error = None
    try:
        found = await search.search(request.user, q, pagina)
    except DomainError as exc:
        error = exc.detail.get("q") if isinstance(exc.detail, dict) else exc.detail
        found = SearchPage(query=q, page=1, page_size=search.PAGE_SIZE, has_more=False,
                           items=[])
    return page(request, "debtors.html", found=found, q=q, error=error,
                show_tenant=request.user.role.is_agency)


def _file_page(request: Req, debtor: DebtorFile, status_code: int = 200,
               form: str | None = None, values: dict[str, str] | None = None,
               errors: dict[str, str] | None = None) -> Template:
    # Columns only for the buckets some debt has: most files hold principal alone.
    buckets = [b for b in Bucket if any(d.buckets[b.value] for d in debtor.debts)]
    return page(request, "debtor.html", status_code=status_code, f=debtor,
                show_tenant=request.user.role.is_agency, buckets=buckets or [Bucket.PRINCIPAL],
                bucket_labels=BUCKET_LABELS, hold_kinds=[(k, HOLD_LABELS[k]) for k in MANUAL_KINDS],
                qualities=QUALITY_CHOICES, opt_out_sources=OPT_OUT_SOURCES,
                done=DONE.get(request.query_params.get("feito", "")),
                form=form, values=values or {}, errors=errors or {})


@get("/devedores/{debtor_id:uuid}", guards=[READERS])
async def file_page(request: Req, debtor_id: FromPath[uuid.UUID]) -> Template:
    try:
        debtor = await file.debtor_file(request.user, debtor_id)
    except NotFound as exc:
        raise _missing(exc) from None
    return _file_page(request, debtor)


async def _act(request: Req, debtor_id: uuid.UUID, form: str, values: dict[str, str],
               done: str, action: Any, *args: Any, anchor: str = "") -> Template | Redirect:
    """Run one action; back to the file with a message, or the file with the errors."""
    try:
        await action(request.user, debtor_id, *args)
    except NotFound as exc:
        raise _missing(exc) from None
    except Forbidden as exc:
        raise PermissionDeniedException(detail=str(exc.detail)) from None
    except DomainError as exc:
        errors = exc.detail if isinstance(exc.detail, dict) else {"_": exc.detail}
        debtor = await file.debtor_file(request.user, debtor_id)
        return _file_page(request, debtor, exc.status_code, form, values, errors)
    return Redirect(f"/devedores/{debtor_id}?feito={done}{anchor}")


@post("/devedores/{debtor_id:uuid}/anotacoes", guards=[ACTORS])
async def add_note(request: Req, debtor_id: FromPath[uuid.UUID], data: Form) -> Template | Redirect:
    return await _act(request, debtor_id, "note", data, "nota", actions.add_note,
                      data.get("body"), anchor="#historico")


@post("/devedores/{debtor_id:uuid}/bloqueios", guards=[ACTORS])
async def set_hold(request: Req, debtor_id: FromPath[uuid.UUID], data: Form) -> Template | Redirect:
    raw = data.get("debt_id") or ""
    try:
        debt_id = uuid.UUID(raw) if raw else None
    except ValueError:
        raise NotFoundException(detail="título não encontrado") from None
    return await _act(request, debtor_id, "hold", data, "bloqueio", actions.set_hold,
                      data.get("kind"), data.get("reason"), debt_id, anchor="#bloqueios")


@post("/devedores/{debtor_id:uuid}/bloqueios/{hold_id:uuid}/encerrar", guards=[ACTORS])
async def end_hold(request: Req, debtor_id: FromPath[uuid.UUID], hold_id: FromPath[uuid.UUID],
                   data: Form) -> Template | Redirect:
    return await _act(request, debtor_id, f"end-{hold_id}", data, "desbloqueio",
                      actions.end_hold, hold_id, data.get("reason"), anchor="#bloqueios")


@post("/devedores/{debtor_id:uuid}/contatos/{contact_id:uuid}/qualidade", guards=[ACTORS])
async def set_quality(request: Req, debtor_id: FromPath[uuid.UUID],
                      contact_id: FromPath[uuid.UUID], data: Form) -> Template | Redirect:
    return await _act(request, debtor_id, f"contact-{contact_id}", data, "qualidade",
                      actions.set_quality, contact_id, data.get("quality"),
                      anchor="#contatos")


@post("/devedores/{debtor_id:uuid}/contatos/{contact_id:uuid}/bloquear", guards=[ACTORS])
async def opt_out(request: Req, debtor_id: FromPath[uuid.UUID],
                  contact_id: FromPath[uuid.UUID], data: Form) -> Template | Redirect:
    return await _act(request, debtor_id, f"contact-{contact_id}", data, "optout",
                      actions.opt_out, contact_id, data.get("channel"),
                      data.get("source") or "debtor", data.get("note"), anchor="#contatos")


@post("/devedores/{debtor_id:uuid}/contatos/{contact_id:uuid}/liberar", guards=[ACTORS])
async def revoke_opt_out(request: Req, debtor_id: FromPath[uuid.UUID],
                         contact_id: FromPath[uuid.UUID], data: Form) -> Template | Redirect:
    return await _act(request, debtor_id, f"contact-{contact_id}", data, "optin",
                      actions.revoke_opt_out, contact_id, data.get("channel"),
                      anchor="#contatos")


handlers = [search_page, file_page, add_note, set_hold, end_hold, set_quality, opt_out,
            revoke_opt_out]
