"""Waiting for the jobs a test sent, on the session's stub broker and worker."""

from __future__ import annotations

from dramatiq.brokers.stub import StubBroker
from dramatiq.common import join_queue


def join_sent(broker: StubBroker, queue_name: str, timeout_ms: int) -> None:
    """Wait until the jobs sent to `queue_name` without a delay have run. Unlike
    `broker.join`, not for delayed ones: an SMS an earlier test scheduled for when the
    debtor's window opens (Monday 08:00, on a Saturday evening) would hold it till then."""
    join_queue(broker.queues[queue_name], timeout=timeout_ms / 1000)  # type: ignore[no-untyped-call]
