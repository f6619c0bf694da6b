"""Waiting for the jobs a test sent, on the session's stub broker and worker."""

from __future__ import annotations

import asyncio
import time

from dramatiq.brokers.stub import StubBroker


async def drain(broker: StubBroker, queue_name: str = "default", seconds: float = 60) -> None:
    """Wait until the worker has done every job of `queue_name` due now. Unlike
    `broker.join`, not the delayed ones: an SMS an earlier test scheduled for when the
    debtor's window opens (Monday 08:00, on a Saturday evening) would hold it till then.
    Asynchronous, so the test's event loop goes on serving while it waits."""
    queue = broker.queues[queue_name]
    deadline = time.monotonic() + seconds
    while queue.unfinished_tasks:
        assert time.monotonic() < deadline, "the worker did not finish the queued jobs"
        await asyncio.sleep(0.05)
