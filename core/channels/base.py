"""What every channel adapter takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.models import DispatchStatus


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Outgoing:
    """A rendered message, ready for its channel's provider."""

    recipient: str
    body: str
    subject: str | None = None
    html: str | None = None
    template_name: str = ""
    params: list[str] | None = None
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Delivery:
    """What the provider answered: sent (or bounced, failed) with its id or a reason."""

    status: DispatchStatus
    provider_message_id: str | None
    reason: str | None


@dataclass(frozen=True)
class Notice:
    """What a service tells a debtor besides the debts (an answer to a negotiation): the
    `aviso` of the template context, which the platform's `aviso` templates show."""

    title: str
    text: str  # the e-mail's paragraph
    short: str  # the SMS's sentence
    link: str = ""
