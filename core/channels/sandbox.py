"""The local sandbox: an SMTP server and an HTTP server that speak Zenvia's and the
WhatsApp Cloud API's published formats, for when no real server or provider is set.

`regua up` starts it (`start`), and tests start their own. Like the real providers it
checks each request against the documented format (a wrong request gets the provider's
kind of error), answers with the provider's response, and posts delivery callbacks to
the app's webhooks (Zenvia's with the subscription header, WhatsApp's signed with the
app secret), retrying while the app does not know the message yet. It stores what it
received in the state folder (`sandbox/`), which the sandbox page reads.

Sandbox conventions, so a demo can show failures: an e-mail to a domain ending in
`.invalid` is refused at RCPT with 550 (a bounce); a phone ending in `0000` is
reported not delivered. `POST /sandbox/reply {"provider", "from", "text"}` makes a
debtor answer (e.g. "SAIR"), delivered to the app as the provider's inbound message.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from core.channels import sms, whatsapp
from core.settings import Settings, get_settings

log = logging.getLogger("regua.sandbox")

SMTP_PROVIDER = "smtp"
WEBHOOK_ZENVIA = "/webhooks/zenvia"
WEBHOOK_WHATSAPP = "/webhooks/whatsapp"
_PHONE = re.compile(r"^[1-9][0-9]{9,14}$")
_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")


def store_dir(settings: Settings) -> Path:
    return settings.state_dir.resolve() / "sandbox"


def _file(root: Path, provider: str, message_id: str) -> Path:
    digest = hashlib.sha256(message_id.encode()).hexdigest()[:40]
    return root / provider / f"{digest}.json"


def save(root: Path, provider: str, message_id: str, record: dict[str, Any]) -> None:
    path = _file(root, provider, message_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps({"provider": provider, "message_id": message_id,
                               "received_at": time.time(), **record}, ensure_ascii=False))
    tmp.replace(path)


def received(settings: Settings, provider: str, message_id: str | None) -> dict[str, Any] | None:
    """What the sandbox received for a provider's message id, if it did."""
    if not message_id:
        return None
    path = _file(store_dir(settings), provider, message_id)
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


# ---- SMTP -----------------------------------------------------------------------------------

class _SmtpHandler:
    def __init__(self, root: Path) -> None:
        self.root = root

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address.lower().rstrip(">").endswith(".invalid"):
            return f"550 5.1.1 <{address}>: caixa postal inexistente"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session,
                          envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        assert isinstance(raw, bytes)
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        text = mail.get_body(("plain",))
        html = mail.get_body(("html",))
        attachments = [{"filename": part.get_filename(), "content_type": part.get_content_type(),
                        "size": len(part.get_payload(decode=True) or b"")}
                       for part in mail.iter_attachments()]
        message_id = str(mail.get("Message-ID", uuid.uuid4().hex))
        save(self.root, SMTP_PROVIDER, message_id, {
            "to": list(envelope.rcpt_tos), "from": envelope.mail_from,
            "subject": str(mail.get("Subject", "")),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
            "attachments": attachments})
        return "250 Message accepted for delivery"


# ---- the providers' HTTP APIs ---------------------------------------------------------------

def zenvia_errors(headers: Any, body: Any) -> list[str]:
    """What a request to Zenvia's `POST /v2/channels/sms/messages` gets wrong."""
    errors = []
    if not headers.get("X-API-TOKEN"):
        errors.append("header X-API-TOKEN ausente")
    if not isinstance(body, dict):
        return [*errors, "o corpo deve ser um objeto JSON"]
    if not isinstance(body.get("from"), str) or not body["from"]:
        errors.append("from: obrigatório")
    if not isinstance(body.get("to"), str) or not _PHONE.match(body["to"]):
        errors.append("to: número com código do país, só dígitos")
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        errors.append("contents: lista com ao menos um conteúdo")
    else:
        for n, content in enumerate(contents):
            if not isinstance(content, dict) or content.get("type") != "text" \
                    or not isinstance(content.get("text"), str) or not content["text"]:
                errors.append(f"contents[{n}]: type 'text' com text não vazio")
    return errors


def whatsapp_errors(headers: Any, body: Any) -> list[str]:
    """What a template message to the Cloud API's `/{phone-number-id}/messages` gets wrong."""
    errors = []
    auth = headers.get("Authorization") or ""
    if not auth.startswith("Bearer ") or len(auth) <= 7:
        errors.append("Authorization: Bearer <token> ausente")
    if not isinstance(body, dict):
        return [*errors, "o corpo deve ser um objeto JSON"]
    if body.get("messaging_product") != "whatsapp":
        errors.append("messaging_product deve ser 'whatsapp'")
    if not isinstance(body.get("to"), str) or not _PHONE.match(body["to"]):
        errors.append("to: número com código do país, só dígitos")
    if body.get("type") != "template":
        errors.append("type: só mensagens de modelo (template) abrem conversa")
        return errors
    template = body.get("template")
    if not isinstance(template, dict):
        return [*errors, "template: obrigatório"]
    if not isinstance(template.get("name"), str) or not _TEMPLATE_NAME.match(template["name"]):
        errors.append("template.name: nome do modelo aprovado")
    language = template.get("language")
    if not isinstance(language, dict) or not isinstance(language.get("code"), str):
        errors.append("template.language.code: obrigatório")
    for component in template.get("components") or []:
        if not isinstance(component, dict) or component.get("type") not in (
                "header", "body", "button"):
            errors.append("template.components: type header, body ou button")
            continue
        for parameter in component.get("parameters") or []:
            if not isinstance(parameter, dict) or parameter.get("type") != "text" \
                    or not isinstance(parameter.get("text"), str) or not parameter["text"]:
                errors.append("template.components.parameters: type 'text' com text não vazio")
    return errors


def _undeliverable(phone: str) -> bool:
    return phone.endswith("0000")


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def zenvia_status_event(message_id: str, phone: str, code: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "timestamp": _now_iso(), "type": "MESSAGE_STATUS",
            "subscriptionId": "sandbox", "channel": "sms", "messageId": message_id,
            "contentIndex": 0,
            "messageStatus": {"timestamp": _now_iso(), "code": code,
                              "description": "Entregue" if code == "DELIVERED" else code,
                              "causes": [] if code != "NOT_DELIVERED" else [
                                  {"channelErrorCode": "5", "reason": "UNREACHABLE",
                                   "details": "número inexistente ou fora de área"}]}}


def zenvia_inbound_event(phone: str, sender: str, text: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "timestamp": _now_iso(), "type": "MESSAGE",
            "subscriptionId": "sandbox", "channel": "sms",
            "message": {"id": str(uuid.uuid4()), "from": phone, "to": sender,
                        "direction": "IN", "channel": "sms",
                        "contents": [{"type": "text", "text": text}]}}


def whatsapp_envelope(phone_number_id: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{
        "id": "sandbox-waba", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5511400000000",
                         "phone_number_id": phone_number_id}, **value}}]}]}


def whatsapp_status_event(phone_number_id: str, message_id: str, phone: str,
                          status: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": message_id, "status": status,
                             "timestamp": str(int(time.time())), "recipient_id": phone}
    if status == "failed":
        entry["errors"] = [{"code": 131026, "title": "Message undeliverable"}]
    return whatsapp_envelope(phone_number_id, {"statuses": [entry]})


def whatsapp_inbound_event(phone_number_id: str, phone: str, text: str) -> dict[str, Any]:
    return whatsapp_envelope(phone_number_id, {
        "contacts": [{"profile": {"name": "Devedor"}, "wa_id": phone}],
        "messages": [{"from": phone, "id": f"wamid.{uuid.uuid4().hex}",
                      "timestamp": str(int(time.time())), "type": "text",
                      "text": {"body": text}}]})


@dataclass
class _Config:
    root: Path
    web_url: str
    zenvia_token: str
    whatsapp_secret: str
    phone_number_id: str
    sender: str


class _Callbacks:
    """Posts provider callbacks to the app, in order, retrying while it is not ready."""

    def __init__(self, config: _Config) -> None:
        self.config = config

    def post(self, path: str, events: list[dict[str, Any]], headers_for: Any) -> None:
        def run() -> None:
            with httpx.Client(timeout=10) as client:
                for event in events:
                    body = json.dumps(event).encode()
                    for attempt in range(10):
                        time.sleep(0.2 * (2 ** min(attempt, 4)))
                        try:
                            answer = client.post(self.config.web_url + path, content=body,
                                                 headers={"Content-Type": "application/json",
                                                          **headers_for(body)})
                        except httpx.HTTPError:
                            continue
                        if answer.status_code < 300:
                            break
        threading.Thread(target=run, name="sandbox-callbacks", daemon=True).start()

    def zenvia(self, events: list[dict[str, Any]]) -> None:
        self.post(WEBHOOK_ZENVIA, events,
                  lambda body: {sms.TOKEN_HEADER: self.config.zenvia_token})

    def whatsapp(self, events: list[dict[str, Any]]) -> None:
        self.post(WEBHOOK_WHATSAPP, events, lambda body: {
            "X-Hub-Signature-256": whatsapp.signature(body, self.config.whatsapp_secret)})


def _handler(config: _Config, callbacks: _Callbacks) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            log.debug("sandbox: " + format, *args)

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _json(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                return json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                return None

        def do_POST(self) -> None:
            body = self._json()
            if self.path == "/zenvia/v2/channels/sms/messages":
                self._zenvia(body)
            elif re.fullmatch(r"/graph/v\d+\.\d+/[^/]+/messages", self.path):
                self._whatsapp(body)
            elif self.path == "/sandbox/reply":
                self._reply_from_debtor(body)
            else:
                self._reply(404, {"error": "rota desconhecida no sandbox"})

        def _zenvia(self, body: Any) -> None:
            errors = zenvia_errors(self.headers, body)
            if "json" not in (self.headers.get("Content-Type") or ""):
                errors.append("Content-Type deve ser application/json")
            if errors:
                self._reply(400, {"code": "VALIDATION_ERROR", "message": "; ".join(errors)})
                return
            message_id = str(uuid.uuid4())
            save(config.root, sms.PROVIDER, message_id, {"to": body["to"], "request": body})
            self._reply(200, {"id": message_id, "from": body["from"], "to": body["to"],
                              "direction": "OUT", "channel": "sms",
                              "contents": body["contents"], "timestamp": _now_iso()})
            final = "NOT_DELIVERED" if _undeliverable(body["to"]) else "DELIVERED"
            callbacks.zenvia([zenvia_status_event(message_id, body["to"], "SENT"),
                              zenvia_status_event(message_id, body["to"], final)])

        def _whatsapp(self, body: Any) -> None:
            errors = whatsapp_errors(self.headers, body)
            if errors:
                self._reply(400, {"error": {"message": "; ".join(errors),
                                            "type": "OAuthException", "code": 100,
                                            "fbtrace_id": uuid.uuid4().hex}})
                return
            message_id = f"wamid.{uuid.uuid4().hex}"
            save(config.root, whatsapp.PROVIDER, message_id, {"to": body["to"], "request": body})
            self._reply(200, {"messaging_product": "whatsapp",
                              "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                              "messages": [{"id": message_id}]})
            statuses = ["sent", "failed"] if _undeliverable(body["to"]) \
                else ["sent", "delivered", "read"]
            callbacks.whatsapp([whatsapp_status_event(config.phone_number_id, message_id,
                                                      body["to"], s) for s in statuses])

        def _reply_from_debtor(self, body: Any) -> None:
            if not isinstance(body, dict) or body.get("provider") not in ("zenvia", "whatsapp") \
                    or not isinstance(body.get("from"), str) or not body.get("text"):
                self._reply(400, {"error": "informe provider, from e text"})
                return
            phone = body["from"].lstrip("+")
            if body["provider"] == "zenvia":
                callbacks.zenvia([zenvia_inbound_event(phone, config.sender, body["text"])])
            else:
                callbacks.whatsapp([whatsapp_inbound_event(config.phone_number_id, phone,
                                                           body["text"])])
            self._reply(202, {"ok": True})

    return Handler


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Sandbox:
    """The running sandbox servers; `stop()` ends them."""

    def __init__(self, settings: Settings, web_url: str) -> None:
        self.root = store_dir(settings)
        self.root.mkdir(parents=True, exist_ok=True)
        self.config = _Config(self.root, web_url.rstrip("/"),
                              settings.resolved_zenvia_webhook_token(),
                              settings.resolved_whatsapp_app_secret(),
                              settings.whatsapp_phone_number_id, settings.zenvia_sender)
        self.smtp: Controller | None = None
        self.http: ThreadingHTTPServer | None = None
        self.url: str | None = None
        self.smtp_port: int | None = None

    def start_smtp(self) -> int:
        port = _free_port()
        self.smtp = Controller(_SmtpHandler(self.root), hostname="127.0.0.1", port=port)
        self.smtp.start()
        self.smtp_port = port
        return port

    def start_http(self) -> str:
        self.http = ThreadingHTTPServer(("127.0.0.1", 0),
                                        _handler(self.config, _Callbacks(self.config)))
        threading.Thread(target=self.http.serve_forever, name="sandbox-http",
                         daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self.smtp is not None:
            self.smtp.stop()
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()


def start(settings: Settings, web_url: str) -> Sandbox | None:
    """Start what the unconfigured channels need, and point this process's settings
    (and its children's) at it. None when every channel has a real server."""
    need_http = settings.sms_sandboxed or settings.whatsapp_sandboxed
    if not settings.email_sandboxed and not need_http:
        return None
    sandbox = Sandbox(settings, web_url)
    published: dict[str, str] = {}
    if settings.email_sandboxed:
        published["REGUA_SANDBOX_SMTP_PORT"] = str(sandbox.start_smtp())
        log.info("e-mail: local SMTP sandbox on 127.0.0.1:%s (set REGUA_SMTP_HOST to send"
                 " for real)", sandbox.smtp_port)
    if need_http:
        published["REGUA_SANDBOX_URL"] = sandbox.start_http()
        log.info("SMS/WhatsApp: local provider sandbox at %s (set REGUA_ZENVIA_API_TOKEN /"
                 " REGUA_WHATSAPP_ACCESS_TOKEN to send for real)", sandbox.url)
    os.environ.update(published)
    get_settings.cache_clear()
    return sandbox


def start_for_port(settings: Settings, port: int) -> Sandbox | None:
    """`regua up`'s sandbox, posting callbacks to the web app on `port`."""
    return start(settings, settings.public_url or f"http://{settings.host}:{port}")
