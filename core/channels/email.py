"""E-mail over SMTP: a text and an HTML part, attachments, and the server's answer.

smtplib runs in a thread: the standard library's client is the reference for SMTP, and
a send is one short conversation. A permanent refusal of the recipient (5xx on RCPT)
is a bounce; a 4xx or a lost connection is a failure worth retrying later. Bounces
reported afterwards by a delivery-status e-mail are not read here (no mailbox yet)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from core.channels.base import Delivery, Outgoing
from core.models import DispatchStatus
from core.settings import Settings


def build(message: Outgoing, settings: Settings) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = formataddr((settings.agency_name, settings.smtp_sender))
    mail["To"] = message.recipient
    mail["Subject"] = message.subject or ""
    mail["Message-ID"] = make_msgid(domain=settings.smtp_sender.rpartition("@")[2] or None)
    mail.set_content(message.body)
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        mail.add_attachment(attachment.data, maintype=maintype, subtype=subtype or "octet-stream",
                            filename=attachment.filename)
    return mail


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _send(mail: EmailMessage, host: str, port: int, settings: Settings) -> Delivery:
    message_id = str(mail["Message-ID"])
    client: smtplib.SMTP
    try:
        if settings.smtp_tls == "ssl" and settings.smtp_host is not None:
            client = smtplib.SMTP_SSL(host, port, timeout=30,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port, timeout=30)
        with client:
            if settings.smtp_tls == "starttls" and settings.smtp_host is not None:
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_user and settings.smtp_password is not None:
                client.login(settings.smtp_user, settings.smtp_password.get_secret_value())
            client.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        code, answer = next(iter(exc.recipients.values()))
        reason = f"{code} {_text(answer)}"
        status = DispatchStatus.BOUNCED if 500 <= code < 600 else DispatchStatus.FAILED
        return Delivery(status, message_id, reason[:500])
    except smtplib.SMTPResponseException as exc:
        error = _text(exc.smtp_error)
        return Delivery(DispatchStatus.FAILED, message_id, f"{exc.smtp_code} {error}"[:500])
    except (OSError, smtplib.SMTPException) as exc:
        return Delivery(DispatchStatus.FAILED, message_id,
                        f"servidor de e-mail indisponível: {exc}"[:500])
    return Delivery(DispatchStatus.SENT, message_id, None)


async def send(message: Outgoing, settings: Settings) -> Delivery:
    if settings.smtp_host is not None:
        host, port = settings.smtp_host, settings.smtp_port
    elif settings.sandbox_smtp_port is not None:
        host, port = "127.0.0.1", settings.sandbox_smtp_port
    else:
        return Delivery(DispatchStatus.FAILED, None,
                        "nenhum servidor de e-mail configurado (REGUA_SMTP_HOST)")
    return await asyncio.to_thread(_send, build(message, settings), host, port, settings)
