"""`regua dialer`: the coordinator and its line workers until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from urllib.parse import urlsplit

from core.settings import Settings
from dialer.engine.coordinator import Coordinator, EngineConfig
from dialer.engine.demo import DemoPeers

log = logging.getLogger("regua.dialer")


async def run(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    peers: DemoPeers | None = None
    if settings.sip_trunk_uri:
        config = EngineConfig.from_settings(settings)
        log.info("dialer: SIP trunk %s", urlsplit(settings.sip_trunk_uri).netloc)
    else:
        peers = DemoPeers(settings.dialer_workers, settings.state_dir.resolve(),
                          sip_port=settings.dialer_demo_port,
                          # after the line workers' ranges
                          rtp_port=settings.dialer_rtp_port + 40 * settings.dialer_workers)
        trunks = peers.start()
        config = EngineConfig.from_settings(settings, trunk=trunks[0])
        config.trunks = trunks
        log.info("dialer: demo mode, built-in SIP peers on loopback (%s...)", trunks[0])
    coordinator = Coordinator(config)
    try:
        await coordinator.run(stop)
    finally:
        if peers is not None:
            peers.stop()
        from core.runtime import get_db

        await get_db().dispose()
