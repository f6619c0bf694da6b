"""The tenant's contact policy page: its own hours per channel and day, its caps per
channel per day and week, its quiet days. They only narrow the agency's rules; the
service (`core.compliance.policy`) validates, stores and audits.

The form speaks as people write: a day's hours "09:00-18:00", "fechado" for a day with
no contact, empty for a day left as the rules say; dates as DD/MM/AAAA, one a line.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from core.auth.principal import Principal
from core.auth.web import requires
from core.compliance import policy
from core.errors import NotFound, ValidationFailed
from core.models import CHANNEL_LABELS, Channel
from portal.cadence_pages import _chosen, _tenants
from portal.pages import page

Req = Request[Principal, str, Any]
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
EDITORS = requires(*policy.SETTERS)

CLOSED = "fechado"
# (field name, policy key, label): "*" is no field name.
ROWS = [("all", policy.ALL_CHANNELS, "Todos os canais")] + [
    (c.value, c.value, CHANNEL_LABELS[c][0].upper() + CHANNEL_LABELS[c][1:]) for c in Channel]
WEEKDAYS = policy.DAY_KEYS[:5]
DAYS = list(zip(policy.DAY_KEYS, ("Seg", "Ter", "Qua", "Qui", "Sex", "Sáb", "Dom"), strict=True))
KINDS = [("attempts_day", "Tentativas por dia"), ("attempts_week", "Tentativas por semana"),
         ("answered_day", "Atendidas por dia"), ("answered_week", "Atendidas por semana")]


def _field(error_key: str) -> str:
    """The form field a service error names (windows.*.mon → w_all_mon, caps.sms.x →
    c_sms_x, quiet_days.2 → quiet_days)."""
    parts = error_key.split(".")
    if parts[0] == "windows" and len(parts) >= 2:
        name = "all" if parts[1] == policy.ALL_CHANNELS else parts[1]
        return f"w_{name}_{parts[2]}" if len(parts) == 3 else f"w_{name}_mon"
    if parts[0] == "caps" and len(parts) == 3:
        return f"c_{parts[1]}_{parts[2]}"
    return parts[0]


def _form_of(stored: dict[str, Any] | None) -> dict[str, str]:
    """The stored policy as the form's fields."""
    values: dict[str, str] = {}
    stored = stored or {}
    for name, key, _ in ROWS:
        days = (stored.get("windows") or {}).get(key) or {}
        for day, _label in DAYS:
            if day in days:
                value = days[day]
            elif day in WEEKDAYS and "weekdays" in days:
                value = days["weekdays"]
            else:
                continue
            values[f"w_{name}_{day}"] = CLOSED if value is None else str(value)
    for channel, kinds in (stored.get("caps") or {}).items():
        for kind, limit in kinds.items():
            values[f"c_{channel}_{kind}"] = str(limit)
    values["quiet_days"] = "\n".join(dt.date.fromisoformat(d).strftime("%d/%m/%Y")
                                     for d in sorted(stored.get("quiet_days") or []))
    return values


def _raw_of(form: dict[str, str]) -> dict[str, Any] | None:
    """The form as a policy for the service; ValidationFailed names the field."""
    errors: dict[str, str] = {}
    windows: dict[str, dict[str, str | None]] = {}
    for name, key, _ in ROWS:
        for day, _label in DAYS:
            value = (form.get(f"w_{name}_{day}") or "").strip()
            if value:
                windows.setdefault(key, {})[day] = None if value.lower() == CLOSED else value
    caps: dict[str, dict[str, int]] = {}
    for channel in Channel:
        for kind, _label in KINDS:
            field = f"c_{channel.value}_{kind}"
            value = (form.get(field) or "").strip()
            if not value:
                continue
            if not value.isdigit():
                errors[field] = "informe um número inteiro, 0 ou mais, ou deixe vazio"
                continue
            caps.setdefault(channel.value, {})[kind] = int(value)
    quiet: list[str] = []
    for n, line in enumerate((form.get("quiet_days") or "").splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        try:
            quiet.append(dt.datetime.strptime(text, "%d/%m/%Y").date().isoformat())
        except ValueError:
            errors["quiet_days"] = f"linha {n}: data inválida “{text}”; use DD/MM/AAAA"
            break
    if errors:
        raise ValidationFailed(errors)
    raw: dict[str, Any] = {}
    if windows:
        raw["windows"] = windows
    if caps:
        raw["caps"] = caps
    if quiet:
        raw["quiet_days"] = sorted(set(quiet))
    return raw or None


FIELD_LABELS = {
    **{f"w_{name}_{day}": f"Horário, {label.lower() if name == 'all' else label}, {short.lower()}"
       for name, _, label in ROWS for day, short in DAYS},
    **{f"c_{name}_{kind}": f"Limite, {label}, {what.lower()}"
       for name, _, label in ROWS[1:] for kind, what in KINDS},
    "quiet_days": "Dias sem contato", "contact_policy": "Política",
}


def _render(request: Req, tenants: list[Any], tenant: Any, shown: policy.PolicyView,
            form: dict[str, str], errors: dict[str, str], done: bool,
            status_code: int = 200) -> Template:
    return page(request, "contact_policy.html", status_code=status_code, tenants=tenants,
                tenant=tenant, view=shown, form=form, errors=errors, done=done, rows=ROWS,
                days=DAYS, kinds=KINDS, closed=CLOSED, channel_rows=ROWS[1:],
                field_labels=FIELD_LABELS)


@get("/politica-de-contato", guards=[EDITORS])
async def policy_page(request: Req, credor: FromQuery[str | None] = None,
                      salvo: FromQuery[str | None] = None) -> Template:
    tenants = await _tenants(request.user)
    tenant = _chosen(tenants, credor)
    shown = await policy.view(request.user, tenant.id)
    return _render(request, tenants, tenant, shown, _form_of(shown.stored), {}, bool(salvo))


@post("/politica-de-contato/{tenant_id:uuid}", guards=[EDITORS])
async def policy_save(request: Req, tenant_id: FromPath[uuid.UUID],
                      data: Form) -> Template | Redirect:
    try:
        await policy.save(request.user, tenant_id, _raw_of(data))
    except NotFound:
        raise
    except ValidationFailed as exc:
        detail = exc.detail if isinstance(exc.detail, dict) else {"_": str(exc.detail)}
        errors = {_field(k): v for k, v in detail.items()}
        tenants = await _tenants(request.user)
        shown = await policy.view(request.user, tenant_id)
        return _render(request, tenants, _chosen(tenants, str(tenant_id)), shown, data,
                       errors, False, status_code=422)
    return Redirect(f"/politica-de-contato?credor={tenant_id}&salvo=1")


handlers = [policy_page, policy_save]
