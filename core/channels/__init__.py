"""Channels: e-mail (SMTP), SMS (Zenvia), WhatsApp (Cloud API) and letters (PDF print
files), their templates' rules, and the local sandbox that stands in for the providers.

The cadence engine calls `send(session, OutboundMessage(...))` (now, in its
transaction) or `enqueue(...)` (a `channels.deliver` job after commit); each returns or
leads to one `interaction` per message."""

from core.channels.base import Attachment
from core.channels.service import OutboundMessage, deliver, enqueue, prepare, send

__all__ = ["Attachment", "OutboundMessage", "deliver", "enqueue", "prepare", "send"]
